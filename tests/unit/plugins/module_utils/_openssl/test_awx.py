# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout workflow graph and unattended-mode decision."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import awx
from hypothesis import given, settings
from hypothesis import strategies as st

TEMPLATES = {
    "open": "Open run",
    "assess": "Assess",
    "rollback": "Rollback",
    "halt": "Halt",
    "phases": {"staging": "Staging", "canary": "Canary", "production": "Production"},
}
PHASES = ["staging", "canary", "production"]
APPROVAL = {"name": "Approve", "description": "Look at the summary", "timeout": 3600}


def nodes_by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["identifier"]: n for n in nodes}


def reachable(nodes: list[dict[str, Any]], start: str, kinds: tuple[str, ...]) -> list[str]:
    """Nodes reachable from start over edges of the given kinds, in visiting order."""
    edges = awx.workflow_edges(nodes)
    seen, todo = [], [start]
    while todo:
        node = todo.pop(0)
        if node in seen:
            continue
        seen.append(node)
        todo.extend(child for parent, kind, child in edges if parent == node and kind in kinds)
    return seen


# -- workflow graph ---------------------------------------------------------------------------


def test_happy_path_is_open_assess_approval_then_phases_in_order():
    nodes = awx.rollout_workflow_nodes(PHASES, TEMPLATES, "Ops", APPROVAL)
    assert reachable(nodes, "open", ("success",)) == [
        "open",
        "assess",
        "approval",
        "phase-staging",
        "phase-canary",
        "phase-production",
    ]
    by_id = nodes_by_id(nodes)
    assert by_id["approval"]["unified_job_template"] == {
        "name": "Approve",
        "type": "workflow_approval",
        "description": "Look at the summary",
        "timeout": 3600,
    }
    assert by_id["phase-canary"]["unified_job_template"] == {
        "name": "Canary",
        "type": "job_template",
        "organization": {"name": "Ops"},
    }


def test_every_phase_fails_into_its_own_rollback_then_halt():
    nodes = awx.rollout_workflow_nodes(PHASES, TEMPLATES, approval=APPROVAL)
    by_id = nodes_by_id(nodes)
    edges = awx.workflow_edges(nodes)
    for phase in PHASES:
        assert ("phase-" + phase, "failure", "rollback-" + phase) in edges
        assert ("rollback-" + phase, "always", "halt-" + phase) in edges
        assert by_id["rollback-" + phase]["limit"] == phase
        assert by_id["rollback-" + phase]["unified_job_template"]["name"] == "Rollback"
        assert by_id["halt-" + phase]["extra_data"] == {"awx_run_halted_phase": phase}
        # a halt node is a leaf: it ends the workflow (as failed)
        assert not [e for e in edges if e[0] == "halt-" + phase]
    # a failed phase never reaches a later phase
    for index, phase in enumerate(PHASES):
        after_failure = reachable(nodes, "rollback-" + phase, ("success", "failure", "always"))
        assert not {f"phase-{p}" for p in PHASES[index:]} & set(after_failure)


def test_failure_before_the_first_phase_touches_nothing():
    nodes = awx.rollout_workflow_nodes(PHASES, TEMPLATES, approval=APPROVAL)
    edges = awx.workflow_edges(nodes)
    # open, assess and approval have no failure or always edge: a failure (or a denied
    # approval) ends the workflow before any phase
    for node in ("open", "assess", "approval"):
        assert [e for e in edges if e[0] == node and e[1] != "success"] == []


def test_without_approval_assess_leads_to_the_first_phase():
    nodes = awx.rollout_workflow_nodes(["staging", "production"], TEMPLATES)
    assert "approval" not in nodes_by_id(nodes)
    assert ("assess", "success", "phase-staging") in awx.workflow_edges(nodes)
    assert "organization" not in nodes[0]["unified_job_template"]


def test_every_edge_points_to_a_node_and_identifiers_are_unique():
    nodes = awx.rollout_workflow_nodes(PHASES, TEMPLATES, approval=APPROVAL)
    ids = [n["identifier"] for n in nodes]
    assert len(ids) == len(set(ids)) == 3 + 3 * len(PHASES)
    for parent, _kind, child in awx.workflow_edges(nodes):
        assert parent in ids and child in ids


@pytest.mark.parametrize(
    ("phases", "templates", "approval", "message"),
    [
        ([], TEMPLATES, None, "non-empty list"),
        ("staging", TEMPLATES, None, "non-empty list"),
        (["a", "b", "c", "d", "e", "f"], TEMPLATES, None, "at most 5"),
        (["staging", "staging"], TEMPLATES, None, "unique"),
        (["staging", ""], TEMPLATES, None, "non-empty string"),
        (["staging", "qa"], TEMPLATES, None, "no job template for phase.*qa"),
        (PHASES, {**TEMPLATES, "open": ""}, None, "templates.open"),
        (PHASES, {**TEMPLATES, "phases": []}, None, "templates.phases"),
        (PHASES, [], None, "templates must be a mapping"),
        (PHASES, TEMPLATES, {"name": "A", "timeout": -1}, "timeout"),
        (PHASES, TEMPLATES, {"name": "A", "timeout": True}, "timeout"),
        (PHASES, TEMPLATES, {"timeout": 1}, "approval.name"),
        (PHASES, TEMPLATES, "yes", "approval must be a mapping"),
    ],
)
def test_bad_workflow_input(phases, templates, approval, message):
    with pytest.raises(awx.AwxError, match=message):
        awx.rollout_workflow_nodes(phases, templates, approval=approval)


# -- unattended decision ----------------------------------------------------------------------


def summary(critical=0, high=0, moderate=0, low=0, unrated=0, unknown_high=0, **extra):
    data = {
        "hosts_total": 4,
        "hosts_assessed": 4,
        "hosts_missing": [],
        "severity_counts": {
            "vulnerable": {
                "critical": critical,
                "high": high,
                "moderate": moderate,
                "low": low,
                "unrated": unrated,
            },
            "unknown": {"critical": 0, "high": unknown_high, "moderate": 0, "low": 0, "unrated": 0},
        },
        "top_hosts": [{"host": "web1", "score": 7.5, "priority": "high"}],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("counts", "min_severity", "waived", "launch", "approval", "rollout_min"),
    [
        # below the threshold: nothing starts
        ({"moderate": 3}, "high", [], False, True, ""),
        ({}, "low", [], False, True, ""),
        # at or above: starts with approval unless waived
        ({"high": 1}, "high", [], True, True, "high"),
        ({"critical": 1}, "high", [], True, True, "high"),
        ({"critical": 1}, "high", ["critical"], True, False, "high"),
        # critical waived, high not: unattended run for critical hosts only
        ({"critical": 1, "high": 2}, "high", ["critical"], True, False, "critical"),
        ({"critical": 1, "high": 2}, "high", ["critical", "high"], True, False, "high"),
        # the highest severity reached needs approval: the whole run waits for a person
        ({"critical": 1, "high": 2}, "high", ["high"], True, True, "high"),
        # findings below the threshold do not matter for the approval
        ({"critical": 1, "low": 5}, "high", ["critical"], True, False, "high"),
        # unrated findings meet every level
        ({"unrated": 1}, "critical", [], True, True, "critical"),
        ({"unrated": 1}, "critical", ["unrated"], True, False, "critical"),
        ({"critical": 1, "unrated": 1}, "critical", ["critical"], True, False, "critical"),
        # off
        ({"critical": 9}, "none", ["critical"], False, True, ""),
    ],
)
def test_decision_table(counts, min_severity, waived, launch, approval, rollout_min):
    decision = awx.rollout_decision([summary(**counts)], min_severity, waived)
    assert decision["launch"] is launch
    assert decision["approval"] is approval
    assert decision["workflow"] == ("approved" if approval else "unattended")
    assert decision["rollout_min_severity"] == rollout_min
    assert decision["reason"]


def test_decision_details_and_unknown_findings():
    decision = awx.rollout_decision([summary(high=2, unknown_high=1)], "high")
    assert decision["counts"]["high"] == 2
    assert decision["severity"] == "high"
    assert decision["reached"] == ["high"]
    assert decision["top_hosts"] == [{"host": "web1", "score": 7.5, "priority": "high"}]
    assert "2 high" in decision["reason"]
    assert awx.rollout_decision([summary(unknown_high=1)], "high")["launch"] is False
    counted = awx.rollout_decision([summary(unknown_high=1)], "high", count_unknown=True)
    assert counted["launch"] is True


def test_slices_are_added_up():
    slices = [
        summary(high=1, run_id="r1", hosts_missing=["db9"]),
        summary(critical=1, run_id="r1"),
        "garbage",
    ]
    decision = awx.rollout_decision(slices, "high", ["critical"])
    assert decision["counts"]["critical"] == 1 and decision["counts"]["high"] == 1
    assert decision["hosts_assessed"] == 8
    assert decision["hosts_missing"] == ["db9"]
    assert decision["run_ids"] == ["r1"]
    assert decision["approval"] is False and decision["rollout_min_severity"] == "critical"
    # the last slice again under the shared key: not counted twice
    again = awx.rollout_decision([*slices, dict(slices[1])], "high", ["critical"])
    assert again["counts"] == decision["counts"] and again["hosts_assessed"] == 8


@pytest.mark.parametrize(
    ("summaries", "reason"),
    [
        ([], "no assessment summary"),
        (["x", 3], "no assessment summary"),
        ([summary(critical=1, hosts_assessed=0)], "assessed no host"),
    ],
)
def test_no_data_no_launch(summaries, reason):
    decision = awx.rollout_decision(summaries, "low")
    assert decision["launch"] is False
    assert reason in decision["reason"]


@pytest.mark.parametrize(
    ("min_severity", "waived", "message"),
    [("urgent", [], "min_severity"), ("high", ["severe"], "without_approval"), (None, [], "min")],
)
def test_bad_decision_input(min_severity, waived, message):
    with pytest.raises(awx.AwxError, match=message):
        awx.rollout_decision([summary()], min_severity, waived)


def test_collect_summaries_takes_the_key_and_per_slice_keys():
    variables = {
        "patchwise_openssl_assess": summary(high=1),
        "patchwise_openssl_assess_job_41": summary(low=1),
        "patchwise_openssl_assessment": "not a slice key, not a dict",
        "other": summary(critical=1),
    }
    found = awx.collect_summaries(variables)
    assert len(found) == 2
    assert {f["severity_counts"]["vulnerable"]["high"] for f in found} == {0, 1}
    # AWX keeps the last slice under the shared key: the same summary counts once
    last = summary(low=2)
    both = {"patchwise_openssl_assess": last, "patchwise_openssl_assess_job_7": dict(last)}
    assert awx.collect_summaries(both) == [last]
    with pytest.raises(awx.AwxError):
        awx.collect_summaries(["x"])  # type: ignore[arg-type]


junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
summaries = st.lists(
    st.one_of(junk, st.builds(summary, critical=junk, high=junk, unrated=junk, top_hosts=junk)),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(summaries, st.sampled_from([*awx.LEVELS, "none"]), st.lists(st.sampled_from(awx.LEVELS)))
def test_any_summary_gives_a_decision(data, min_severity, waived):
    decision = awx.rollout_decision(data, min_severity, waived)
    assert isinstance(decision["launch"], bool)
    assert decision["approval"] or decision["launch"]
    if decision["launch"]:
        assert decision["rollout_min_severity"] in awx.LEVELS
