# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``patchwise.openssl.openssl_assess``: offline assessment on the controller.

Documentation: plugins/modules/openssl_assess.py. Nothing is sent to or run on the managed
host; the only side effects are report files on the controller when ``report_dir`` is set.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    report,
    vulndb,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

HOSTS_SUBDIR = report.HOSTS_SUBDIR
FORMATS = ("json", "markdown", "html")
SUMMARY_FILES = {"json": "summary.json", "markdown": "summary.md", "html": "index.html"}

ARGUMENT_SPEC: dict[str, Any] = {
    "facts": {"type": "dict"},
    "db": {"type": "path"},
    "now": {"type": "str", "aliases": ["today"]},
    "fail_on": {"type": "str", "default": "none", "choices": list(assess.FAIL_ON_CHOICES)},
    "enforce_fail_on": {"type": "bool", "default": True},
    "include_statuses": {
        "type": "list",
        "elements": "str",
        "choices": list(assess.STATUSES),
    },
    "max_db_age_days": {"type": "int", "default": assess.DEFAULT_MAX_DB_AGE_DAYS},
    "report_dir": {"type": "path"},
    "run_id": {"type": "str"},
    "prometheus": {"type": "bool", "default": False},
    "summarize_hosts": {"type": "list", "elements": "str"},
    "report_formats": {
        "type": "list",
        "elements": "str",
        "default": list(FORMATS),
        "choices": list(FORMATS),
    },
}

# One Assessor per (database file, day, limit) per process: the caches inside it make the
# second and later hosts assessed in the same process cheap.
_ASSESSORS: dict[tuple[Any, ...], assess.Assessor] = {}


def _assessor(db_path: str | None, now: str | None, max_age: int) -> assess.Assessor:
    today = assess.parse_today(now)
    db = vulndb.load_db(db_path)
    key = (id(db), str(today), max_age)
    found = _ASSESSORS.get(key)
    if found is None:
        if len(_ASSESSORS) > 8:
            _ASSESSORS.clear()
        found = assess.Assessor(db, today, max_db_age_days=max_age)
        _ASSESSORS[key] = found
    return found


def _preload() -> None:
    """Load the shipped database and prepare the default assessor in the importing process.

    ansible's linear strategy imports an action plugin in the controller's main process before
    it forks one worker per host and task; every worker then starts with the parsed, indexed
    database and the per-branch look-ups instead of redoing them (about 20 ms of CPU per host).
    Nothing here may stop the plugin from loading: whatever goes wrong is left for the task,
    which does the same work and reports it.
    """
    with contextlib.suppress(Exception):
        _assessor(None, None, assess.DEFAULT_MAX_DB_AGE_DAYS).prepare()


_preload()


class ActionModule(ActionBase):
    """Assess ``ansible_facts.openssl`` against the vulnerability database, or summarise."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        _result, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[("facts", "summarize_hosts")],
        )
        result = super().run(tmp, task_vars)
        result["changed"] = False
        try:
            if args["summarize_hosts"] is not None:
                result.update(self._summarize(args))
            else:
                result.update(self._assess(args, task_vars))
        except PatchwiseError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return result

    # -- one host ---------------------------------------------------------------------------

    def _assess(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        host = str(task_vars.get("inventory_hostname") or "localhost")
        facts = args["facts"]
        if facts is None:
            facts = (task_vars.get("ansible_facts") or {}).get("openssl")
        if not isinstance(facts, dict) or not facts:
            raise AnsibleActionFail(
                f"no OpenSSL facts for {host}: run patchwise.openssl.openssl_facts first "
                "(it sets ansible_facts.openssl) or pass facts="
            )
        assessor = _assessor(args["db"], args["now"], args["max_db_age_days"])
        assessment = assessor.assess(facts, host, args["fail_on"], args["include_statuses"])
        if args["run_id"]:
            assessment["run_id"] = args["run_id"]
        out: dict[str, Any] = {
            "assessment": assessment,
            "risk_score": assessment["risk"]["score"],
            "priority": assessment["risk"]["priority"],
            "restart_only": assessment["summary"]["restart_only"],
            "report_files": [],
        }
        if args["prometheus"]:
            out["prometheus"] = report.render_prometheus(assessment)
        if args["report_dir"]:
            path = report.write_host_report(args["report_dir"], host, assessment)
            out["report_files"].append(path)
        summary = assessment["summary"]
        out["msg"] = (
            f"{host}: risk {assessment['risk']['score']:g} ({assessment['risk']['priority']}); "
            f"{summary['findings']['vulnerable']} vulnerable, {summary['findings']['unknown']} "
            f"unknown, {summary['findings']['fixed_by_backport']} fixed by backport; "
            f"{summary['stale_processes']} stale process(es)"
        )
        if assessment["warnings"]:
            out["warnings"] = list(dict.fromkeys(assessment["warnings"]))[:20]
        gate = assessment["gate"]
        if gate["exceeded"] and args["enforce_fail_on"]:
            out["failed"] = True
            out["msg"] = f"{host}: fail_on={gate['fail_on']} exceeded: {gate['message']}"
        return out

    # -- fleet ------------------------------------------------------------------------------

    def _summarize(self, args: dict[str, Any]) -> dict[str, Any]:
        report_dir = args["report_dir"]
        if not report_dir:
            raise AnsibleActionFail("summarize_hosts needs report_dir (where the host reports are)")
        results, missing = report.load_host_reports(
            report_dir, args["summarize_hosts"], args["run_id"]
        )
        summary = report.fleet_summary(results, missing)
        if args["run_id"]:
            summary["run_id"] = args["run_id"]
        files = []
        renderers = {
            "json": report.render_json,
            "markdown": report.render_markdown,
            "html": report.render_html,
        }
        for fmt in args["report_formats"]:
            path = os.path.join(report_dir, SUMMARY_FILES[fmt])
            report.write_atomic(path, renderers[fmt](summary))
            files.append(path)
        ranking = summary["ranking"]
        top = ", ".join(f"{r['host']} {r['score']:g} ({r['priority']})" for r in ranking[:5])
        return {
            "summary": report.stats(summary),
            "report_files": files,
            "text": report.render_console(summary),
            "msg": (
                f"{summary['hosts_assessed']} of {summary['hosts_total']} hosts assessed; "
                f"top: {top or '-'}; reports in {report_dir}"
            ),
        }
