# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_change_record
short_description: Write the change record of an OpenSSL rollout on the controller
version_added: 0.1.0
description:
  - Writes the audit trail of a run of the playbook C(patchwise.openssl.rollout) on the
    controller, one directory per run (O(record_dir)) holding C(run.json) and C(run.md), and
    one C(hosts/<host>.json) and C(hosts/<host>.md) per host.
  - "The record holds: run id, when, who (controller user, AWX job id when C(tower_job_id) or
    C(awx_job_id) is set), collection version, phases with their ordered hosts and batches,
    per host the planned and the real package versions before and after, the CVEs closed (open
    findings before versus after), the verification results, the services refreshed and how,
    the rollback point and the exact command back, and the outcome."
  - Files are written atomically (temporary file and rename) with mode C(0600); new
    directories get mode C(0700). Hosts of one batch write in parallel; the run record is
    rebuilt under a file lock.
  - Records are written in check mode too, marked as a plan.
  - With O(event=rollback) a later rollback (playbook C(patchwise.openssl.rollback)) is
    appended to the host's record and listed in the run record.
  - This is an action plugin; this file only documents it.
options:
  event:
    description:
      - V(start) opens the run record (once per run, for example with C(run_once)). It refuses a
        O(run_id) whose record is already finished, and one whose controller process (the
        C(ansible-playbook) that started it, recorded with its start time) still runs. An
        unfinished record of the same O(run_id) whose controller is gone is an interrupted
        earlier attempt; it is kept in RV(attempts). Unfinished runs in the directories next to
        O(record_dir) whose controller process on this controller is gone are marked
        C(interrupted) and returned in RV(earlier_runs).
      - V(plan) records one host's plan from its O(assessment), O(packages) and facts, and
        predicts which services the refresh will touch and how. A rollback point already on the
        host (O(packages) C(rollback_points)) of this run id (an interrupted attempt wrote it)
        becomes the host's rollback point; one of an interrupted earlier run is named in the
        host's C(earlier_runs) with its way back, and written into that run's record.
      - V(schedule) orders, filters and batches the hosts of O(phases) from the host plans
        (once per run) and returns RV(phases) and RV(plan_text). A host whose planning failed
        (its record has a C(failure), for example a failed pre-flight) is C(failed) in its
        phase, not excluded.
      - V(gate) decides from the host records whether the rollout may go on, in RV(halt). The
        first phase tolerates no failure, later ones up to C(max_fail_percentage) of the hosts
        reached in the phase. Planning failures count in every phase, also in phases not begun,
        against all the phase's hosts, so a failed pre-flight halts the rollout before anything
        changes. Give C(phase_index) and C(max_fail_percentage) in O(settings). The first halt
        is stored in the run record.
      - V(host) merges one host's O(result) into its record.
      - V(finish) closes the run (hosts never reached are marked C(not_reached)), returns the
        stored halt or applies the same rule as V(gate) to every phase, and returns the
        RV(outcome).
      - V(rollback) appends O(rollback) to the host's record.
    type: str
    required: true
    choices: [start, plan, schedule, gate, host, finish, rollback]
  run_id:
    description:
      - The run id (letters, digits, C(.), C(_), C(-)).
      - Required for every event except V(start), which generates one (UTC time plus a random
        suffix, for example V(20261122T071500Z-3f9a1c)) when it is empty.
    type: str
    default: ""
  record_dir:
    description:
      - Directory of this run's record on the controller.
      - Default C(records/<run_id>) under the current working directory.
    type: path
  settings:
    description:
      - With V(start), the rollout settings to record (phases, order, minimum severity,
        batches, maximum failure percentage, soak).
      - With V(schedule), C(order) (V(inventory) or V(risk)), C(min_severity), C(batches) and
        C(first_phase_batches) (Ansible C(serial) lists).
      - With V(gate), C(phase_index) and C(max_fail_percentage).
    type: dict
    default: {}
  inventory:
    description: Inventory sources of the run, used to write the exact way back.
    type: list
    elements: str
    default: []
  facts:
    description: OpenSSL facts of the host (V(plan)); default C(ansible_facts.openssl).
    type: dict
  assessment:
    description:
      - The host's assessment (C(assessment) returned by M(patchwise.openssl.openssl_assess)).
    type: dict
    default: {}
  packages:
    description: The check-mode result of M(patchwise.openssl.openssl_packages) (V(plan)).
    type: dict
    default: {}
  refresh_settings:
    description:
      - The refresh role's C(restart_ok), C(disruptive_ok), C(deny), C(deny_extra) and
        C(strategies), to predict how each service will be refreshed (V(plan)).
    type: dict
    default: {}
  phases:
    description:
      - With V(schedule), the inventory groups of the phases, in rollout order. Each phase
        holds the group's hosts that are in the play, in inventory order; a host in several
        groups belongs to the first.
    type: list
    elements: str
    default: []
  result:
    description:
      - With V(host), the host's result. Keys C(outcome) (V(planned), V(up_to_date),
        V(patched), V(pending), V(not_reached), V(interrupted), V(excluded), V(failed),
        V(soak_failed), V(rolled_back), V(unreachable), V(rollback_failed)), C(message),
        C(phase), C(batch),
        C(started_at),
        C(patch) (the patch role's C(before), C(after), C(after_states), C(changed_packages),
        C(rollback_point)), C(refresh) (C(services), C(required), C(reboot_required),
        C(failed_services), C(leftover)), C(verify) (C(passed), C(results)),
        C(assessment_before), C(assessment_after), C(failure) (C(task), C(message)), C(rollback)
        (the rollback role's C(changed), C(before), C(after), C(restored_packages), C(audit),
        C(verify_passed), C(verify_results), C(error)), C(hooks), C(soak), C(warnings).
    type: dict
    default: {}
  rollback:
    description:
      - With V(rollback), what the rollback did, from the rollback role's facts C(changed),
        C(before), C(after), C(restored_packages), C(audit), with the verification's
        C(verify_passed) and C(verify_results), and optionally C(error).
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Records are controller artefacts and are written in check mode too, marked as a
      plan (C(mode=plan), host outcome C(planned)).
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - The task never reports C(changed); it only writes controller-side records.
  - Relative O(record_dir) paths are relative to the directory C(ansible-playbook) runs in.
seealso:
  - module: patchwise.openssl.openssl_packages
  - module: patchwise.openssl.openssl_assess
author:
  - patchwise.openssl maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
---
- name: Append a rollback to the change record of the run it undoes
  patchwise.openssl.openssl_change_record:
    event: rollback
    run_id: "{{ rollback_run_id }}"
    record_dir: "{{ rollout_record_dir | default(omit) }}"
    rollback:
      changed: "{{ rollback_changed }}"
      before: "{{ rollback_before }}"
      after: "{{ rollback_after }}"
      restored_packages: "{{ rollback_restored_packages }}"
      audit: "{{ rollback_audit }}"
      verify_passed: "{{ verify_passed | default(omit) }}"
      verify_results: "{{ verify_results | default([]) }}"

- name: Open the record of a run (once)
  patchwise.openssl.openssl_change_record:
    event: start
    settings:
      order: risk
  run_once: true
  register: record_start
"""

RETURN = r"""
run_id:
  description: The run id (generated by V(start) when none was given).
  returned: always
  type: str
  sample: 20261122T071500Z-3f9a1c
record_dir:
  description: Absolute path of the run's record directory.
  returned: always
  type: str
earlier_runs:
  description:
    - Interrupted runs found next to this one (C(run_id), C(outcome) C(interrupted),
      C(started_at), C(record_dir), C(reason)); their records were marked so.
  returned: when O(event=start)
  type: list
  elements: dict
attempts:
  description:
    - Earlier, interrupted attempts of this run id (C(started_at), C(who), C(outcome),
      C(detected_at), C(reason)).
  returned: when O(event=start)
  type: list
  elements: dict
host_plan:
  description:
    - The host's plan, with C(risk) (C(score), C(priority)), C(gate_counts), C(packages)
      (C(name), C(from), C(to)), C(versions_before), C(services) (C(name), C(kind), C(pids),
      C(strategy), C(how), C(disruptive), C(drain_window)), C(stale_processes), C(open_cves),
      C(rollback_points) (already on the host) and C(needs_change).
  returned: when O(event=plan)
  type: dict
phases:
  description: Per phase C(index), C(name), ordered C(hosts), C(excluded) (C(host), C(reason)),
    C(failed) (hosts whose planning failed, C(host), C(reason)) and C(batches) (lists of hosts,
    as Ansible's C(serial) will make them).
  returned: when O(event=schedule)
  type: list
  elements: dict
plan_text:
  description: The plan as lines (phases, batches, versions, services and how they are refreshed).
  returned: when O(event=schedule)
  type: list
  elements: str
halt:
  description:
    - With V(gate), whether the rollout must stop. With V(finish), the halt (C(halt),
      C(message), C(host), C(phase), C(failed_hosts)) or an empty dict.
  returned: when O(event) is V(gate) or V(finish)
  type: raw
message:
  description: Why the rollout must stop (empty when it may go on).
  returned: when O(event=gate)
  type: str
failed_hosts:
  description: Hosts of the phase that caused the halt.
  returned: when O(event=gate)
  type: list
  elements: str
record:
  description: The host record as written.
  returned: when O(event=host)
  type: dict
run_outcome:
  description: The run outcome after this host (C(in_progress) until V(finish)).
  returned: when O(event=host)
  type: str
outcome:
  description: The run outcome, one of C(planned), C(unchanged), C(success), C(partial)
    (some hosts failed within the tolerance), C(halted), C(interrupted) (only in a record a
    later run marked), C(failed) (a rollback failed).
  returned: when O(event=finish)
  type: str
counts:
  description: Hosts per outcome (only outcomes that occurred).
  returned: when O(event=finish)
  type: dict
way_back:
  description: The command that rolls every changed host back to this run's rollback points.
  returned: when O(event=finish)
  type: str
  sample: >-
    ansible-playbook -i inventory patchwise.openssl.rollback
    -e rollback_run_id=20261122T071500Z-3f9a1c -e rollback_hosts=web1,web2
record_files:
  description: Files written by this event.
  returned: when O(event) is V(plan), V(host), V(finish) or V(rollback)
  type: list
  elements: str
"""
