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


UNREACHABLE_AT_PLAN = (
    "no result came back from the host while the rollout planned it (no facts, no assessment, "
    "no package plan); this run did not change it; a later run plans it once it is back"
)


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
        hostname = socket.gethostname()
        me = cr.controller_process()
        attempts = _earlier_attempts(existing, hostname, me, run_id)
        earlier = _interrupted_runs(store, run_id, hostname)
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
                "controller": hostname,
                "pid": me["pid"],
                "pid_started": me["pid_started"],
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
            "attempts": attempts,
            "earlier_runs": earlier,
        }
        with store.lock():
            store.write_run(cr.build_run_record(meta, []))
        msg = f"change record of run {run_id} started in {store.directory}"
        if attempts:
            msg += f"; attempt {len(attempts) + 1} of this run (the earlier one was interrupted)"
        if earlier:
            msg += "; interrupted earlier run(s): " + ", ".join(e["run_id"] for e in earlier)
        return {"msg": msg, "earlier_runs": earlier, "attempts": attempts}

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
        previous = store.read_host(host)
        if previous is not None and previous.get("outcome") not in ("planned", "pending"):
            rec["previous_attempts"] = [
                *(previous.get("previous_attempts") or []),
                {k: previous.get(k) for k in ("outcome", "message", "finished_at")},
            ]
        _link_rollback_points(store, rec, plan)
        files = store.write_host(rec)
        return {
            "host_plan": plan,
            "record_files": files,
            "msg": f"{host}: "
            + (
                ", ".join(cr.package_change_text(p) for p in plan["packages"])
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
        failures = {
            h: r.get("message") or (r.get("failure") or {}).get("message") or "could not be planned"
            for h, r in records.items()
            if not r.get("plan") and r.get("failure")
        }
        # A host of the play that left no record at all never answered while the rollout
        # planned it (Ansible dropped it as unreachable: no rescue ran). Not planned, not
        # changed - and not a success: it counts against the phase like a pre-flight failure.
        unanswered = {h for p in phase_hosts for h in p["hosts"] if h not in records}
        failures.update(dict.fromkeys(unanswered, UNREACHABLE_AT_PLAN))
        phases = cr.plan_phases(
            phase_hosts,
            plans,
            order=str(settings.get("order") or "inventory"),
            min_severity=str(settings.get("min_severity") or ""),
            first_phase_batches=settings.get("first_phase_batches"),
            batches=settings.get("batches"),
            plan_failures=failures,
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
                for bad in phase["failed"]:
                    # A pre-flight failure at planning is a failure of the phase (the gate
                    # counts it), not an exclusion: the rollout must not look like a success.
                    rec = records.get(bad["host"])
                    outcome = "failed"
                    if rec is None:
                        outcome = "unreachable"
                        rec = cr.new_host_record(run_id, bad["host"], self._mode(), {}, outcome)
                        rec["failure"] = {"task": "", "message": bad["reason"]}
                        records[bad["host"]] = rec
                    rec.update(where, outcome=outcome, batch=None, message=bad["reason"])
                    rec["failure"] = dict(rec.get("failure") or {}, stage="plan")
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
        if decision["halt"] and not self._task.check_mode:
            with store.lock():
                meta = store.read_run() or {}
                if not (meta.get("halt") or {}).get("halt"):
                    # The first halt decision is the one the record and the final message give.
                    meta["halt"] = dict(decision, phase_index=index, at=cr.utc_now())
                    meta.pop("msg", None)
                    store.write_run(cr.build_run_record(meta, store.host_records()))
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
        halt = (
            (meta.get("halt") or {})
            if (meta.get("halt") or {}).get("halt")
            else cr.gate(
                store.host_records(), len(phases), settings.get("max_fail_percentage") or 0
            )
        )
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


def _earlier_attempts(
    existing: dict[str, Any] | None, hostname: str, me: dict[str, Any], run_id: str
) -> list[dict[str, Any]]:
    """The attempts of this run id before this one (an unfinished record: interrupted)."""
    if existing is None:
        return []
    who = existing.get("who") or {}
    alive = cr.controller_alive(who, hostname)
    if alive and who.get("pid") != me["pid"]:
        raise AnsibleActionFail(
            f"run {run_id} is in progress: ansible-playbook pid {who.get('pid')} on this "
            "controller is running it; wait for it, or give another rollout_run_id"
        )
    return [
        *(existing.get("attempts") or []),
        {
            "started_at": existing.get("started_at"),
            "who": who,
            "outcome": "interrupted",
            "detected_at": cr.utc_now(),
            "reason": "its controller process is gone"
            if alive is False
            else "unfinished (controller process not known here)",
        },
    ]


def _interrupted_runs(store: cr.RecordStore, run_id: str, hostname: str) -> list[dict[str, Any]]:
    """Mark the unfinished runs next to this one whose controller process is gone."""
    found = []
    for path, run in cr.unfinished_runs(store.directory):
        if cr.controller_alive(run.get("who"), hostname) is not False:
            continue  # still running, or run from another controller: not ours to judge
        reason = f"its controller process (pid {(run.get('who') or {}).get('pid')}) is gone"
        if cr.mark_interrupted(cr.RecordStore(path), run_id, reason) is None:
            continue
        found.append(
            {
                "run_id": str(run.get("run_id")),
                "outcome": "interrupted",
                "started_at": run.get("started_at"),
                "record_dir": path,
                "reason": reason,
            }
        )
    return found


def _link_rollback_points(store: cr.RecordStore, rec: dict[str, Any], plan: dict[str, Any]) -> None:
    """Tie the rollback points already on the host to this run and to interrupted runs.

    A point of this run id was written by an interrupted attempt of this run: it is this run's
    rollback point (the patch role keeps it). A point of an interrupted earlier run: this
    host's record names it with its way back, and the earlier run's record gets it too.
    """
    meta = store.read_run() or {}
    inventory = [str(i) for i in meta.get("inventory") or []]
    earlier = {str(e.get("run_id")): e for e in meta.get("earlier_runs") or []}
    seen = set()
    for point in plan.get("rollback_points") or []:
        point_id = str(point.get("run_id"))
        if point_id == rec["run_id"]:
            rec["rollback_point"] = cr.point_record(point)
            rec["way_back"] = cr.way_back(point_id, [rec["host"]], inventory)
            rec["warnings"].append(
                f"rollback point {point_id} was already on the host (an interrupted attempt of "
                "this run wrote it); it is kept and holds the versions from before that attempt"
            )
        elif point_id in earlier:
            seen.add(point_id)
            other = cr.RecordStore(str(earlier[point_id].get("record_dir")))
            other_inventory = _run_inventory(other)
            rec["earlier_runs"].append(
                {
                    "run_id": point_id,
                    "outcome": "interrupted",
                    "rollback_point": cr.point_record(point),
                    "way_back": cr.way_back(point_id, [rec["host"]], other_inventory),
                }
            )
            rec["way_back"] = rec["way_back"] or rec["earlier_runs"][-1]["way_back"]
            _update_other(
                other,
                rec["host"],
                point_id,
                lambda r, p=point, i=other_inventory: cr.note_found_point(
                    r, p, rec["run_id"], plan.get("versions_before") or {}, i
                ),
            )
    for point_id, entry in earlier.items():
        if point_id not in seen:
            other = cr.RecordStore(str(entry.get("record_dir")))
            _update_other(
                other,
                rec["host"],
                point_id,
                lambda r: cr.note_no_point(r, rec["run_id"]),
                create=False,
            )


def _update_other(
    other: cr.RecordStore, host: str, run_id: str, change: Any, create: bool = True
) -> None:
    """Update one host record of another (interrupted) run, then its run record."""
    with other.lock():
        current = other.read_host(host)
        if current is None and not create:
            return
        record = current or cr.new_host_record(run_id, host, "apply", {}, "interrupted")
        updated = change(record)
        if updated == current:
            return
        other.write_host(updated)
    other.rebuild_run()


def _run_inventory(store: cr.RecordStore) -> list[str]:
    run = store.read_run() or {}
    inventory = run.get("inventory")
    return [str(i) for i in inventory] if isinstance(inventory, list) else []
