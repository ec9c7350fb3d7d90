# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_assess
short_description: Offline, backport-aware CVE and lifecycle assessment of OpenSSL facts
version_added: 0.1.0
description:
  - Turns the facts gathered by M(patchwise.openssl.openssl_facts) into findings, on the
    controller, with no network access and nothing copied to or run on the managed host.
  - For every OpenSSL copy on the host (system libraries, vendored copies, language runtimes, the
    C(openssl) command) and every process that maps it, each CVE that OpenSSL's published data
    says affects the copy's upstream version gets exactly one status with its evidence -
    V(vulnerable), V(fixed), V(fixed_by_backport) (the package changelog entry naming it),
    V(patched_in_memory) (live-patch evidence), V(unknown) (a distribution package whose
    changelog does not name the CVE), or V(not_assessed) (the branch was end-of-life when the
    advisory came out, or the library is not OpenSSL).
  - Also reports the branch lifecycle computed from dates at run time, upgrade advice, network
    exposure, processes that still map a replaced file (restart required), a host risk score and
    priority with a rationale line per finding, and an optional O(fail_on) gate.
  - The decision table and the risk formula are in C(docs/assessment.md) of the collection.
  - With O(summarize_hosts) it instead reads the per-host reports of this run from O(report_dir)
    and writes the fleet summary (JSON, Markdown and a self-contained HTML page).
  - This is an action plugin; this file only documents it.
options:
  facts:
    description:
      - The OpenSSL facts to assess (the C(ansible_facts.openssl) schema).
      - Defaults to C(ansible_facts.openssl) of the host the task runs for.
      - Mutually exclusive with O(summarize_hosts).
    type: dict
  db:
    description:
      - Path of the vulnerability database on the controller.
      - Defaults to C(data/openssl_vulndb.json) shipped in the collection. Refresh it with the
        playbook C(patchwise.openssl.vulndb_update).
    type: path
  now:
    description:
      - The date to assess on (ISO date, for example V(2026-11-22)), instead of the controller's
        clock. Lifecycle statuses are computed from it.
      - The task fails when the date is before the database was generated, or more than
        O(max_db_age_days) after it (the clock is wrong or the database is too old).
    type: str
    aliases: [today]
  fail_on:
    description:
      - Fail the task when a V(vulnerable) finding has this OpenSSL severity or a higher one.
      - Unrated findings (OpenSSL did not rate issues before October 2014) count as meeting
        every level, because they cannot be shown to be below it.
      - V(unknown), V(fixed*), V(patched_in_memory) and V(not_assessed) findings never fail.
    type: str
    choices: [critical, high, moderate, low, none]
    default: none
  enforce_fail_on:
    description:
      - When V(false), an exceeded O(fail_on) is only reported in RV(assessment.gate) and the
        task does not fail (the role uses this to write every report before failing).
    type: bool
    default: true
  include_statuses:
    description:
      - Only return findings with these statuses in RV(assessment.findings). Counts, the risk
        score and the gate are always computed over all findings.
    type: list
    elements: str
    choices: [vulnerable, fixed, fixed_by_backport, patched_in_memory, unknown, not_assessed]
  max_db_age_days:
    description:
      - Refuse to assess with a database generated more than this many days before the
        assessment date. A warning is emitted after 120 days.
    type: int
    default: 1095
  report_dir:
    description:
      - Directory on the controller for reports. With it, the host's assessment is written to
        C(<report_dir>/hosts/<inventory_hostname>.json); with O(summarize_hosts), the fleet
        summary is written to C(summary.json), C(summary.md) and C(index.html).
      - Next to each host report, C(hosts/.digests/<inventory_hostname>.json) holds the parts
        of it the fleet summary reads; O(summarize_hosts) reads the digest instead of the
        report while the report is still the file the digest was made from.
      - Files are written atomically with mode C(0600), new directories with C(0700).
      - Reports are written in check mode too; they are controller artefacts, not changes to
        the managed host.
    type: path
  run_id:
    description:
      - An identifier of this run, stored in each host report. With O(summarize_hosts), host
        reports with a different run id (left over from an earlier run) are listed as missing.
    type: str
  prometheus:
    description:
      - Also return RV(prometheus), the assessment as node_exporter textfile metrics.
    type: bool
    default: false
  summarize_hosts:
    description:
      - Summarise these hosts (usually C(ansible_play_hosts_all)) from their reports in
        O(report_dir) instead of assessing facts. Run it once per play.
    type: list
    elements: str
  report_formats:
    description:
      - Which fleet summary files to write with O(summarize_hosts).
    type: list
    elements: str
    choices: [json, markdown, html]
    default: [json, markdown, html]
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
    details: Nothing changes on the managed host in any mode; report files are controller
      artefacts and are written in check mode too.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
seealso:
  - module: patchwise.openssl.openssl_facts
notes:
  - The task never reports C(changed); it reads facts and writes controller-side reports only.
  - Look-alike libraries (LibreSSL, BoringSSL, AWS-LC) are never judged against OpenSSL's data;
    they get one V(not_assessed) finding with the reason.
author:
  - patchwise.openssl maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
---
- name: Gather OpenSSL facts
  patchwise.openssl.openssl_facts:

- name: Assess them, failing on any vulnerable high or critical CVE
  patchwise.openssl.openssl_assess:
    fail_on: high
  register: openssl_assessment

- name: Show the risk score and the top findings
  ansible.builtin.debug:
    msg: "{{ openssl_assessment.assessment.risk }}"

- name: Assess recorded facts as of a fixed date, keeping only actionable findings
  patchwise.openssl.openssl_assess:
    facts: "{{ lookup('ansible.builtin.file', 'facts/web1.json') | from_json }}"
    now: "2026-11-22"
    include_statuses: [vulnerable, unknown]
  register: openssl_web1

- name: Write this host's report, then the fleet summary once per play
  block:
    - name: Assess and write the host report
      patchwise.openssl.openssl_assess:
        report_dir: /var/tmp/openssl-reports
        run_id: "{{ run_id }}"
    - name: Write the fleet summary (JSON, Markdown, HTML)
      patchwise.openssl.openssl_assess:
        summarize_hosts: "{{ ansible_play_hosts_all }}"
        report_dir: /var/tmp/openssl-reports
        run_id: "{{ run_id }}"
      run_once: true
  vars:
    run_id: "{{ lookup('ansible.builtin.pipe', 'date -u +%Y%m%dT%H%M%SZ') }}"
"""

RETURN = r"""
assessment:
  description:
    - The host assessment. Keys are described in C(docs/assessment.md); the main ones follow.
  returned: when O(summarize_hosts) is not set
  type: dict
  contains:
    host:
      description: Inventory host name.
      type: str
      returned: always
    assessed_on:
      description: The date the assessment is for.
      type: str
      returned: always
      sample: "2026-11-22"
    database:
      description: Generation date, source commit and record count of the database used.
      type: dict
      returned: always
    copies:
      description:
        - One entry per OpenSSL copy (library directory, vendored copy, runtime, command), with
          C(version), C(branch), C(package), C(lifecycle) (status V(supported),
          V(end_of_life), V(premium_only), V(unreleased) or V(unknown), C(eol), C(days_left),
          C(next_lts), C(latest_public_fix)), C(advice), C(pids) and C(stale_pids).
      type: list
      elements: dict
      returned: always
    findings:
      description:
        - One entry per copy, CVE and group of processes with the same status. C(scope) is
          V(installed) (the file on disk and the processes that map it) or V(running)
          (processes that run something else - a replaced file or a live-patched one).
        - Each has C(cve), C(severity) (V(critical), V(high), V(moderate), V(low) or
          V(unrated)), C(status), C(reason), C(detail), C(evidence), C(pids), C(exposure)
          (C(level) V(network), V(loopback), V(loaded), V(unseen) or V(none), and the
          listening processes with their ports), C(score) and C(rationale).
      type: list
      elements: dict
      returned: always
    summary:
      description:
        - Counts of findings by status, distinct CVEs by worst status and severity,
          C(vulnerable_processes), C(exposed_vulnerable_processes), C(stale_processes),
          C(eol_branches), C(restart_required), C(restart_services) and C(restart_only).
      type: dict
      returned: always
    risk:
      description: C(score), C(priority) (V(critical), V(high), V(medium), V(low), V(none)),
        the points per component, the ten top findings and the formula.
      type: dict
      returned: always
    gate:
      description: C(fail_on), C(exceeded), C(counts_at_or_above) per level and C(message).
      type: dict
      returned: always
    warnings:
      description: Problems met with the facts or the database (partial facts, old database).
      type: list
      elements: str
      returned: always
risk_score:
  description: The host risk score (same as C(assessment.risk.score)).
  returned: when O(summarize_hosts) is not set
  type: float
  sample: 14.5
priority:
  description: The host priority (same as C(assessment.risk.priority)).
  returned: when O(summarize_hosts) is not set
  type: str
  sample: medium
restart_only:
  description: True when the fixes are installed and only processes mapping a replaced file
    remain to be restarted.
  returned: when O(summarize_hosts) is not set
  type: bool
prometheus:
  description: The assessment as node_exporter textfile metrics.
  returned: when O(prometheus=true)
  type: str
summary:
  description: Compact fleet summary (host counts, priorities, severity counts, end-of-life and
    restart-only hosts, top hosts), suitable for C(ansible.builtin.set_stats).
  returned: when O(summarize_hosts) is set
  type: dict
text:
  description: >-
    A short plain-text fleet summary for a terminal (counts, the 10 riskiest hosts,
    end-of-life and restart-only hosts); the full report is in RV(report_files).
  returned: when O(summarize_hosts) is set
  type: str
report_files:
  description: Report files written on the controller.
  returned: always
  type: list
  elements: str
"""
