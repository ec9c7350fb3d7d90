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
from ansible_collections.patchwise.openssl.plugins.filter import openssl_cves as plugin

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


def run_examples(examples: str, tmp_path: Path) -> list:
    """Run a plugin's EXAMPLES as a localhost play; return the task results (json callback)."""
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    tree.mkdir(parents=True)
    (tree / "openssl").symlink_to(REPO)
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
        [
            str(PLAYBOOK_BIN),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    return [task["hosts"]["localhost"] for task in result["plays"][0]["tasks"]]


def test_heartbleed():
    records = plugin.openssl_cves("1.0.1f")
    assert "CVE-2014-0160" in [r["id"] for r in records]
    heartbleed = next(r for r in records if r["id"] == "CVE-2014-0160")
    assert heartbleed["matched_range"]["fixed"] == "1.0.1g"
    assert heartbleed["severity"] is None  # unrated before October 2014


def test_results_are_copies():
    first = plugin.openssl_cves("1.0.1f")
    first[0]["severity"] = "changed"
    first[0]["matched_range"]["fixed"] = "changed"
    again = plugin.openssl_cves("1.0.1f")
    assert again[0]["severity"] != "changed"
    assert again[0]["matched_range"]["fixed"] != "changed"


def test_min_severity():
    everything = plugin.openssl_cves("3.0.0")
    high = plugin.openssl_cves("3.0.0", min_severity="high", include_unrated=False)
    assert high and len(high) < len(everything)
    assert {r["severity"] for r in high} <= {"high", "critical"}
    # 1.0.1a: many unrated records (before Oct 2014); kept by default, dropped on request
    kept = plugin.openssl_cves("1.0.1a", min_severity="critical")
    dropped = plugin.openssl_cves("1.0.1a", min_severity="critical", include_unrated=False)
    assert any(r["severity"] is None for r in kept)
    assert all(r["severity"] == "critical" for r in dropped)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("banana",), "not an OpenSSL version"),
        (("3.0.0", "/nonexistent/db.json"), "not found"),
        ((None,), "not a version string"),
    ],
)
def test_errors_are_filter_errors(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plugin.openssl_cves(*args)


def test_bad_min_severity():
    with pytest.raises(AnsibleFilterError, match="min_severity"):
        plugin.openssl_cves("3.0.0", min_severity="severe")


def test_filter_module_registers_the_filter():
    assert plugin.FilterModule().filters() == {"openssl_cves": plugin.openssl_cves}


def test_documentation_parses():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "openssl_cves"
    assert set(doc["options"]) == {"_input", "db_path", "min_severity", "include_unrated"}
    assert "_value" in yaml.safe_load(plugin.RETURN)


@pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not installed")
def test_examples_run(tmp_path):
    results = run_examples(plugin.EXAMPLES, tmp_path)
    assert "CVE-2014-0160" in results[0]["msg"]
    assert results[1]["msg"] and all(v is None or v.startswith("3.0.") for v in results[1]["msg"])
    assert results[2].get("failed") is not True
