# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters awx_rollout_workflow and awx_rollout_decision: examples run, errors are clear."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import awx_rollout_decision as decision
from ansible_collections.patchwise.openssl.plugins.filter import awx_rollout_workflow as workflow


@pytest.mark.parametrize("plugin", [workflow, decision], ids=lambda p: p.__name__.split(".")[-1])
def test_examples_pass(plugin, run_examples):
    results = run_examples(plugin.EXAMPLES)
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
