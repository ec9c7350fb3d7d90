# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: awx_rollout_workflow
short_description: Nodes of the AWX/AAP rollout workflow (assess, approval, phases, rollbacks)
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Renders the graph of the rollout workflow in the format of the C(workflow_nodes) option of
    M(awx.awx.workflow_job_template).
  - "Graph: C(open) (opens the run and publishes its id) -> C(assess) -> C(approval) (only
    with O(approval)) -> C(phase-<first phase>) -> ... -> C(phase-<last phase>). Each phase
    node has a failure edge to C(rollback-<phase>) (the rollback job template limited to the
    phase's inventory group), which always continues to C(halt-<phase>) (fails the workflow
    with a message naming the phase)."
  - Phases run one after the other; a phase starts only when the previous phase's job
    succeeded.
options:
  _input:
    description: Inventory groups of the phases, in rollout order (at most 5).
    type: list
    elements: string
    required: true
  templates:
    description:
      - Job template names, keys C(open), C(assess), C(rollback), C(halt) and C(phases) (a
        mapping of phase to job template name).
    type: dict
    required: true
  organization:
    description: Organization of the job templates (empty looks them up by name only).
    type: string
    default: ""
  approval:
    description:
      - Approval node after the assessment, with C(name), C(description) and C(timeout)
        (seconds, V(0) waits for ever). Null leaves the approval node out.
    type: dict
seealso:
  - module: awx.awx.workflow_job_template
"""

EXAMPLES = r"""
---
- name: Nodes of a rollout workflow with an approval node
  ansible.builtin.assert:
    that:
      - nodes | map(attribute='identifier') | list == expected
  vars:
    nodes: >-
      {{ ['staging', 'production'] | patchwise.openssl.awx_rollout_workflow(
           templates={'open': 'Open run', 'assess': 'Assess', 'rollback': 'Rollback',
                      'halt': 'Halt', 'phases': {'staging': 'Staging', 'production': 'Production'}},
           approval={'name': 'Approve the rollout', 'timeout': 86400}) }}
    expected: [open, assess, approval, phase-staging, rollback-staging, halt-staging,
               phase-production, rollback-production, halt-production]
"""

RETURN = r"""
_value:
  description:
    - Workflow nodes with C(identifier), C(unified_job_template) (C(name), C(type),
      C(organization); approval nodes C(description) and C(timeout)), C(related)
      (C(success_nodes), C(failure_nodes), C(always_nodes)) and, for rollback nodes, C(limit);
      halt nodes carry C(extra_data.awx_run_halted_phase).
  type: list
  elements: dict
"""

from typing import Any  # noqa: E402 -- after the documentation blocks, as ansible plugins are laid out

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import awx  # noqa: E402


def awx_rollout_workflow(
    phases: Any,
    templates: Any,
    organization: str = "",
    approval: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Workflow nodes of the rollout."""
    try:
        return awx.rollout_workflow_nodes(
            phases, templates, organization=organization, approval=approval
        )
    except awx.AwxError as exc:
        raise AnsibleFilterError(f"awx_rollout_workflow: {exc}") from exc


class FilterModule:
    """patchwise.openssl.awx_rollout_workflow"""

    def filters(self) -> dict[str, Any]:
        return {"awx_rollout_workflow": awx_rollout_workflow}
