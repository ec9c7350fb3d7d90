# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters awx_rollout_workflow and awx_rollout_decision: examples run, errors are clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import awx_rollout_decision as decision
from ansible_collections.patchwise.openssl.plugins.filter import awx_rollout_workflow as workflow

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


def run_examples(examples: str, tmp_path: Path) -> list:
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


@pytest.mark.parametrize("plugin", [workflow, decision], ids=lambda p: p.__name__.split(".")[-1])
def test_examples_pass(plugin, tmp_path):
    results = run_examples(plugin.EXAMPLES, tmp_path)
    assert results
    for result in results:
        assert result.get("failed") is not True
        assert result["msg"] == "All assertions passed"


def test_workflow_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="awx_rollout_workflow: phases"):
        workflow.awx_rollout_workflow([], {})


def test_decision_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="awx_rollout_decision: min_severity"):
        decision.awx_rollout_decision([], min_severity="urgent")
    with pytest.raises(AnsibleFilterError, match="list of summaries"):
        decision.awx_rollout_decision("text")


def test_decision_accepts_one_summary():
    one = {"hosts_assessed": 1, "severity_counts": {"vulnerable": {"low": 1}}}
    assert decision.awx_rollout_decision(one, min_severity="low")["launch"] is True


def test_filters_are_registered():
    assert "awx_rollout_workflow" in workflow.FilterModule().filters()
    assert "awx_rollout_decision" in decision.FilterModule().filters()
