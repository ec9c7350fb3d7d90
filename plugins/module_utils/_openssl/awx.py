# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX/AAP workflow graph of a rollout and the unattended-mode decision (controller side).

``rollout_workflow_nodes`` renders the graph in the format of the ``workflow_nodes`` option of
``awx.awx.workflow_job_template``::

    open run -> assess -> [approval] -> phase 1 -> phase 2 -> ... -> phase N
                                          |          |               |
                                       failure    failure         failure
                                          v          v               v
                                     rollback 1  rollback 2  ...  rollback N   (limit: phase group)
                                          | always   | always        | always
                                          v          v               v
                                       halt 1     halt 2    ...    halt N     (fails the workflow)

``rollout_decision`` decides from the assessment summaries (``set_stats`` data of the
assessment job, one per job slice) whether a scheduled assessment starts the rollout workflow
without a person, and whether that workflow has an approval node.
"""

from __future__ import annotations

import math
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

LEVELS = ("critical", "high", "moderate", "low")
RANK = {level: len(LEVELS) - i for i, level in enumerate(LEVELS)}  # critical 4 ... low 1
STATS_KEY = "patchwise_openssl_assess"
MAX_PHASES = 5


class AwxError(PatchwiseError):
    """Bad input for the AWX workflow graph or the unattended decision."""


# =========================================================================================
# workflow graph
# =========================================================================================


def _ujt(name: str, organization: str, kind: str = "job_template") -> dict[str, Any]:
    ujt: dict[str, Any] = {"name": name, "type": kind}
    if organization:
        ujt["organization"] = {"name": organization}
    return ujt


def _ids(*identifiers: str) -> list[dict[str, str]]:
    return [{"identifier": i} for i in identifiers]


def _check_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AwxError(f"{what} must be a non-empty string")
    return value


def rollout_workflow_nodes(
    phases: list[str],
    templates: dict[str, Any],
    organization: str = "",
    approval: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Nodes of the rollout workflow, ready for ``awx.awx.workflow_job_template``.

    ``templates`` names the job templates: ``open``, ``assess``, ``rollback``, ``halt`` and
    ``phases`` (phase -> job template). ``approval`` (``name``, ``description``, ``timeout``)
    adds an approval node after the assessment; None leaves it out.
    """
    if not isinstance(phases, list) or not phases:
        raise AwxError("phases must be a non-empty list of inventory group names")
    if len(phases) > MAX_PHASES:
        raise AwxError(f"at most {MAX_PHASES} phases")
    if len(set(phases)) != len(phases):
        raise AwxError("phases must be unique")
    for phase in phases:
        _check_name("a phase", phase)
    if not isinstance(templates, dict):
        raise AwxError("templates must be a mapping")
    names = {k: _check_name(f"templates.{k}", templates.get(k)) for k in ("open", "assess")}
    names.update({k: _check_name(f"templates.{k}", templates.get(k)) for k in ("rollback", "halt")})
    phase_templates = templates.get("phases")
    if not isinstance(phase_templates, dict):
        raise AwxError("templates.phases must map each phase to a job template")
    missing = [p for p in phases if p not in phase_templates]
    if missing:
        raise AwxError(f"no job template for phase(s): {', '.join(missing)}")

    first = f"phase-{phases[0]}"
    nodes: list[dict[str, Any]] = [
        {
            "identifier": "open",
            "unified_job_template": _ujt(names["open"], organization),
            "related": {"success_nodes": _ids("assess")},
        }
    ]
    after_assess = first
    if approval is not None:
        if not isinstance(approval, dict):
            raise AwxError("approval must be a mapping (name, description, timeout) or null")
        timeout = approval.get("timeout", 0)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise AwxError("approval.timeout must be a whole number of seconds (0: no timeout)")
        nodes.append(
            {
                "identifier": "approval",
                "unified_job_template": {
                    "name": _check_name("approval.name", approval.get("name")),
                    "type": "workflow_approval",
                    "description": str(approval.get("description") or ""),
                    "timeout": timeout,
                },
                "related": {"success_nodes": _ids(first)},
            }
        )
        after_assess = "approval"
    nodes.insert(
        1,
        {
            "identifier": "assess",
            "unified_job_template": _ujt(names["assess"], organization),
            "related": {"success_nodes": _ids(after_assess)},
        },
    )
    for index, phase in enumerate(phases):
        related: dict[str, Any] = {"failure_nodes": _ids(f"rollback-{phase}")}
        if index + 1 < len(phases):
            related["success_nodes"] = _ids(f"phase-{phases[index + 1]}")
        nodes.append(
            {
                "identifier": f"phase-{phase}",
                "unified_job_template": _ujt(
                    _check_name("phase template", phase_templates[phase]), organization
                ),
                "related": related,
            }
        )
        nodes.append(
            {
                "identifier": f"rollback-{phase}",
                "unified_job_template": _ujt(names["rollback"], organization),
                "limit": phase,
                "related": {"always_nodes": _ids(f"halt-{phase}")},
            }
        )
        nodes.append(
            {
                "identifier": f"halt-{phase}",
                "unified_job_template": _ujt(names["halt"], organization),
                "extra_data": {"awx_run_halted_phase": phase},
            }
        )
    return nodes


def workflow_edges(nodes: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(parent, kind, child) for every edge of a node list, kind = success|failure|always."""
    edges = []
    for node in nodes:
        for kind in ("success", "failure", "always"):
            for child in node.get("related", {}).get(f"{kind}_nodes", []):
                edges.append((node["identifier"], kind, child["identifier"]))
    return edges


# =========================================================================================
# unattended decision
# =========================================================================================


def collect_summaries(variables: dict[str, Any], key: str = STATS_KEY) -> list[dict[str, Any]]:
    """Assessment summaries among a job's variables.

    AWX passes the ``set_stats`` data of earlier workflow nodes as extra variables, merging the
    job slices' data key by key (the last slice wins for a shared key). ``key`` itself and every
    ``key_<suffix>`` (one per slice, when the assessment publishes them) are collected; a
    summary found under two keys counts once.
    """
    if not isinstance(variables, dict):
        raise AwxError("variables must be a mapping")
    found = []
    for name in sorted(variables):
        if name == key or (isinstance(name, str) and name.startswith(key + "_")):
            value = variables[name]
            # the shared key holds one slice's summary that a per-slice key may repeat
            if isinstance(value, dict) and value not in found:
                found.append(value)
    return found


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(int(value), 0)


def merge_summaries(summaries: list[Any]) -> dict[str, Any]:
    """Fleet numbers over several summaries (job slices): counts added, host lists joined.

    A summary given twice (the shared key and a per-slice key of the same slice) counts once.
    """
    merged: dict[str, Any] = {
        "summaries": 0,
        "hosts_total": 0,
        "hosts_assessed": 0,
        "hosts_missing": [],
        "vulnerable": {level: 0 for level in (*LEVELS, "unrated")},
        "unknown": {level: 0 for level in (*LEVELS, "unrated")},
        "top_hosts": [],
        "run_ids": [],
        "ignored": 0,
    }
    seen: list[dict[str, Any]] = []
    for summary in summaries:
        if not isinstance(summary, dict):
            merged["ignored"] += 1
            continue
        if summary in seen:  # one slice under two keys (shared and per-slice)
            continue
        seen.append(summary)
        merged["summaries"] += 1
        merged["hosts_total"] += _count(summary.get("hosts_total"))
        merged["hosts_assessed"] += _count(summary.get("hosts_assessed"))
        missing = summary.get("hosts_missing")
        if isinstance(missing, list):
            merged["hosts_missing"].extend(str(h) for h in missing)
        counts = summary.get("severity_counts")
        counts = counts if isinstance(counts, dict) else {}
        for kind in ("vulnerable", "unknown"):
            by_level = counts.get(kind)
            by_level = by_level if isinstance(by_level, dict) else {}
            for level in merged[kind]:
                merged[kind][level] += _count(by_level.get(level))
        top = summary.get("top_hosts")
        if isinstance(top, list):
            merged["top_hosts"].extend(t for t in top if isinstance(t, dict))
        run_id = summary.get("run_id")
        if isinstance(run_id, str) and run_id and run_id not in merged["run_ids"]:
            merged["run_ids"].append(run_id)
    merged["hosts_missing"] = sorted(set(merged["hosts_missing"]))
    merged["top_hosts"].sort(
        key=lambda t: (
            -(t.get("score") if isinstance(t.get("score"), (int, float)) else 0),
            str(t.get("host")),
        )
    )
    return merged


def _check_level(what: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise AwxError(f"{what} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def rollout_decision(
    summaries: list[Any],
    min_severity: str = "none",
    without_approval: list[str] | None = None,
    count_unknown: bool = False,
) -> dict[str, Any]:
    """Whether a scheduled assessment starts the rollout workflow on its own.

    - ``min_severity`` (critical, high, moderate, low; V(none) turns unattended mode off): the
      rollout starts when a vulnerable finding of this severity or higher exists. Unrated
      findings meet every level (as the assessment's ``fail_on`` does). With
      ``count_unknown`` findings whose status is ``unknown`` count too.
    - ``without_approval``: severities for which nobody approves. The approval node is left
      out only when every severity reached (at or above ``min_severity``) is in this list, from
      the highest down to the returned ``rollout_min_severity``; hosts below it wait for an
      approved run.
    """
    _check_level("min_severity", min_severity, (*LEVELS, "none"))
    waived = list(without_approval or [])
    for level in waived:
        _check_level("without_approval item", level, (*LEVELS, "unrated"))
    merged = merge_summaries(list(summaries or []))
    counts = {
        level: merged["vulnerable"][level] + (merged["unknown"][level] if count_unknown else 0)
        for level in merged["vulnerable"]
    }
    decision: dict[str, Any] = {
        "launch": False,
        "approval": True,
        "workflow": "approved",
        "severity": None,
        "reached": [],
        "rollout_min_severity": "",
        "counts": counts,
        "hosts_assessed": merged["hosts_assessed"],
        "hosts_missing": merged["hosts_missing"],
        "top_hosts": merged["top_hosts"][:10],
        "run_ids": merged["run_ids"],
        "reason": "",
    }
    if min_severity == "none":
        decision["reason"] = "unattended mode is off (min_severity none)"
        return decision
    if merged["summaries"] == 0:
        decision["reason"] = f"no assessment summary ({STATS_KEY}) among the job's variables"
        return decision
    if merged["hosts_assessed"] == 0:
        decision["reason"] = "the assessment assessed no host"
        return decision
    reached = [lvl for lvl in LEVELS if RANK[lvl] >= RANK[min_severity] and counts[lvl] > 0]
    if counts["unrated"] > 0:
        reached.append("unrated")
    decision["reached"] = reached
    if not reached:
        decision["reason"] = f"no finding at or above {min_severity}"
        return decision
    decision["launch"] = True
    decision["severity"] = reached[0]
    decision["rollout_min_severity"] = min_severity
    waived_reached = []
    for level in reached:
        if level not in waived:
            break
        waived_reached.append(level)
    if waived_reached:
        decision["approval"] = False
        decision["workflow"] = "unattended"
        if waived_reached != reached:
            # a prefix of the rated levels: hosts below it wait for an approved run
            decision["rollout_min_severity"] = waived_reached[-1]
    findings = ", ".join(f"{counts[lvl]} {lvl}" for lvl in reached)
    if decision["approval"]:
        decision["reason"] = f"findings at or above {min_severity} ({findings}); approval required"
    else:
        decision["reason"] = (
            f"findings at or above {min_severity} ({findings}); no approval for "
            f"{', '.join(waived_reached)}"
        )
    return decision
