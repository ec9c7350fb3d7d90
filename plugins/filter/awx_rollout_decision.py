# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: awx_rollout_decision
short_description: Decide whether an assessment starts the rollout workflow unattended
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Reads the fleet summaries an assessment published with C(set_stats) (key
    C(patchwise_openssl_assess); one per job slice when the job was sliced) and decides whether
    the rollout workflow starts without a person, and whether it keeps its approval node.
  - The rollout starts when a C(vulnerable) finding of O(min_severity) or higher exists.
    Unrated findings meet every level, as the assessment's C(fail_on) gate counts them.
  - The approval node is left out only when every severity reached, from the highest down, is
    in O(without_approval); the run is then limited (C(rollout_min_severity)) to the hosts of
    those severities, and the hosts of lower severities wait for an approved run.
  - The decision is data; the task file C(unattended.yml) of the role
    C(patchwise.openssl.awx_configure) launches the workflow with M(awx.awx.workflow_launch).
options:
  _input:
    description: Assessment summaries (the C(set_stats) data), one per job slice.
    type: list
    elements: dict
    required: true
  min_severity:
    description: Lowest OpenSSL severity that starts the rollout; V(none) turns unattended mode off.
    type: string
    choices: [critical, high, moderate, low, none]
    default: none
  without_approval:
    description: Severities (and V(unrated)) whose rollout needs no approval.
    type: list
    elements: string
    default: []
  count_unknown:
    description: Count findings whose status is C(unknown) as if they were vulnerable.
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Critical findings start the rollout without approval, high ones with approval
  ansible.builtin.assert:
    that:
      - decision.launch
      - not decision.approval
      - decision.rollout_min_severity == 'critical'
  vars:
    summary:
      hosts_assessed: 3
      severity_counts:
        vulnerable: {critical: 1, high: 2, moderate: 0, low: 0, unrated: 0}
    decision: >-
      {{ [summary] | patchwise.openssl.awx_rollout_decision(min_severity='high',
                                                            without_approval=['critical']) }}
"""

RETURN = r"""
_value:
  description: The decision.
  type: dict
  contains:
    launch:
      description: Start the rollout workflow.
      type: bool
    approval:
      description: Start the workflow with the approval node (false only when C(launch)).
      type: bool
    workflow:
      description: V(approved) or V(unattended) (the workflow without approval node).
      type: str
    severity:
      description: Highest severity reached, or null.
      type: str
    reached:
      description: Severities reached at or above O(min_severity), highest first (V(unrated) last).
      type: list
      elements: str
    rollout_min_severity:
      description: Value for the rollout's C(rollout_min_severity); empty when not launching.
      type: str
    counts:
      description: Vulnerable findings per severity over all summaries.
      type: dict
    hosts_assessed:
      description: Hosts assessed over all summaries.
      type: int
    hosts_missing:
      description: Hosts without an assessment.
      type: list
      elements: str
    top_hosts:
      description: The ten highest-risk hosts (C(host), C(score), C(priority)).
      type: list
      elements: dict
    run_ids:
      description: Run ids of the assessments, when the summaries carry them.
      type: list
      elements: str
    reason:
      description: Why, in one sentence.
      type: str
"""

from typing import Any  # noqa: E402 -- after the documentation blocks, as ansible plugins are laid out

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import awx  # noqa: E402


def awx_rollout_decision(
    summaries: Any,
    min_severity: str = "none",
    without_approval: list[str] | None = None,
    count_unknown: bool = False,
) -> dict[str, Any]:
    """Unattended-mode decision from assessment summaries."""
    if isinstance(summaries, dict):
        summaries = [summaries]
    if not isinstance(summaries, list):
        raise AnsibleFilterError("awx_rollout_decision: input must be a list of summaries")
    try:
        return awx.rollout_decision(
            summaries,
            min_severity=min_severity,
            without_approval=without_approval,
            count_unknown=bool(count_unknown),
        )
    except awx.AwxError as exc:
        raise AnsibleFilterError(f"awx_rollout_decision: {exc}") from exc


class FilterModule:
    """patchwise.openssl.awx_rollout_decision"""

    def filters(self) -> dict[str, Any]:
        return {"awx_rollout_decision": awx_rollout_decision}
