# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change records of an OpenSSL rollout: the audit trail written on the controller.

One directory per run (``<record_dir>``) holds ``run.json``/``run.md`` and one
``hosts/<host>.json``/``hosts/<host>.md`` per host. Pure functions build and render the
records from plain dicts (the roles' exported facts); :class:`RecordStore` writes them
atomically (temp file + rename, files ``0600``, directories ``0700``) and serialises the
read-modify-write of the run record with an ``flock`` (hosts of one batch write in parallel).

Nothing here talks to a managed host. Standard library only (Python 3.9+).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import report
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

SCHEMA_VERSION = 1
RUN_FILE = "run"
HOSTS_DIR = "hosts"
LOCK_FILE = ".lock"
FILE_MODE = 0o600
DIR_MODE = 0o700

# Host outcomes, from the best to the worst.
HOST_OUTCOMES = (
    "planned",  # check mode: what would be done
    "up_to_date",  # nothing to upgrade, nothing stale: not touched
    "patched",  # upgraded, refreshed and verified
    "pending",  # scheduled, the phase has not reached it (yet)
    "not_reached",  # the run halted (or ended) before this host
    "interrupted",  # the controller stopped before this host's result was recorded
    "excluded",  # filtered out by the severity threshold
    "failed",  # a step failed before anything changed (nothing to roll back)
    "soak_failed",  # patched, then a health probe failed during the soak
    "rolled_back",  # a step failed after the upgrade; back on the rollback point, verified
    "unreachable",  # no result came back after its change began (the host may be half-done)
    "rollback_failed",  # a step failed and the rollback did not restore a verified state
)
FAILED_OUTCOMES = frozenset({"failed", "soak_failed", "rolled_back", "unreachable",
                             "rollback_failed"})
RUN_OUTCOMES = ("in_progress", "planned", "unchanged", "success", "partial", "halted",
                "interrupted", "failed")
SEVERITIES = ("critical", "high", "moderate", "low")
OPEN_STATUSES = ("vulnerable", "unknown")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# Control characters, and everything str.splitlines() breaks lines at: one Markdown line stays one.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")


class ChangeRecordError(PatchwiseError):
    """A change record could not be built, read or written."""


# =========================================================================================
# small helpers
# =========================================================================================


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def utc_now() -> str:
    """The current UTC time as ISO-8601 with seconds and a ``Z``."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def new_run_id(now: datetime.datetime | None = None, suffix: str | None = None) -> str:
    """A run id: UTC timestamp plus a random suffix, e.g. ``20261122T071500Z-3f9a1c``."""
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    tail = suffix if suffix is not None else os.urandom(3).hex()
    return validate_run_id(f"{stamp}-{tail}")


def validate_run_id(run_id: Any) -> str:
    """Return ``run_id`` when it is safe as a directory name, else raise."""
    text = _str(run_id)
    if not _RUN_ID.match(text) or text in (".", ".."):
        raise ChangeRecordError(
            f"invalid run id {text!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return text


def safe_filename(name: Any) -> str:
    """A host name as a file name: no path separators, no leading dots."""
    cleaned = _SAFE_NAME.sub("_", _str(name)).lstrip(".") or "_"
    return cleaned[:200]


# =========================================================================================
# planning: batches, order, severity
# =========================================================================================


def _batch_size(entry: Any, total: int) -> int:
    """Ansible's ``serial`` semantics (``pct_to_int``): an int, or a percentage of the play's
    hosts rounded down with a minimum of 1. 0 or less means all remaining hosts."""
    text = _str(entry).strip()
    try:
        if text.endswith("%"):
            return int(total * float(text[:-1]) / 100) or 1
        return int(text)
    except (ValueError, OverflowError) as exc:
        raise ChangeRecordError(f"invalid batch size {entry!r}: use a number or 'N%'") from exc


def compute_batches(hosts: list[str], serial: Any) -> list[list[str]]:
    """Split ``hosts`` into the batches Ansible's ``serial`` keyword makes.

    ``serial`` is a list (its last entry repeats), a single value, or empty (one batch).
    A size of 0 means "all remaining hosts", as in Ansible.
    """
    sizes = _list(serial) if isinstance(serial, (list, tuple)) else ([serial] if serial else [])
    remaining = list(hosts)
    if not sizes:
        return [remaining] if remaining else []
    total = len(remaining)
    batches: list[list[str]] = []
    index = 0
    while remaining:
        size = _batch_size(sizes[min(index, len(sizes) - 1)], total)
        if size <= 0:
            size = len(remaining)
        batches.append(remaining[:size])
        remaining = remaining[size:]
        index += 1
    return batches


def order_hosts(hosts: list[str], scores: Mapping[str, Any], order: str) -> list[str]:
    """Hosts in inventory order, or by risk score (highest first, inventory order on ties)."""
    if order == "inventory":
        return list(hosts)
    if order != "risk":
        raise ChangeRecordError(f"invalid order {order!r}: use 'inventory' or 'risk'")

    def score(host: str) -> float:
        try:
            return float(scores.get(host) or 0)
        except (TypeError, ValueError):
            return 0.0

    position = {h: i for i, h in enumerate(hosts)}
    return sorted(hosts, key=lambda h: (-score(h), position[h]))


def meets_severity(counts_at_or_above: Any, min_severity: str) -> bool:
    """Does a host's assessment gate (``counts_at_or_above``) reach ``min_severity``?"""
    if not min_severity or min_severity == "none":
        return True
    if min_severity not in SEVERITIES:
        raise ChangeRecordError(
            f"invalid severity {min_severity!r}: use one of {', '.join(SEVERITIES)} or none"
        )
    try:
        return int(_dict(counts_at_or_above).get(min_severity) or 0) > 0
    except (TypeError, ValueError):
        return False


def plan_phases(
    phases: list[Mapping[str, Any]],
    host_plans: Mapping[str, Mapping[str, Any]],
    order: str = "inventory",
    min_severity: str = "",
    first_phase_batches: Any = None,
    batches: Any = None,
    plan_failures: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Order, filter and batch each phase's hosts.

    ``phases`` is ``[{"name": ..., "hosts": [inventory order]}]``; a host in several phase
    groups belongs to the first. ``host_plans`` maps hosts to their plan (``risk.score``,
    ``gate_counts``). ``plan_failures`` maps hosts whose planning failed (a pre-flight check:
    repository unreachable, target version missing) to the reason: they are ``failed`` in
    their phase, and the gate counts them (the action plugin adds the hosts that never
    answered while the rollout planned). Other hosts without a plan are excluded.
    """
    plan_failures = plan_failures or {}
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for index, phase in enumerate(phases, start=1):
        name = _str(phase.get("name"))
        members = [h for h in dict.fromkeys(_list(phase.get("hosts"))) if h not in seen]
        seen.update(members)
        included: list[str] = []
        excluded: list[dict[str, str]] = []
        failed: list[dict[str, str]] = []
        for host in members:
            plan = host_plans.get(host)
            if host in plan_failures:
                failed.append({"host": host, "reason": _str(plan_failures[host])})
            elif not isinstance(plan, Mapping):
                excluded.append({"host": host, "reason": "no plan (facts or assessment failed)"})
            elif not meets_severity(plan.get("gate_counts"), min_severity):
                excluded.append(
                    {"host": host, "reason": f"no vulnerable finding at or above {min_severity}"}
                )
            else:
                included.append(host)
        scores = {h: _dict(host_plans[h].get("risk")).get("score") for h in included}
        ordered = order_hosts(included, scores, order)
        serial = first_phase_batches if index == 1 else batches
        out.append(
            {
                "index": index,
                "name": name,
                "hosts": ordered,
                "excluded": excluded,
                "failed": failed,
                "batches": compute_batches(ordered, serial),
            }
        )
    return out


# =========================================================================================
# what a host plan and a host result contain
# =========================================================================================


def _finding_map(assessment: Any) -> dict[str, dict[str, Any]]:
    """Worst status per CVE of an assessment (``findings`` list)."""
    rank = {s: i for i, s in enumerate(("vulnerable", "unknown", "patched_in_memory",
                                        "fixed_by_backport", "fixed", "not_assessed"))}
    out: dict[str, dict[str, Any]] = {}
    for finding in _list(_dict(assessment).get("findings")):
        if not isinstance(finding, Mapping) or not finding.get("cve"):
            continue
        cve = _str(finding.get("cve"))
        status = _str(finding.get("status"), "unknown")
        current = out.get(cve)
        if current is None or rank.get(status, 99) < rank.get(current["status"], 99):
            out[cve] = {"cve": cve, "severity": _str(finding.get("severity"), "unrated"),
                        "status": status}
    return out


def cve_delta(before: Any, after: Any) -> dict[str, Any]:
    """CVEs closed, still open and newly open between two assessments of one host.

    Open means ``vulnerable`` or ``unknown`` (no evidence of a fix). Without an assessment
    after the change the delta is ``None`` values (not assessed), never "closed".
    """
    b = _finding_map(before)
    if not _dict(after):
        return {"assessed": False, "closed": [], "remaining": [], "introduced": [],
                "open_before": sorted(c for c, f in b.items() if f["status"] in OPEN_STATUSES)}
    a = _finding_map(after)
    closed, remaining, introduced = [], [], []
    for cve in sorted(set(b) | set(a)):
        fb, fa = b.get(cve), a.get(cve)
        open_b = fb is not None and fb["status"] in OPEN_STATUSES
        open_a = fa is not None and fa["status"] in OPEN_STATUSES
        row = {
            "cve": cve,
            "severity": (fa or fb or {}).get("severity", "unrated"),
            "before": fb["status"] if fb else "absent",
            "after": fa["status"] if fa else "absent",
        }
        if open_b and not open_a:
            closed.append(row)
        elif open_b and open_a:
            remaining.append(row)
        elif open_a:
            introduced.append(row)
    return {"assessed": True, "closed": closed, "remaining": remaining,
            "introduced": introduced,
            "open_before": sorted(c for c, f in b.items() if f["status"] in OPEN_STATUSES)}


def _package_name(name: Any) -> str | None:
    """``libssl3:amd64`` -> ``libssl3`` (dpkg's multi-arch spelling in the facts)."""
    return None if name is None else _str(name).split(":", 1)[0]


def _changed_package_paths(facts: Mapping[str, Any], names: set[str]) -> tuple[set[str], bool]:
    """Library paths shipped by the packages that will change (and whether any is unknown)."""
    paths: set[str] = set()
    unknown = False
    for lib in _list(facts.get("libraries")):
        if not isinstance(lib, Mapping):
            continue
        package = _package_name(lib.get("package"))
        if package is None:
            unknown = True
        if package in names:
            for key in ("path", "real_path"):
                if lib.get(key):
                    paths.add(_str(lib[key]))
    for pkg in _list(facts.get("packages")):
        if isinstance(pkg, Mapping) and _package_name(pkg.get("name")) in names:
            paths.update(_str(p) for p in _list(pkg.get("provides_libraries")))
    return paths, unknown


def predict_refresh(
    facts: Any,
    changed_packages: Iterable[Any],
    strategy_for: Any = None,
) -> list[dict[str, Any]]:
    """Services that will map a replaced library after the upgrade, and how to refresh them.

    ``strategy_for(group, systemd_pid1) -> dict`` (``strategy``, ``action``, ``disruptive``,
    ``gate``, ``denied``) names the refresh strategy; without it only the services are listed.
    Processes are grouped by service (else by master pid), one entry per group.
    """
    facts = _dict(facts)
    names = {_package_name(_dict(p).get("name")) or "" for p in changed_packages
             if isinstance(p, Mapping)}
    if not names:
        return []
    paths, _missing = _changed_package_paths(facts, names)
    systemd_pid1 = bool(_dict(facts.get("distro")).get("systemd_pid1"))
    groups: dict[str, dict[str, Any]] = {}
    for proc in _list(facts.get("processes")):
        if not isinstance(proc, Mapping) or proc.get("exited"):  # gone before the scan ended
            continue
        libs = [_dict(lib) for lib in _list(proc.get("libraries"))]
        hit = any(_str(lib.get("path")) in paths for lib in libs) if paths else bool(libs)
        if not hit:
            continue
        if proc.get("container"):
            key = f"container:{proc.get('container')}"
        elif proc.get("service"):
            key = f"service:{proc.get('service')}"
        else:
            key = f"pid:{proc.get('master_pid') or proc.get('pid')}"
        group = groups.setdefault(key, {"key": key, "service": proc.get("service"),
                                        "container": proc.get("container"), "processes": []})
        group["processes"].append(proc)
    out: list[dict[str, Any]] = []
    for key in sorted(groups):
        group = groups[key]
        procs = group["processes"]
        master = next((p for p in procs if p.get("pid") == p.get("master_pid")), None) or min(
            procs, key=lambda p: int(p.get("pid") or 0) if _str(p.get("pid")).isdigit() else 0
        )
        group["master"] = master
        group["kind"] = "pid1" if _str(master.get("pid")) == "1" else (
            "container" if group["container"] else ("service" if group["service"] else "process")
        )
        entry: dict[str, Any] = {
            "name": _str(group["service"] or master.get("comm") or master.get("exe") or key),
            "kind": group["kind"],
            "pids": sorted({int(p["pid"]) for p in procs if _str(p.get("pid")).isdigit()}),
            "listening": sorted({
                f"{_dict(s).get('address')}:{_dict(s).get('port')}"
                for p in procs for s in _list(p.get("listening"))
            }),
        }
        if group["kind"] == "container":
            entry.update(strategy="report_only", how="in a container: refresh inside it",
                         disruptive=False, drain_window=False)
        elif strategy_for is not None:
            chosen = _dict(strategy_for(group, systemd_pid1))
            entry.update(
                strategy=_str(chosen.get("strategy"), "unknown"),
                how=_str(chosen.get("action")),
                disruptive=bool(chosen.get("disruptive")),
                drain_window=bool(chosen.get("disruptive")),
            )
            if chosen.get("denied"):
                entry.update(strategy="report_only", drain_window=True,
                             how=f"deny-listed ({chosen['denied']}): maintenance window or reboot")
            elif chosen.get("gate"):
                entry["gate"] = _str(chosen["gate"])
            if group["kind"] == "process" and not chosen.get("denied"):
                entry["how"] = (f"{entry['how']} (no unit in the facts: the refresh role looks "
                                "for an init script; without one the process is only reported)")
        out.append(entry)
    return out


def host_plan(
    host: str,
    assessment: Any,
    packages: Any,
    facts: Any,
    strategy_for: Any = None,
) -> dict[str, Any]:
    """One host's plan: assessment, ``openssl_packages`` check-mode result and facts."""
    assessment = _dict(assessment)
    packages = _dict(packages)
    changed = [_dict(p) for p in _list(packages.get("changed_packages"))]
    held = held_summary(packages)
    held_names = {h["name"] for h in held}
    facts = _dict(facts)
    stale = [
        {"pid": p.get("pid"), "comm": p.get("comm"), "service": p.get("service")}
        for p in _list(facts.get("processes"))
        if isinstance(p, Mapping) and p.get("stale")
    ]
    return {
        "host": _str(host),
        "risk": {
            "score": _dict(assessment.get("risk")).get("score"),
            "priority": _dict(assessment.get("risk")).get("priority"),
        },
        "gate_counts": _dict(_dict(assessment.get("gate")).get("counts_at_or_above")),
        "packages": [
            {"name": _str(p.get("name")), "from": p.get("from"), "to": p.get("to"),
             "held": _str(p.get("name")) in held_names}
            for p in changed
        ],
        "held": held,
        "versions_before": {str(k): _str(v) for k, v in _dict(packages.get("before")).items()},
        "services": predict_refresh(facts, changed, strategy_for),
        "stale_processes": stale,
        "open_cves": sorted(
            c for c, f in _finding_map(assessment).items() if f["status"] in OPEN_STATUSES
        ),
        "needs_change": bool(changed or stale),
        "rollback_points": [_point_summary(p) for p in _list(packages.get("rollback_points"))],
        "warnings": [_str(w) for w in _list(packages.get("warnings"))][:20],
    }


def _point_summary(point: Any) -> dict[str, Any]:
    """A rollback point as the module lists it: run id, time, path, package versions."""
    point = _dict(point)
    return {
        "run_id": _str(point.get("run_id")),
        "created_at": _str(point.get("created_at")),
        "path": _str(point.get("path")),
        "packages": [
            {"name": _str(_dict(p).get("name")), "version": _str(_dict(p).get("version"))}
            for p in _list(point.get("packages"))
        ],
        "restores": point.get("restores"),
    }


HOLD_KEPT_NOTE = "on hold; upgraded with patch_allow_held, hold kept"
HOLD_NOTE = "on hold, not changed"


def held_summary(packages: Any, allow_held: Any = None) -> list[dict[str, Any]]:
    """The OpenSSL packages on hold, from an ``openssl_packages`` result (``held``).

    Each with ``name``, ``version`` (installed), ``to``, ``action`` and ``hold_kept``: the
    package is upgraded (or planned to be) with ``allow_held`` and its hold put back. The
    module refuses a plan that upgrades a held package unless ``allow_held``, and fails when
    it cannot put the hold back: a result that is not failed and upgrades a held package
    therefore ran with ``allow_held`` and kept the hold. ``allow_held`` (when known) says so
    for a failed result.
    """
    packages = _dict(packages)
    allowed = not packages.get("failed") if allow_held is None else bool(allow_held)
    out = []
    for row in _list(packages.get("held")):
        row = _dict(row)
        if not row.get("name"):
            continue
        action = row.get("action")
        out.append({
            "name": _str(row.get("name")),
            "arch": row.get("arch"),
            "version": row.get("version"),
            "to": row.get("to"),
            "action": action,
            "hold_kept": bool(action == "upgrade" and allowed),
        })
    return out


def unfinished_summary(packages: Any) -> list[dict[str, Any]]:
    """The packages dpkg did not finish, from an ``openssl_packages`` result (``unfinished``):
    ``name``, ``version``, ``status``, ``state``, ``config_version`` (the version dpkg last
    configured), ``openssl`` and ``rollback_points`` (run ids holding that version)."""
    out = []
    for row in _list(_dict(packages).get("unfinished")):
        row = _dict(row)
        if not row.get("name"):
            continue
        out.append({
            "name": _str(row.get("name")),
            "arch": row.get("arch"),
            "version": row.get("version"),
            "status": row.get("status"),
            "state": row.get("state"),
            "config_version": row.get("config_version"),
            "openssl": row.get("openssl"),
            "rollback_points": [_str(r) for r in _list(row.get("rollback_points"))],
        })
    return out


def refusal(packages: Any, allow_held: Any = False) -> dict[str, Any]:
    """Why ``openssl_packages`` refused a host before any change, as data.

    ``unfinished``: dpkg did not finish an earlier run (the module always refuses then);
    ``held``: the held packages the plan would upgrade without ``allow_held``. ``reason`` is
    ``unfinished``, ``held`` or empty (the failure was something else).
    """
    unfinished = unfinished_summary(packages)
    blocked = [] if allow_held else [
        dict(h, hold_kept=False) for h in held_summary(packages, False)
        if h["action"] == "upgrade"
    ]
    out: dict[str, Any] = {}
    if unfinished:
        out["unfinished"] = unfinished
    if blocked:
        out["held"] = blocked
    if out:
        out["reason"] = "unfinished" if unfinished else "held"
    return out


def package_change_text(change: Mapping[str, Any], held: Iterable[str] = ()) -> str:
    """``libssl3 3.0.1 -> 3.0.2``, with ``(on hold; upgraded with patch_allow_held, hold
    kept)`` for a held package."""
    change = _dict(change)
    text = f"{change.get('name')} {change.get('from')} -> {change.get('to')}"
    if change.get("held") or _str(change.get("name")) in set(held):
        text += f" ({HOLD_KEPT_NOTE})"
    return text


def unfinished_text(row: Mapping[str, Any]) -> str:
    """One package dpkg did not finish, in words."""
    row = _dict(row)
    points = _list(row.get("rollback_points"))
    return (
        f"{row.get('name')} {row.get('version')} is {row.get('state') or 'not finished'} "
        f"(dpkg '{row.get('status')}'); last configured version "
        f"{row.get('config_version') or 'none'}; rollback point(s): "
        + (", ".join(_str(p) for p in points) if points else "none on the host")
    )


def held_text(row: Mapping[str, Any]) -> str:
    """One held package the plan would upgrade, in words."""
    row = _dict(row)
    return (f"{row.get('name')} {row.get('version')} is on hold; the plan upgrades it to "
            f"{row.get('to')} (apt-mark unhold it, or set patch_allow_held=true)")


def refusal_lines(failure: Mapping[str, Any]) -> list[str]:
    """A refusal's structured reason (``failure.unfinished``, ``failure.held``) in words."""
    failure = _dict(failure)
    lines = [f"dpkg did not finish: {unfinished_text(_dict(r))}"
             for r in _list(failure.get("unfinished"))]
    lines += [f"on hold: {held_text(_dict(r))}" for r in _list(failure.get("held"))]
    return lines


# =========================================================================================
# records
# =========================================================================================


def way_back(run_id: str, hosts: Iterable[str], inventory: Iterable[str] = ()) -> str:
    """The exact command that rolls ``hosts`` back to this run's rollback points."""
    argv = ["ansible-playbook"]
    for source in inventory:
        argv += ["-i", _str(source)]
    argv += ["patchwise.openssl.rollback", "-e", f"rollback_run_id={run_id}"]
    host_list = [h for h in dict.fromkeys(_str(h) for h in hosts) if h]
    if host_list:
        argv += ["-e", f"rollback_hosts={','.join(host_list)}"]
    return " ".join(shlex.quote(a) for a in argv)


def new_host_record(run_id: str, host: str, mode: str, plan: Mapping[str, Any],
                    outcome: str) -> dict[str, Any]:
    """A host record holding only the plan (written before the host is reached)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "host",
        "run_id": run_id,
        "host": _str(host),
        "mode": mode,
        "phase": None,
        "phase_index": None,
        "batch": None,
        "outcome": _check_outcome(outcome),
        "message": "",
        "planned_at": utc_now(),
        "started_at": None,
        "finished_at": None,
        "plan": _dict(plan),
        "versions_before": _dict(_dict(plan).get("versions_before")),
        "versions_after": {},
        "cves": {},
        "tests": [],
        "tests_passed": None,
        "services": [],
        "refresh": {},
        "rollback_point": {},
        "way_back": "",
        "failure": None,
        "rollback": None,
        "rollbacks": [],
        "earlier_runs": [],
        "hooks": {},
        "warnings": [],
    }


def _check_outcome(outcome: Any) -> str:
    text = _str(outcome)
    if text not in HOST_OUTCOMES:
        raise ChangeRecordError(
            f"invalid host outcome {text!r}: use one of {', '.join(HOST_OUTCOMES)}"
        )
    return text


def _services_done(refresh: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Normalise the refresh module's per-service results."""
    out = []
    for svc in _list(refresh.get("services")):
        svc = _dict(svc)
        if not svc:
            continue
        out.append({
            "name": _str(svc.get("name")),
            "strategy": _str(svc.get("strategy")),
            "status": _str(svc.get("status")),
            "error": svc.get("error"),
            "elapsed_seconds": svc.get("elapsed_seconds"),
        })
    return out


def _tests(results: Any) -> list[dict[str, str]]:
    out = []
    for row in _list(results):
        row = _dict(row)
        if row:
            out.append({k: _str(row.get(k)) for k in ("check", "target", "result", "detail")})
    return out


def update_host_record(record: Mapping[str, Any], result: Mapping[str, Any],
                       inventory: Iterable[str] = ()) -> dict[str, Any]:
    """Merge a host's result (outcome, patch/refresh/verify/rollback facts) into its record."""
    rec = dict(record)
    result = _dict(result)
    rec["outcome"] = _check_outcome(result.get("outcome", rec.get("outcome")))
    for key in ("phase", "batch", "message", "started_at"):
        if result.get(key) is not None:
            rec[key] = result[key]
    rec["finished_at"] = _str(result.get("finished_at")) or utc_now()
    patch = _dict(result.get("patch"))
    if patch:
        if _dict(patch.get("before")):
            rec["versions_before"] = _dict(patch.get("before"))
        rec["versions_after"] = _dict(patch.get("after"))
        if _dict(patch.get("after_states")):
            rec["package_states_after"] = _dict(patch.get("after_states"))
        rec["packages_changed"] = [_dict(p) for p in _list(patch.get("changed_packages"))]
        if "held" in patch:
            rec["packages_held"] = held_summary(
                {"held": patch.get("held"), "failed": bool(result.get("failure"))},
                patch.get("allow_held"),
            )
        point = _dict(patch.get("rollback_point"))
        if point:
            rec["rollback_point"] = {
                "run_id": point.get("run_id"),
                "path": point.get("path"),
                "manifest": point.get("manifest"),
                "packages": [
                    {k: _dict(p).get(k) for k in ("name", "arch", "version", "file", "sha256",
                                                  "origin")}
                    for p in _list(point.get("packages"))
                ],
            }
            rec["way_back"] = way_back(_str(point.get("run_id") or rec["run_id"]),
                                       [rec["host"]], inventory)
    refresh = _dict(result.get("refresh"))
    if refresh:
        rec["services"] = _services_done(refresh)
        rec["refresh"] = {
            "required": refresh.get("required"),
            "reboot_required": refresh.get("reboot_required"),
            "failed_services": [_str(s) for s in _list(refresh.get("failed_services"))],
            "leftover": len(_list(refresh.get("leftover"))),
        }
    verify = _dict(result.get("verify"))
    if verify:
        rec["tests"] = _tests(verify.get("results"))
        passed = verify.get("passed")
        rec["tests_passed"] = None if passed is None else bool(passed)
    if "assessment_after" in result:
        rec["cves"] = cve_delta(result.get("assessment_before") or {},
                                result.get("assessment_after"))
    failure = _dict(result.get("failure"))
    if failure:
        rec["failure"] = {"task": _str(failure.get("task")),
                          "message": _str(failure.get("message")),
                          "stage": _str(failure.get("stage"), "change")}
        # The structured reason of a refusal: from the planning's failed result (failure)
        # or from the patch role's exported facts (patch).
        source = failure if ("unfinished" in failure or "held" in failure) else patch
        rec["failure"].update(refusal(source, _allow_held(failure, patch)))
    rollback = _dict(result.get("rollback"))
    if rollback:
        rec["rollback"] = _rollback_entry(rollback)
    hooks = _dict(result.get("hooks"))
    if hooks:
        rec["hooks"] = {k: [_str(v) for v in _list(hooks.get(k))] for k in hooks}
    soak = _list(result.get("soak"))
    if soak:
        rec["soak"] = [*_list(rec.get("soak")), *(dict(_dict(s), at=utc_now()) for s in soak)]
    if "warnings" in result:
        rec["warnings"] = [_str(w) for w in _list(result.get("warnings"))][:50]
    return rec


def _allow_held(*sources: Mapping[str, Any]) -> bool:
    """``allow_held`` of the first source that has it (Ansible's boolean spellings)."""
    for source in sources:
        if "allow_held" in source:
            return boolean(source.get("allow_held"), strict=False)
    return False


def _rollback_entry(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "at": _str(data.get("at")) or utc_now(),
        "trigger": _str(data.get("trigger"), "automatic"),
        "run_id": data.get("run_id"),
        "changed": data.get("changed"),
        "restored_packages": [_dict(p) for p in _list(data.get("restored_packages"))],
        "versions_before": _dict(data.get("before")),
        "versions_after": _dict(data.get("after")),
        "audit": _str(data.get("audit")),
        "tests": _tests(data.get("verify_results")),
        "tests_passed": None if data.get("verify_passed") is None
        else bool(data.get("verify_passed")),
        "error": data.get("error"),
        "by": data.get("by"),
    }


def append_rollback(record: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Append a later rollback (playbook ``patchwise.openssl.rollback``) to a host record."""
    rec = dict(record)
    entry = _rollback_entry(dict(data, trigger=data.get("trigger") or "rollback playbook"))
    rec["rollbacks"] = [*_list(rec.get("rollbacks")), entry]
    return rec


def run_outcome(host_records: Iterable[Mapping[str, Any]], mode: str, finished: bool,
                halted: bool = False, interrupted: bool = False) -> str:
    """The run's outcome from its host records.

    ``failed``: a rollback did not restore a verified state; ``interrupted``: the controller
    stopped before the run was finished (found by a later run); ``halted``: the rollout
    stopped early; ``partial``: it went on within the failure tolerance but some hosts failed.
    """
    outcomes = [_str(r.get("outcome")) for r in host_records]
    if "rollback_failed" in outcomes and mode != "plan":
        return "failed"
    if interrupted:
        return "interrupted"
    if mode == "plan":
        return "planned"
    if not finished:
        return "in_progress"
    if halted:
        return "halted"
    if any(o in FAILED_OUTCOMES for o in outcomes):
        return "partial"
    if any(o == "patched" for o in outcomes):
        return "success"
    return "unchanged"


def gate(host_records: Iterable[Mapping[str, Any]], phase_index: int,
         max_fail_percentage: int) -> dict[str, Any]:
    """May the rollout go on after the hosts recorded so far?

    For every phase up to ``phase_index``: the first phase tolerates no failure; later
    phases tolerate failed hosts up to ``max_fail_percentage`` of the hosts reached in the
    phase (0 = none). Phases after ``phase_index`` have not begun, but their planning failures
    (pre-flight: repository unreachable, target version missing) are known: the same rule,
    against all the phase's hosts, halts the rollout before anything changes. Returns
    ``halt``, ``message``, ``phase``, ``host`` and ``failed_hosts``.
    """
    try:
        limit = int(max_fail_percentage)
    except (TypeError, ValueError) as exc:
        raise ChangeRecordError(f"invalid max_fail_percentage {max_fail_percentage!r}") from exc
    by_phase: dict[int, list[Mapping[str, Any]]] = {}
    for rec in host_records:
        try:
            index = int(rec.get("phase_index") or 0)
        except (TypeError, ValueError):
            continue
        if index > 0:
            by_phase.setdefault(index, []).append(rec)
    for index in sorted(by_phase):
        records = by_phase[index]
        checks = [_planning_check(records)]
        if index <= phase_index:
            checks.append(_change_check(records))
        for failed, counted, what in checks:
            if not failed:
                continue
            share = 100.0 * len(failed) / len(counted)
            if index > 1 and share <= limit:
                continue
            first = failed[0]
            rule = ("the first phase tolerates no failure" if index == 1 else
                    f"{len(failed)} of {len(counted)} {what} "
                    f"({share:.0f}% > rollout_max_fail_percentage {limit}%)")
            where = "at planning" if planning_failed(first) else f"batch {first.get('batch')}"
            message = (
                f"host {first.get('host')} (phase {first.get('phase')}, {where}) "
                f"{first.get('outcome')}: {_str(first.get('message')) or 'no message'}; "
                f"the rollout halted because {rule}"
            )
            return {"halt": True, "message": message, "phase": _str(first.get("phase")),
                    "host": first.get("host"),
                    "failed_hosts": [_str(r.get("host")) for r in failed]}
    return {"halt": False, "message": "", "phase": None, "host": None, "failed_hosts": []}


def _by_time(records: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(records, key=lambda r: (_str(r.get("finished_at")), _str(r.get("host"))))


def _planning_check(records: list[Mapping[str, Any]]) -> tuple[list[Any], list[Any], str]:
    """Planning failures (known before the phase begins) against all the phase's hosts."""
    counted = [r for r in records if r.get("outcome") != "excluded"]
    failed = _by_time([r for r in counted if planning_failed(r)])
    return failed, counted, "hosts of the phase failed at planning (before any change)"


def _change_check(records: list[Mapping[str, Any]]) -> tuple[list[Any], list[Any], str]:
    """Failures of hosts the phase reached, against the hosts reached."""
    reached = [r for r in records if not planning_failed(r) and r.get("outcome") not in
               ("pending", "excluded", "planned", "not_reached", "interrupted")]
    failed = _by_time([r for r in reached if r.get("outcome") in FAILED_OUTCOMES])
    return failed, reached, "hosts reached in the phase failed"


def planning_failed(rec: Mapping[str, Any]) -> bool:
    """Did this host fail while the rollout planned it (before any change anywhere)?"""
    return (rec.get("outcome") in ("failed", "unreachable")
            and _dict(rec.get("failure")).get("stage") == "plan")


def plan_text(phases: list[Mapping[str, Any]], host_records: Mapping[str, Mapping[str, Any]]
              ) -> list[str]:
    """The plan as lines: per phase and batch, each host's versions and services."""
    lines: list[str] = []
    for phase in phases:
        lines.append(f"Phase {phase.get('index')} {phase.get('name')}: "
                     f"{len(_list(phase.get('hosts')))} host(s)")
        for number, batch in enumerate(_list(phase.get("batches")), start=1):
            lines.append(f"  batch {number}: {', '.join(_str(h) for h in _list(batch))}")
            for host in _list(batch):
                plan = _dict(_dict(host_records.get(host)).get("plan"))
                pkgs = ", ".join(package_change_text(_dict(p))
                                 for p in _list(plan.get("packages")))
                risk = _dict(plan.get("risk"))
                lines.append(f"    {host} (risk {risk.get('score')}, {risk.get('priority')}): "
                             + (pkgs or "packages up to date"))
                for svc in _list(plan.get("services")):
                    svc = _dict(svc)
                    window = "needs a drain window" if svc.get("drain_window") else "no downtime"
                    lines.append(f"      refresh {svc.get('name')}: {svc.get('strategy')} "
                                 f"({window}) - {svc.get('how')}")
                stale = _list(plan.get("stale_processes"))
                if stale:
                    lines.append(f"      {len(stale)} process(es) already map a replaced library")
        for ex in _list(phase.get("excluded")):
            lines.append(f"  excluded: {_dict(ex).get('host')} ({_dict(ex).get('reason')})")
    return lines


def host_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the run record's host table."""
    plan = _dict(rec.get("plan"))
    before = _dict(rec.get("versions_before"))
    after = _dict(rec.get("versions_after"))
    kept = {_str(_dict(h).get("name")) for h in
            _list(rec.get("packages_held")) or _list(plan.get("held"))
            if _dict(h).get("hold_kept")}
    changes = [
        package_change_text(_dict(p)) for p in _list(plan.get("packages"))
    ] if rec.get("outcome") in ("planned", "pending", "not_reached", "excluded") else [
        package_change_text({"name": name, "from": before.get(name), "to": after.get(name)},
                            kept)
        for name in sorted(after) if before.get(name) != after.get(name)
    ]
    tests = _list(rec.get("tests"))
    cves = _dict(rec.get("cves"))
    return {
        "host": rec.get("host"),
        "phase": rec.get("phase"),
        "batch": rec.get("batch"),
        "outcome": rec.get("outcome"),
        "risk": _dict(plan.get("risk")).get("score"),
        "changes": changes,
        "cves_closed": len(_list(cves.get("closed"))) if cves.get("assessed") else None,
        "tests_passed": sum(1 for t in tests if _dict(t).get("result") == "passed"),
        "tests_failed": sum(1 for t in tests if _dict(t).get("result") == "failed"),
        "services": [_str(_dict(s).get("name")) for s in _list(rec.get("services"))],
        "rollback_run_id": _dict(rec.get("rollback_point")).get("run_id"),
        "message": rec.get("message") or "",
        "refused": refusal_lines(_dict(rec.get("failure"))),
    }


def build_run_record(meta: Mapping[str, Any], host_records: list[Mapping[str, Any]],
                     finished: bool = False) -> dict[str, Any]:
    """The run record: metadata plus one row per host, outcome and the way back."""
    run = dict(meta)
    ordered = sorted(host_records, key=lambda r: _str(r.get("host")))
    run["hosts"] = [host_row(r) for r in ordered]
    run["counts"] = {o: sum(1 for r in ordered if r.get("outcome") == o) for o in HOST_OUTCOMES}
    run["outcome"] = run_outcome(ordered, _str(run.get("mode")), finished,
                                 halted=bool(_dict(run.get("halt")).get("halt")),
                                 interrupted=bool(_dict(run.get("interrupted"))))
    run["soak"] = [
        dict(_dict(s), host=r.get("host"), phase=r.get("phase"))
        for r in ordered for s in _list(r.get("soak"))
    ]
    changed_hosts = [
        _str(r.get("host")) for r in ordered if _dict(r.get("rollback_point")).get("run_id")
    ]
    run["way_back"] = (
        way_back(_str(run.get("run_id")), changed_hosts, _list(run.get("inventory")))
        if changed_hosts else ""
    )
    earlier: dict[str, list[str]] = {}
    for rec in ordered:
        for entry in _list(rec.get("earlier_runs")):
            entry = _dict(entry)
            if entry.get("rollback_point"):
                earlier.setdefault(_str(entry.get("run_id")), []).append(_str(rec.get("host")))
    run["earlier_way_back"] = {
        run_id: way_back(run_id, hosts, _list(run.get("inventory")))
        for run_id, hosts in sorted(earlier.items())
    }
    rollbacks = []
    for rec in ordered:
        for entry in _list(rec.get("rollbacks")):
            rollbacks.append(dict(_dict(entry), host=rec.get("host")))
    run["rollbacks"] = sorted(rollbacks, key=lambda e: (_str(e.get("at")), _str(e.get("host"))))
    return run


# =========================================================================================
# rendering
# =========================================================================================


def render_json(data: Any) -> str:
    """Stable, indented JSON with a trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n"


def md(text: Any) -> str:
    """Escape text for one Markdown table cell or list item (one line, no markup)."""
    out = _str(text).replace("\\", "\\\\").replace("|", "\\|")
    out = _CONTROL.sub(" ", out)
    return re.sub(r"([*`<\[\]])", r"\\\1", out)


def _code(text: Any) -> str:
    """Inline code that cannot be broken out of: a fence longer than any backtick run."""
    value = _CONTROL.sub(" ", _str(text))
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or not value else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines


def _versions_table(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    names = sorted(set(before) | set(after))
    if not names:
        return ["None recorded."]
    return _table(["package", "before", "after"],
                  [[n, before.get(n, "-"), after.get(n, "-")] for n in names])


def _tests_lines(tests: list[Any], passed: Any) -> list[str]:
    if not tests:
        return ["None run."]
    verdict = "passed" if passed else ("failed" if passed is not None else "not decided")
    return [f"Overall: **{verdict}**.", "", *_table(
        ["check", "target", "result", "detail"],
        [[_dict(t).get(k, "") for k in ("check", "target", "result", "detail")] for t in tests],
    )]


def _rollback_lines(entry: Mapping[str, Any], title: str) -> list[str]:
    lines = [f"### {md(title)}", ""]
    lines.append(f"- at: {md(entry.get('at'))}; trigger: {md(entry.get('trigger'))}")
    if entry.get("by"):
        lines.append(f"- by: {md(entry.get('by'))}")
    if entry.get("run_id"):
        lines.append(f"- rollback point: {md(entry.get('run_id'))}")
    if entry.get("error"):
        lines.append(f"- error: {md(entry.get('error'))}")
    audit = _str(entry.get("audit"))
    lines.append(f"- dpkg --audit: {md(audit) if audit else 'clean'}")
    lines += ["", *_versions_table(_dict(entry.get("versions_before")),
                                   _dict(entry.get("versions_after"))), ""]
    lines += _tests_lines(_list(entry.get("tests")), entry.get("tests_passed"))
    return [*lines, ""]


def _held_lines(plan: Mapping[str, Any], rec: Mapping[str, Any]) -> list[str]:
    """The packages on hold: upgraded with the hold kept, or left alone."""
    held = [_dict(h) for h in _list(rec.get("packages_held")) or _list(plan.get("held"))]
    if not held:
        return []
    done = bool(_list(rec.get("packages_held")))
    lines = ["", "Packages on hold:" if not done else "Packages on hold (this run):", ""]
    for row in held:
        if row.get("hold_kept"):
            what = (f"upgraded to {md(row.get('to'))} with patch_allow_held, hold kept"
                    if done else f"planned to {md(row.get('to'))} with patch_allow_held, "
                    "the hold is put back")
        elif row.get("action") == "upgrade":
            what = f"the plan would upgrade it to {md(row.get('to'))}: refused"
        else:
            what = "not changed"
        lines.append(f"- {md(row.get('name'))} {md(row.get('version'))}: {what}")
    return lines


def _refusal_markdown(failure: Mapping[str, Any]) -> list[str]:
    """``failure.unfinished`` and ``failure.held`` as tables."""
    lines: list[str] = []
    unfinished = [_dict(r) for r in _list(failure.get("unfinished"))]
    if unfinished:
        lines += ["", "dpkg did not finish an earlier package run on this host (nothing was "
                      "changed; roll back to the rollback point, or repair the cause and finish "
                      "it with `dpkg --configure -a`; a half-installed package needs a "
                      "reinstall):", "",
                  *_table(["package", "version", "dpkg state", "last configured version",
                           "rollback points"],
                          [[r.get("name"), r.get("version"),
                            f"{_str(r.get('state'))} ({_str(r.get('status'))})",
                            r.get("config_version") or "none",
                            ", ".join(_str(p) for p in _list(r.get("rollback_points")))
                            or "none on the host"] for r in unfinished])]
    held = [_dict(r) for r in _list(failure.get("held"))]
    if held:
        lines += ["", "OpenSSL packages on hold the plan would upgrade (nothing was changed; "
                      "`apt-mark unhold` them, or set `patch_allow_held: true` to upgrade them "
                      "and keep the hold):", "",
                  *_table(["package", "version", "planned"],
                          [[r.get("name"), r.get("version"), r.get("to")] for r in held])]
    return lines


def render_host_markdown(rec: Mapping[str, Any]) -> str:
    """One host's change record as Markdown."""
    plan = _dict(rec.get("plan"))
    risk = _dict(plan.get("risk"))
    mode = _str(rec.get("mode"))
    lines = [
        f"# OpenSSL change record: {md(rec.get('host'))}",
        "",
        f"- run: {md(rec.get('run_id'))}" + (" (**plan only, check mode**)" if mode == "plan"
                                             else ""),
        f"- outcome: **{md(rec.get('outcome'))}**"
        + (f" - {md(rec.get('message'))}" if rec.get("message") else ""),
        f"- phase: {md(rec.get('phase') or '-')}, batch: {md(rec.get('batch') or '-')}",
        f"- risk before: {md(risk.get('score'))} ({md(risk.get('priority'))})",
        f"- started: {md(rec.get('started_at') or '-')}, finished: "
        f"{md(rec.get('finished_at') or '-')}",
        "",
        "## Planned package changes",
        "",
    ]
    pkgs = _list(plan.get("packages"))
    lines += _table(["package", "from", "to", "note"],
                    [[_dict(p).get("name"), _dict(p).get("from"), _dict(p).get("to"),
                      HOLD_KEPT_NOTE if _dict(p).get("held") else ""]
                     for p in pkgs]) if pkgs else ["None: the packages are up to date."]
    lines += _held_lines(plan, rec)
    lines += ["", "## Package versions", "", *_versions_table(
        _dict(rec.get("versions_before")), _dict(rec.get("versions_after")))]
    lines += ["", "## Services to refresh (plan)", ""]
    planned = _list(plan.get("services"))
    lines += _table(
        ["service", "kind", "strategy", "drain window", "how"],
        [[_dict(s).get("name"), _dict(s).get("kind"), _dict(s).get("strategy"),
          "yes" if _dict(s).get("drain_window") else "no", _dict(s).get("how")] for s in planned],
    ) if planned else ["None."]
    lines += ["", "## Services refreshed", ""]
    done = _list(rec.get("services"))
    lines += _table(
        ["service", "strategy", "status", "error"],
        [[_dict(s).get("name"), _dict(s).get("strategy"), _dict(s).get("status"),
          _dict(s).get("error") or ""] for s in done],
    ) if done else ["None."]
    refresh = _dict(rec.get("refresh"))
    if refresh:
        lines += ["", f"Still stale after refresh: {md(refresh.get('leftover'))} process(es); "
                      f"reboot required: {md(refresh.get('reboot_required'))}."]
    lines += ["", "## CVEs", ""]
    cves = _dict(rec.get("cves"))
    if cves.get("assessed"):
        for label, key in (("Closed", "closed"), ("Still open", "remaining"),
                           ("Newly open", "introduced")):
            rows = _list(cves.get(key))
            lines.append(f"{label}: {len(rows)}" + (": " + ", ".join(
                f"{md(_dict(r).get('cve'))} ({md(_dict(r).get('severity'))}, "
                f"{md(_dict(r).get('before'))} -> {md(_dict(r).get('after'))})" for r in rows
            ) if rows else "") + "  ")
    else:
        open_before = _list(cves.get("open_before")) or _list(plan.get("open_cves"))
        lines.append(f"Not assessed after a change. Open before (vulnerable or unknown): "
                     f"{len(open_before)}.")
    lines += ["", "## Tests", "", *_tests_lines(_list(rec.get("tests")), rec.get("tests_passed"))]
    failure = _dict(rec.get("failure"))
    if failure:
        lines += ["", "## Failure", "", f"- task: {md(failure.get('task'))}",
                  f"- message: {md(failure.get('message'))}"]
        if failure.get("stage") == "plan":
            lines.append("- stage: planning (pre-flight), before any change")
        lines += _refusal_markdown(failure)
    states = {k: v for k, v in _dict(rec.get("package_states_after")).items() if v != "ii"}
    if states:
        lines += ["", "dpkg states after the failed upgrade: "
                  + ", ".join(f"{md(k)} {md(v)}" for k, v in sorted(states.items()))]
    point = _dict(rec.get("rollback_point"))
    lines += ["", "## Rollback point and the way back", ""]
    earlier = [_dict(e) for e in _list(rec.get("earlier_runs"))]
    if not point and earlier:
        lines.append("No rollback point of this run. Changes of earlier, interrupted runs:")
        for entry in earlier:
            versions = ", ".join(f"{_dict(p).get('name')} {_dict(p).get('version')}" for p in
                                 _list(_dict(entry.get("rollback_point")).get("packages")))
            lines += ["", f"- run {md(entry.get('run_id'))} ({md(entry.get('outcome'))}): "
                          f"rollback point with {md(versions)}; way back: "
                          + _code(entry.get("way_back"))]
    elif point:
        lines += [f"- rollback point: {md(point.get('run_id'))} at {md(point.get('path'))}", "",
                  *_table(["package", "version", "origin", "sha256"],
                          [[_dict(p).get("name"), _dict(p).get("version"), _dict(p).get("origin"),
                            _str(_dict(p).get("sha256"))[:16]]
                           for p in _list(point.get("packages"))]),
                  "", "Way back:", "", _code(rec.get("way_back"))]
    else:
        lines.append("No rollback point: no package was changed on this host.")
    if rec.get("rollback"):
        lines += ["", "## Automatic rollback", ""]
        lines += _rollback_lines(_dict(rec.get("rollback")), "Rolled back by the rollout")
    rollbacks = _list(rec.get("rollbacks"))
    if rollbacks:
        lines += ["", "## Later rollbacks", ""]
        for n, entry in enumerate(rollbacks, start=1):
            lines += _rollback_lines(_dict(entry), f"Rollback {n}")
    attempts = _list(rec.get("previous_attempts"))
    if attempts:
        lines += ["", "## Earlier attempts of this run", ""]
        lines += [f"- {md(_dict(a).get('outcome'))}: {md(_dict(a).get('message'))}"
                  for a in attempts]
    warnings = _list(rec.get("warnings"))
    if warnings:
        lines += ["", "## Warnings", "", *[f"- {md(w)}" for w in warnings]]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_run_markdown(run: Mapping[str, Any]) -> str:
    """The run's change record as Markdown."""
    who = _dict(run.get("who"))
    coll = _dict(run.get("collection"))
    settings = _dict(run.get("settings"))
    lines = [
        f"# OpenSSL rollout {md(run.get('run_id'))}",
        "",
        f"- outcome: **{md(run.get('outcome'))}**"
        + (" (check mode: a plan, nothing was changed)" if run.get("mode") == "plan" else ""),
        f"- started: {md(run.get('started_at'))}, finished: {md(run.get('finished_at') or '-')}",
        f"- by: {md(who.get('user'))} on {md(who.get('controller'))}"
        + (f", AWX job {md(who.get('awx_job_id'))}" if who.get("awx_job_id") else ""),
        f"- collection: {md(coll.get('name'))} {md(coll.get('version'))}; ansible-core "
        f"{md(run.get('ansible_version'))}",
        f"- order: {md(settings.get('order'))}; minimum severity: "
        f"{md(settings.get('min_severity') or 'none')}; batches: "
        f"{md(settings.get('batches'))}; max fail percentage: "
        f"{md(settings.get('max_fail_percentage'))}; soak: "
        f"{md(settings.get('soak_seconds'))} s",
    ]
    interrupted = _dict(run.get("interrupted"))
    if interrupted:
        lines += ["", "## Interrupted", "",
                  "The controller stopped before this run finished "
                  f"({md(interrupted.get('reason'))}); found by run "
                  f"{md(interrupted.get('detected_by'))} at "
                  f"{md(interrupted.get('detected_at'))}. Hosts without a result are "
                  "`interrupted`; those the later run found a rollback point of this run on are "
                  "in the way back below."]
    attempts = _list(run.get("attempts"))
    if attempts:
        lines += ["", "## Earlier attempts of this run", ""]
        lines += [f"- started {md(_dict(a).get('started_at'))}: {md(_dict(a).get('outcome'))} "
                  f"(found {md(_dict(a).get('detected_at'))})" for a in attempts]
    earlier = _list(run.get("earlier_runs"))
    if earlier:
        lines += ["", "## Earlier runs found interrupted", ""]
        lines += [f"- {md(_dict(e).get('run_id'))}: started {md(_dict(e).get('started_at'))}, "
                  f"{md(_dict(e).get('reason'))}; record: {md(_dict(e).get('record_dir'))}"
                  for e in earlier]
    halt = _dict(run.get("halt"))
    if halt:
        lines += ["", "## Halted", "", f"{md(halt.get('message'))}"]
    lines += ["", "## Phases", ""]
    for phase in _list(run.get("phases")):
        phase = _dict(phase)
        lines.append(f"### {md(phase.get('index'))}. {md(phase.get('name'))}")
        lines.append("")
        batches = _list(phase.get("batches"))
        if batches:
            for n, batch in enumerate(batches, start=1):
                lines.append(f"- batch {n}: {md(', '.join(_str(h) for h in _list(batch)))}")
        else:
            lines.append("- no host")
        for ex in _list(phase.get("excluded")):
            lines.append(f"- excluded: {md(_dict(ex).get('host'))} "
                         f"({md(_dict(ex).get('reason'))})")
        for bad in _list(phase.get("failed")):
            lines.append(f"- failed at planning: {md(_dict(bad).get('host'))} "
                         f"({md(_dict(bad).get('reason'))})")
        lines.append("")
    lines += ["## Hosts", ""]
    rows = _list(run.get("hosts"))
    lines += _table(
        ["host", "phase", "batch", "outcome", "risk", "changes", "CVEs closed", "tests",
         "services", "message"],
        [[r.get("host"), r.get("phase") or "-", r.get("batch") or "-", r.get("outcome"),
          r.get("risk"), "; ".join(_str(c) for c in _list(r.get("changes"))) or "-",
          "-" if r.get("cves_closed") is None else r.get("cves_closed"),
          f"{r.get('tests_passed')} passed, {r.get('tests_failed')} failed",
          ", ".join(_str(s) for s in _list(r.get("services"))) or "-", r.get("message")]
         for r in (_dict(x) for x in rows)],
    ) if rows else ["None."]
    refused = [(r.get("host"), _list(r.get("refused"))) for r in (_dict(x) for x in rows)]
    refused = [(h, why) for h, why in refused if why]
    if refused:
        lines += ["", "## Refused before any change", ""]
        lines += [f"- {md(host)}: {md(line)}" for host, why in refused for line in why]
    soak = _list(run.get("soak"))
    if soak:
        lines += ["", "## Soak", ""]
        lines += [f"- {md(_dict(s).get('phase'))} {md(_dict(s).get('host'))}: "
                  f"{md(_dict(s).get('result'))} ({md(_dict(s).get('detail'))})" for s in soak]
    lines += ["", "## The way back", ""]
    lines += [_code(run["way_back"])] if run.get("way_back") else [
        "Nothing to undo: no host has a rollback point from this run."]
    for run_id, command in sorted(_dict(run.get("earlier_way_back")).items()):
        lines += ["", f"Changes of the interrupted run {md(run_id)}: {_code(command)}"]
    rollbacks = _list(run.get("rollbacks"))
    if rollbacks:
        lines += ["", "## Rollbacks after the run", ""]
        lines += [f"- {md(_dict(e).get('at'))} {md(_dict(e).get('host'))}: "
                  f"{md(_dict(e).get('trigger'))}, tests "
                  f"{md('passed' if _dict(e).get('tests_passed') else 'failed or not run')}"
                  for e in rollbacks]
    return "\n".join(lines).rstrip("\n") + "\n"


# =========================================================================================
# storage
# =========================================================================================


def _makedirs(path: str) -> None:
    """Create ``path`` and missing parents with mode 0700 (existing ones are left alone)."""
    try:
        report.make_dirs(os.path.abspath(path), DIR_MODE)
    except OSError as exc:
        raise ChangeRecordError(f"cannot create {path}: {exc.strerror or exc}") from exc


def write_atomic(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` atomically with mode 0600; True when the content changed."""
    try:
        return report.write_atomic(path, text, FILE_MODE, DIR_MODE)
    except report.ReportError as exc:
        raise ChangeRecordError(str(exc)) from exc


class RecordStore:
    """The files of one run's change record under ``directory``."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)

    def host_path(self, host: str, ext: str = "json") -> str:
        return os.path.join(self.directory, HOSTS_DIR, f"{safe_filename(host)}.{ext}")

    def run_path(self, ext: str = "json") -> str:
        return os.path.join(self.directory, f"{RUN_FILE}.{ext}")

    def _read(self, path: str) -> dict[str, Any] | None:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ChangeRecordError(f"cannot read the change record {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ChangeRecordError(f"{path} is not a change record (not a JSON object)")
        return data

    def read_run(self) -> dict[str, Any] | None:
        return self._read(self.run_path())

    def read_host(self, host: str) -> dict[str, Any] | None:
        return self._read(self.host_path(host))

    def host_records(self) -> list[dict[str, Any]]:
        folder = os.path.join(self.directory, HOSTS_DIR)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChangeRecordError(f"cannot list {folder}: {exc.strerror or exc}") from exc
        out = []
        for name in names:
            data = self._read(os.path.join(folder, name))
            if data is not None and data.get("kind") == "host":
                out.append(data)
        return out

    def write_host(self, rec: Mapping[str, Any]) -> list[str]:
        host = _str(rec.get("host"))
        paths = [self.host_path(host, "json"), self.host_path(host, "md")]
        write_atomic(paths[0], render_json(rec))
        write_atomic(paths[1], render_host_markdown(rec))
        return paths

    def write_run(self, run: Mapping[str, Any]) -> list[str]:
        paths = [self.run_path("json"), self.run_path("md")]
        write_atomic(paths[0], render_json(run))
        write_atomic(paths[1], render_run_markdown(run))
        return paths

    def lock(self) -> _Lock:
        _makedirs(self.directory)
        return _Lock(os.path.join(self.directory, LOCK_FILE))

    def rebuild_run(self, finished: bool | None = None, **updates: Any) -> dict[str, Any]:
        """Re-read the metadata and every host record and rewrite the run record (locked)."""
        with self.lock():
            meta = self.read_run()
            if meta is None:
                raise ChangeRecordError(
                    f"no run record in {self.directory}: the run was not started with "
                    "event=start"
                )
            meta.update(updates)
            done = bool(meta.get("finished_at")) if finished is None else finished
            run = build_run_record(meta, self.host_records(), finished=done)
            self.write_run(run)
            return run


# =========================================================================================
# interrupted runs
# =========================================================================================


def process_start(pid: Any) -> str | None:
    """Start time of a process (clock ticks since boot, /proc/PID/stat field 22), or None."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except (OSError, TypeError, ValueError):
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def controller_process(pid: int | None = None) -> dict[str, Any]:
    """The controller process of a run: the ``ansible-playbook`` process (an action plugin runs
    in a worker forked from it, hence the parent pid) and its start time, so that a later run
    can tell whether it is still running (a pid alone may have been reused)."""
    pid = os.getppid() if pid is None else pid
    return {"pid": pid, "pid_started": process_start(pid)}


def controller_alive(who: Any, hostname: str) -> bool | None:
    """Is the controller process recorded in a run's ``who`` still running?

    None when that cannot be told here: another controller host, or no pid recorded.
    """
    who = _dict(who)
    if _str(who.get("controller")) != hostname or not _str(who.get("pid")).isdigit():
        return None
    pid = int(who["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return None
    started = who.get("pid_started")
    now = process_start(pid)
    return not (started and now and now != started)


def unfinished_runs(directory: str) -> list[tuple[str, dict[str, Any]]]:
    """Run records next to ``directory`` (its siblings) that never finished: ``(dir, run)``."""
    own = os.path.abspath(directory)
    root = os.path.dirname(own)
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    out = []
    for entry in entries:
        path = os.path.join(root, entry)
        if path == own:
            continue
        try:
            with open(os.path.join(path, f"{RUN_FILE}.json"), encoding="utf-8") as handle:
                run = json.load(handle)
        except (OSError, ValueError):
            continue
        if (isinstance(run, dict) and run.get("kind") == "run" and not run.get("finished_at")
                and not run.get("interrupted")):
            out.append((path, run))
    return out


def mark_interrupted(store: RecordStore, by_run: str, reason: str) -> dict[str, Any] | None:
    """Mark an unfinished run as interrupted (found by run ``by_run``); its hosts without a
    result become ``interrupted``. Returns the rebuilt run record, None when it had finished."""
    with store.lock():
        meta = store.read_run()
        if meta is None or meta.get("finished_at") or meta.get("interrupted"):
            return None
        meta["interrupted"] = {"detected_at": utc_now(), "detected_by": by_run,
                               "reason": reason}
        for rec in store.host_records():
            if rec.get("outcome") in ("pending", "planned"):
                rec.update(outcome="interrupted", message=(
                    "the run was interrupted before it recorded a result for this host (found by "
                    f"run {by_run}); that run's plan tells whether this one changed the host"))
                store.write_host(rec)
            elif rec.get("outcome") == "unreachable" and not planning_failed(rec):
                # The record of a host in progress says how far it got; no result came back
                # because the controller stopped (the host itself may well be reachable).
                rec.update(outcome="interrupted", message=(
                    f"the run was interrupted while this host was in progress (found by run "
                    f"{by_run}); its last record: {_str(rec.get('message'))}"))
                store.write_host(rec)
        run = build_run_record(meta, store.host_records(), finished=False)
        store.write_run(run)
        return run


def point_record(point: Any) -> dict[str, Any]:
    """A rollback point found on a host (module result ``rollback_points``) in record form."""
    point = _point_summary(point)
    return {
        "run_id": point["run_id"],
        "path": point["path"],
        "manifest": os.path.join(point["path"], "manifest.json") if point["path"] else "",
        "packages": [dict(p, arch=None, file=None, sha256=None, origin=None)
                     for p in point["packages"]],
        "found_at": utc_now(),
    }


def _versions(pairs: Iterable[Any]) -> str:
    return ", ".join(f"{_dict(p).get('name')} {_dict(p).get('version')}" for p in pairs)


def note_found_point(record: Mapping[str, Any], point: Any, found_by: str,
                     versions_now: Mapping[str, Any], inventory: Iterable[str] = ()
                     ) -> dict[str, Any]:
    """An interrupted run's host record, once a later run found this run's rollback point on
    the host: the run changed (or began to change) it, and the point is the way back."""
    rec = dict(record)
    found = point_record(point)
    rec["rollback_point"] = found
    rec["way_back"] = way_back(_str(rec.get("run_id")), [_str(rec.get("host"))], inventory)
    rec["versions_before"] = {_str(p["name"]): p["version"] for p in found["packages"]}
    rec["versions_after"] = {str(k): _str(v) for k, v in _dict(versions_now).items()}
    now = ", ".join(f"{k} {v}" for k, v in sorted(rec["versions_after"].items()))
    if rec.get("outcome") in ("pending", "planned", "interrupted", "not_reached"):
        rec["outcome"] = "interrupted"
        rec["message"] = (
            f"run {rec.get('run_id')} was interrupted after it wrote its rollback point on this "
            f"host ({_versions(found['packages'])}); found by run {found_by} at "
            f"{found['found_at']}, the host then had {now or 'no OpenSSL package'}")
    return rec


def note_no_point(record: Mapping[str, Any], found_by: str) -> dict[str, Any]:
    """An interrupted run's host record when a later run found no rollback point of it."""
    rec = dict(record)
    if rec.get("outcome") == "interrupted" and not rec.get("rollback_point"):
        rec["message"] = (
            f"run {rec.get('run_id')} was interrupted before it recorded this host; run "
            f"{found_by} found no rollback point of it on the host: it did not change its packages")
    return rec


class _Lock:
    """An exclusive ``flock`` on a file, as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _Lock:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError as exc:
            if self.fd >= 0:
                os.close(self.fd)
            msg = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
            raise ChangeRecordError(f"cannot lock {self.path}: {msg}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
