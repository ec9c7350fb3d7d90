# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``patchwise.openssl.openssl_change_record``: the rollout's audit trail.

Documentation: plugins/modules/openssl_change_record.py. Runs on the controller only (no
connection to the managed host); its only side effects are the record files.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from typing import Any

from ansible import __version__ as ansible_version
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    change_record as cr,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    refresh_strategies as rs,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

EVENTS = ("start", "plan", "schedule", "gate", "host", "finish", "rollback")
HANDLERS = {event: f"_event_{event}" for event in EVENTS}
COLLECTION = "patchwise.openssl"

ARGUMENT_SPEC: dict[str, Any] = {
    "event": {"type": "str", "required": True, "choices": list(EVENTS)},
    "run_id": {"type": "str", "default": ""},
    "record_dir": {"type": "path"},
    "settings": {"type": "dict", "default": {}},
    "inventory": {"type": "list", "elements": "str", "default": []},
    "facts": {"type": "dict"},
    "assessment": {"type": "dict", "default": {}},
    "packages": {"type": "dict", "default": {}},
    "refresh_settings": {"type": "dict", "default": {}},
    "phases": {"type": "list", "elements": "str", "default": []},
    "result": {"type": "dict", "default": {}},
    "rollback": {"type": "dict", "default": {}},
}


def collection_version() -> str:
    """The version of this collection: MANIFEST.json when installed, galaxy.yml in a checkout."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as handle:
            return str(json.load(handle)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("version:"):
                    return line.split(":", 1)[1].strip().strip("'\"")
    except OSError:
        pass
    return "unknown"


def controller_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def strategy_chooser(settings: dict[str, Any]):
    """How the refresh role would treat a service group, from its documented inputs."""
    deny = list(settings.get("deny") or rs.DEFAULT_DENY) + list(settings.get("deny_extra") or [])
    overrides = dict(settings.get("strategies") or {})
    allowed_gates = {
        rs.GATE_RESTART: bool(settings.get("restart_ok")),
        rs.GATE_DISRUPTIVE: bool(settings.get("disruptive_ok")),
    }

    def choose(group: dict[str, Any], systemd_pid1: bool) -> dict[str, Any]:
        denied = rs.deny_match(group, deny)
        name = rs.override_for(group, overrides) or rs.identify(group, systemd_pid1)
        row = rs.STRATEGIES.get(name) or rs.STRATEGIES["report_only"]
        out = row.as_dict()
        out["denied"] = denied
        if row.gate and not allowed_gates.get(row.gate, False):
            out["action"] = f"not allowed ({row.gate} is false): {row.action}"
        return out

    return choose


class ActionModule(ActionBase):
    """Write, extend and finish the change record of a rollout run."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        _result, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        # Controller-side records are artefacts of every run, not changes to a host.
        result["changed"] = False
        try:
            run_id = args["run_id"] or (cr.new_run_id() if args["event"] == "start" else "")
            if not run_id:
                raise AnsibleActionFail(f"event={args['event']} needs run_id")
            run_id = cr.validate_run_id(run_id)
            record_dir = args["record_dir"] or os.path.join("records", run_id)
            store = cr.RecordStore(record_dir)
            handler = getattr(self, HANDLERS[args["event"]])
            result.update(handler(store, run_id, args, task_vars))
            result.update(run_id=run_id, record_dir=store.directory)
        except PatchwiseError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        return result

    # -- helpers ----------------------------------------------------------------------------

    def _mode(self) -> str:
        return "plan" if self._task.check_mode else "apply"

    @staticmethod
    def _inventory_host(task_vars: dict[str, Any]) -> str:
        return str(task_vars.get("inventory_hostname") or "localhost")

    # -- events -----------------------------------------------------------------------------

    def _event_start(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        existing = store.read_run()
        if existing is not None and existing.get("finished_at"):
            raise AnsibleActionFail(
                f"a finished change record for run {run_id} already exists in "
                f"{store.directory}; give a new rollout_run_id (or none to generate one)"
            )
        awx = task_vars.get("tower_job_id") or task_vars.get("awx_job_id")
        meta = {
            "schema_version": cr.SCHEMA_VERSION,
            "kind": "run",
            "run_id": run_id,
            "mode": self._mode(),
            "started_at": cr.utc_now(),
            "finished_at": None,
            "who": {
                "user": controller_user(),
                "controller": socket.gethostname(),
                "awx_job_id": str(awx) if awx else None,
                "awx_user": task_vars.get("tower_user_name") or task_vars.get("awx_user_name"),
            },
            "collection": {"name": COLLECTION, "version": collection_version()},
            "ansible_version": ansible_version,
            "inventory": list(args["inventory"]),
            "settings": dict(args["settings"]),
            "phases": [],
            "halt": None,
            "soak": [],
        }
        with store.lock():
            store.write_run(cr.build_run_record(meta, []))
        return {"msg": f"change record of run {run_id} started in {store.directory}"}

    def _event_plan(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        host = self._inventory_host(task_vars)
        facts = args["facts"]
        if facts is None:
            facts = (task_vars.get("ansible_facts") or {}).get("openssl") or {}
        plan = cr.host_plan(
            host,
            args["assessment"],
            args["packages"],
            facts,
            strategy_chooser(args["refresh_settings"]),
        )
        outcome = "planned" if self._mode() == "plan" else "pending"
        rec = cr.new_host_record(run_id, host, self._mode(), plan, outcome)
        files = store.write_host(rec)
        return {
            "host_plan": plan,
            "record_files": files,
            "msg": f"{host}: "
            + (
                ", ".join(f"{p['name']} {p['from']} -> {p['to']}" for p in plan["packages"])
                or "packages up to date"
            ),
        }

    def _event_schedule(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        settings = args["settings"]
        groups = task_vars.get("groups") or {}
        in_play = set(task_vars.get("ansible_play_hosts_all") or [])
        phase_hosts = [
            {"name": name, "hosts": [h for h in groups.get(name) or [] if h in in_play]}
            for name in args["phases"]
        ]
        records = {r["host"]: r for r in store.host_records()}
        plans = {h: r["plan"] for h, r in records.items() if r.get("plan")}
        phases = cr.plan_phases(
            phase_hosts,
            plans,
            order=str(settings.get("order") or "inventory"),
            min_severity=str(settings.get("min_severity") or ""),
            first_phase_batches=settings.get("first_phase_batches"),
            batches=settings.get("batches"),
        )
        with store.lock():
            for phase in phases:
                where = {"phase": phase["name"], "phase_index": phase["index"]}
                for number, batch in enumerate(phase["batches"], start=1):
                    for host in batch:
                        rec = records.get(host)
                        if rec is not None:
                            rec.update(where, batch=number)
                            store.write_host(rec)
                for ex in phase["excluded"]:
                    rec = records.get(ex["host"]) or cr.new_host_record(
                        run_id, ex["host"], self._mode(), {}, "excluded"
                    )
                    rec.update(where, outcome="excluded", message=ex["reason"])
                    store.write_host(rec)
            meta = store.read_run() or {}
            meta["phases"] = phases
            store.write_run(cr.build_run_record(meta, store.host_records()))
        text = cr.plan_text(phases, records)
        return {
            "phases": phases,
            "plan_text": text,
            "msg": f"{sum(len(p['hosts']) for p in phases)} host(s) in {len(phases)} phase(s)",
        }

    def _event_gate(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        settings = args["settings"]
        try:
            index = int(settings.get("phase_index") or 0)
        except (TypeError, ValueError) as exc:
            raise AnsibleActionFail("event=gate needs settings.phase_index (a number)") from exc
        decision = cr.gate(store.host_records(), index, settings.get("max_fail_percentage") or 0)
        decision["msg"] = decision["message"] or "no failure beyond the tolerance: go on"
        return decision

    def _event_host(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        host = self._inventory_host(task_vars)
        with store.lock():
            rec = store.read_host(host) or cr.new_host_record(
                run_id, host, self._mode(), {}, "pending"
            )
            rec = cr.update_host_record(rec, args["result"], _run_inventory(store))
            files = store.write_host(rec)
        run = store.rebuild_run()
        return {
            "record": rec,
            "record_files": files,
            "run_outcome": run["outcome"],
            "msg": f"{host}: {rec['outcome']}"
            + (f" - {rec['message']}" if rec.get("message") else ""),
        }

    def _event_finish(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        with store.lock():
            meta = store.read_run() or {}
            if self._mode() == "apply":
                for rec in store.host_records():
                    if rec.get("outcome") == "pending":
                        rec.update(
                            outcome="not_reached",
                            message=rec.get("message") or "the rollout did not reach it",
                        )
                        store.write_host(rec)
        settings = meta.get("settings") or {}
        phases = meta.get("phases") or []
        halt = cr.gate(store.host_records(), len(phases), settings.get("max_fail_percentage") or 0)
        run = store.rebuild_run(
            finished=True, finished_at=cr.utc_now(), halt=halt if halt["halt"] else None
        )
        files = [store.run_path("json"), store.run_path("md")]
        counts = {k: v for k, v in run["counts"].items() if v}
        return {
            "outcome": run["outcome"],
            "counts": counts,
            "halt": halt if halt["halt"] else {},
            "way_back": run["way_back"],
            "record_files": files,
            "msg": f"run {run_id}: {run['outcome']} ("
            + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            + f"); record: {files[1]}",
        }

    def _event_rollback(
        self, store: cr.RecordStore, run_id: str, args: dict[str, Any], task_vars: dict[str, Any]
    ) -> dict[str, Any]:
        host = self._inventory_host(task_vars)
        data = dict(args["rollback"])
        data.setdefault("run_id", run_id)
        awx = task_vars.get("tower_job_id") or task_vars.get("awx_job_id")
        data.setdefault("by", controller_user() + (f" (AWX job {awx})" if awx else ""))
        if self._task.check_mode:
            data["trigger"] = "rollback playbook (check mode: planned, nothing restored)"
        warnings = []
        with store.lock():
            if store.read_run() is None:
                warnings.append(
                    f"no change record of run {run_id} in {store.directory}: a new one holds "
                    "only this rollback"
                )
                meta = {
                    "schema_version": cr.SCHEMA_VERSION,
                    "kind": "run",
                    "run_id": run_id,
                    "mode": "apply",
                    "started_at": None,
                    "finished_at": cr.utc_now(),
                    "note": "created by a rollback; the run's own record was not found",
                    "who": {},
                    "collection": {"name": COLLECTION, "version": collection_version()},
                    "settings": {},
                    "phases": [],
                    "inventory": [],
                }
                store.write_run(cr.build_run_record(meta, []))
            rec = store.read_host(host) or cr.new_host_record(
                run_id, host, "apply", {}, "not_reached"
            )
            rec = cr.append_rollback(rec, data)
            files = store.write_host(rec)
        store.rebuild_run()
        out: dict[str, Any] = {
            "record_files": files,
            "msg": f"{host}: rollback appended to {files[1]}",
        }
        if warnings:
            out["warnings"] = warnings
        return out


def _run_inventory(store: cr.RecordStore) -> list[str]:
    run = store.read_run() or {}
    inventory = run.get("inventory")
    return [str(i) for i in inventory] if isinstance(inventory, list) else []
