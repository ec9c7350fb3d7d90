# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import argument_spec_to_survey as plugin

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")
WEBAPP_SPEC = {
    "argument_specs": {
        "main": {
            "short_description": "Deploy the web app",
            "options": {
                "webapp_version": {"type": "str", "required": True, "description": "Version."},
                "webapp_workers": {"type": "int", "default": 4},
                "webapp_secret_key": {"type": "str", "no_log": True},
                "webapp_env": {"type": "dict", "default": {}},
            },
        }
    }
}


def run_examples(examples: str, tmp_path: Path) -> list:
    """Run EXAMPLES as a localhost play next to a role 'webapp'; return the task results."""
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    tree.mkdir(parents=True)
    (tree / "openssl").symlink_to(REPO)
    meta = tmp_path / "roles" / "webapp" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(yaml.safe_dump(WEBAPP_SPEC))
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": yaml.safe_load(examples)}]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    proc = subprocess.run(
        [str(PLAYBOOK_BIN), "-i", "localhost,", "-c", "local", str(playbook)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    return [task["hosts"]["localhost"] for task in result["plays"][0]["tasks"]]


def test_examples_run(tmp_path):
    results = run_examples(plugin.EXAMPLES, tmp_path)
    survey = results[0]["msg"]
    assert survey["name"] == "Deploy the web app"
    assert [q["variable"] for q in survey["spec"]] == ["webapp_version", "webapp_workers"]
    assert survey["spec"][0]["required"] is True
    assert survey["spec"][1] == {
        "question_name": "Workers",
        "question_description": "",
        "variable": "webapp_workers",
        "required": False,
        "type": "integer",
        "default": 4,
    }
    assert results[1].get("failed") is not True
    assert results[1]["msg"] == "All assertions passed"


def test_survey_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match=r"argument_spec_to_survey: .*webapp_env"):
        plugin.argument_spec_to_survey(WEBAPP_SPEC, include=["webapp_env"])
    with pytest.raises(AnsibleFilterError, match="entry point 'other'"):
        plugin.argument_spec_to_survey(WEBAPP_SPEC, entry_point="other")


def test_filter_passes_options_through():
    survey = plugin.argument_spec_to_survey(
        WEBAPP_SPEC, name="N", description="D", exclude=["webapp_workers"]
    )
    assert survey["name"] == "N"
    assert survey["description"] == "D"
    assert [q["variable"] for q in survey["spec"]] == ["webapp_version", "webapp_secret_key"]
    assert survey["spec"][1]["type"] == "password"


def test_filter_is_registered():
    assert plugin.FilterModule().filters() == {
        "argument_spec_to_survey": plugin.argument_spec_to_survey
    }
