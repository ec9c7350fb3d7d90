# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make running processes drop a stale libssl/libcrypto: plan, act, verify.

Input is the process list of the facts scan engine (``procscan.Scanner``). Stale processes are
grouped by service (workers under their master), by container and by "no service"; each group
gets a strategy from ``refresh_strategies.STRATEGIES`` and a decision (act, denied, not allowed,
report only, ...). Actions go through a :class:`Host` seam (signals, commands, /proc look-ups,
re-scans) so unit tests can replay recorded outputs. Every action is verified by re-scanning the
memory maps: neither a signal's exit code nor a PID proves a refresh.
"""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    procscan,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    refresh_strategies as rs,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

RunFn = Callable[[list], tuple]
PHASES = ("all", "online", "drain")
OUTPUT_LIMIT = 4000
INIT_DIR = "/etc/init.d"
NGINX_ERROR_LOG = "/var/log/nginx/error.log"
POLL = 0.2
# Strategies that stop the service's processes: after them the service can be down.
RESTARTING = ("apache_stop_start", "service_restart")
# Service names a recovery may start: an init script's file name or a systemd unit.
_SERVICE_NAME = re.compile(r"^[A-Za-z0-9@_:+-][A-Za-z0-9@._:+-]*$")


class RefreshError(PatchwiseError):
    """Invalid refresh options (unknown strategy, phase)."""


# --------------------------------------------------------------------------------------------
# Host seam
# --------------------------------------------------------------------------------------------
class Host:
    """Everything the refresh does to or reads from the machine. Tests subclass it."""

    def __init__(self, run: RunFn, scan: Callable[[], dict[str, Any]],
                 which: Callable[[str], str | None], proc: str = "/proc") -> None:
        self._run = run
        self._scan = scan
        self._which = which
        self.proc = proc

    # commands and signals
    def run(self, argv: list[str]) -> tuple[int, str, str]:
        return self._run(argv)

    def which(self, name: str) -> str | None:
        return self._which(name)

    def kill(self, pid: int, sig: int) -> bool:
        """Send a signal; False when the process is already gone (never an error)."""
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()

    # reading state
    def scan(self) -> dict[str, Any]:
        return self._scan()

    def read_text(self, path: str, limit: int = 1 << 20) -> str | None:
        try:
            with open(path, "rb") as fh:
                return fh.read(limit).decode("utf-8", "replace")
        except OSError:
            return None

    def file_size(self, path: str) -> int | None:
        try:
            return os.stat(path).st_size
        except OSError:
            return None

    def read_from(self, path: str, offset: int, limit: int = 16384) -> str:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read(limit).decode("utf-8", "replace")
        except OSError:
            return ""

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def readlink(self, path: str) -> str | None:
        try:
            return os.readlink(path)
        except OSError:
            return None

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def alive(self, pid: int) -> bool:
        """True when the process exists and is not a zombie."""
        stat = self.read_text(f"{self.proc}/{pid}/stat", 4096)
        if not stat:
            return False
        state = stat.rpartition(")")[2].split()
        return bool(state) and state[0] not in ("Z", "X")

    def processes(self) -> list[dict[str, Any]]:
        """pid, ppid and cmdline of every live process (cheap: stat + cmdline only)."""
        found = []
        for entry in self.listdir(self.proc):
            if not entry.isdigit():
                continue
            stat = self.read_text(f"{self.proc}/{entry}/stat", 4096)
            if not stat:
                continue
            fields = stat.rpartition(")")[2].split()
            if len(fields) < 2 or fields[0] in ("Z", "X"):
                continue
            raw = self.read_text(f"{self.proc}/{entry}/cmdline", 8192) or ""
            found.append({"pid": int(entry), "ppid": int(fields[1]),
                          "cmdline": [a for a in raw.split("\0") if a]})
        return found

    def systemd_unit(self, pid: int) -> str | None:
        """The unit from the ``name=systemd`` cgroup line (hybrid cgroup v1/v2 hosts, where the
        unified ``0::`` line does not carry systemd's hierarchy)."""
        text = self.read_text(f"{self.proc}/{pid}/cgroup", 65536) or ""
        lines = [line for line in text.splitlines() if ":name=systemd:" in line]
        if not lines:
            return None
        return procscan.parse_cgroup("\n".join(lines)).get("service")

    def children(self, pid: int) -> list[dict[str, Any]]:
        return [p for p in self.processes() if p["ppid"] == pid]

    def running_exe(self, exe: str) -> list[int]:
        """PIDs of the live processes whose executable is ``exe`` (also when it was replaced
        on disk since: the kernel then appends `` (deleted)`` to the link)."""
        pids = []
        for entry in self.listdir(self.proc):
            if not entry.isdigit():
                continue
            link = self.readlink(f"{self.proc}/{entry}/exe") or ""
            if link.replace(" (deleted)", "") == exe and self.alive(int(entry)):
                pids.append(int(entry))
        return pids


# --------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------
def init_scripts(host: Host) -> dict[str, str]:
    """Name -> text of the SysV init scripts (first 64 KiB of each)."""
    scripts = {}
    for name in host.listdir(INIT_DIR):
        if name.startswith(".") or name in ("README", "skeleton", "rc", "rcS"):
            continue
        text = host.read_text(os.path.join(INIT_DIR, name), 65536)
        if text is not None:
            scripts[name] = text
    return scripts


def init_script_for(exe: str | None, scripts: dict[str, str]) -> str | None:
    """The init script that runs ``exe``: one named like it (or an alias), else one whose text
    names the executable's path. Interpreters are never mapped by path alone."""
    if not exe:
        return None
    base = os.path.basename(exe)
    for name in (base, *rs.INIT_SCRIPT_ALIASES.get(base, ())):
        if name in scripts:
            return name
    if rs.INTERPRETERS.match(base):
        return None
    hits = [name for name, text in sorted(scripts.items()) if exe in text.split()
            or f"={exe}" in text or f"{exe} " in text or f"{exe}\n" in text]
    return hits[0] if len(hits) == 1 else None


def _summary(proc: dict[str, Any]) -> dict[str, Any]:
    return {
        "pid": proc["pid"],
        "ppid": proc.get("ppid"),
        "user": proc.get("user"),
        "exe": proc.get("exe"),
        "comm": proc.get("comm"),
        "cmdline": " ".join(proc.get("cmdline") or [])[:500],
        "stale_libraries": sorted({lib["path"] + (" (deleted)" if lib.get("deleted") else "")
                                   for lib in proc.get("libraries", []) if lib.get("stale")}),
    }


def is_foreign_container(proc: dict[str, Any], self_mnt_ns: str | None) -> bool:
    """A process in another container than the one this code runs in (if any).

    The scan engine marks every process whose cgroup names a container runtime; when the module
    itself runs inside that container, those processes are this host's own processes.
    """
    if not proc.get("container"):
        return False
    return not (self_mnt_ns and proc.get("mnt_ns") == self_mnt_ns)


def group_stale(processes: list[dict[str, Any]], self_mnt_ns: str | None,
                scripts: dict[str, str],
                unit_of: Callable[[int], str | None] | None = None) -> list[dict[str, Any]]:
    """Group the stale processes: per container, PID 1, per service, or per master process.

    ``unit_of`` (systemd hosts only) looks up a process's unit when the scan found none.
    """
    by_pid = {p["pid"]: p for p in processes}
    groups: dict[str, dict[str, Any]] = {}
    for proc in processes:
        # a process that exited during the scan needs no refresh (its master may still: it is
        # grouped on its own account when it is stale)
        if not proc.get("stale") or proc.get("exited"):
            continue
        master = by_pid.get(proc.get("master_pid") or proc["pid"], proc)
        if unit_of is not None and not master.get("service") and proc["pid"] != 1:
            unit = unit_of(master["pid"])
            if unit:
                master = {**master, "service": unit, "service_source": "systemd"}
        if is_foreign_container(proc, self_mnt_ns):
            cont = proc["container"]
            ident = cont.get("id") or cont.get("mnt_ns") or "unknown"
            key, kind, service, source = f"container:{ident}", "container", None, "none"
        elif proc["pid"] == 1:
            key, kind, service, source = "pid1", "pid1", proc.get("service"), "systemd"
        elif proc.get("user_service"):
            key, kind = f"service:{proc['user_service']}", "service"
            service, source = proc["user_service"], "systemd"
        elif master.get("service") and master.get("service") != "init.scope":
            service = master["service"]
            source = master.get("service_source") or "systemd"
            key, kind = f"service:{service}", "service"
        else:
            script = None
            if master.get("ppid") in (0, 1):
                script = init_script_for(master.get("exe"), scripts)
            if script:
                key, kind, service, source = f"service:{script}", "service", script, "init"
            else:
                key = f"process:{master.get('exe')}:{master['pid']}"
                kind, service, source = "process", None, "none"
        group = groups.get(key)
        if group is None:
            group = {"key": key, "kind": kind, "service": service, "service_source": source,
                     "container": proc.get("container") if kind == "container" else None,
                     "master": master, "members": []}
            groups[key] = group
        group["members"].append(proc)
    for group in groups.values():
        _pick_master(group)
    return sorted(groups.values(), key=lambda g: g["key"])


def _pick_master(group: dict[str, Any]) -> None:
    members = group["members"]
    pids = {p["pid"] for p in members}
    tops = [p for p in members if p.get("ppid") not in pids]
    masters = [p for p in tops if p.get("master_pid") in (None, p["pid"])] or tops or members
    group["master"] = min(masters, key=lambda p: p["pid"])
    group["pids"] = sorted(pids)
    group["processes"] = [_summary(p) for p in sorted(members, key=lambda p: p["pid"])]


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------
def _allowed(strategy: rs.Strategy, options: dict[str, Any]) -> bool:
    return strategy.gate is None or bool(options.get(strategy.gate))


def _nginx_argv0_problem(group: dict[str, Any], host: Host) -> str | None:
    """Why a binary upgrade cannot work for this master (nginx re-executes argv[0])."""
    master = group["master"]
    argv = rs.nginx_argv(master)
    if not argv:
        return "the master's command line is unreadable"
    argv0 = argv[0]
    if "/" not in argv0:
        return (f"the master was started as {argv0!r} (relative argv[0]): nginx re-executes "
                "argv[0] without a PATH search, the new master would fail with execve() "
                "ENOENT")
    path = argv0
    if not argv0.startswith("/"):
        cwd = host.readlink(f"{host.proc}/{master['pid']}/cwd") or "/"
        path = os.path.normpath(os.path.join(cwd, argv0))
    if not host.exists(f"{host.proc}/{master['pid']}/root{path}"):
        return f"argv[0] {argv0!r} of the master does not exist any more"
    return None


def _haproxy_soft_problem(group: dict[str, Any], host: Host) -> str | None:
    cmdline = group["master"].get("cmdline") or []
    if "-D" in cmdline or _haproxy_config_has_daemon(cmdline, host):
        return None
    return ("haproxy runs in the foreground without master-worker mode (no -D, no `daemon`): "
            "a soft reload would start a second foreground instance")


def _with_fallback(group: dict[str, Any], problem: str) -> tuple[str, str]:
    if group.get("service"):
        return "service_restart", f"{problem}; falling back to a restart of the service"
    return "report_only", f"{problem}; no init script or unit to fall back to"


def plan_group(group: dict[str, Any], options: dict[str, Any], host: Host,
               systemd_pid1: bool) -> dict[str, Any]:
    """Decide what to do with one group; no side effects."""
    name = group.get("service") or rs.exe_base(group["master"])
    entry = {
        "key": group["key"], "kind": group["kind"], "name": name,
        "service": group.get("service"), "service_source": group["service_source"],
        "container": group.get("container"), "master_pid": group["master"]["pid"],
        "exe": group["master"].get("exe"), "pids": group["pids"],
        "processes": group["processes"],
    }
    reason = ""
    if group["kind"] == "container":
        strategy = "report_only"
        decision, reason = "container", ("process runs in a container: refresh it inside the "
                                         "container (or rebuild the image), not from the host")
    else:
        denied = rs.deny_match(group, options["deny"])
        override = rs.override_for(group, options.get("strategies") or {})
        strategy = override or rs.identify(group, systemd_pid1)
        if override:
            reason = f"strategy {override} set by the strategies option"
        if denied:
            strategy, decision = "report_only", "denied"
            reason = (f"deny list ({denied}): needs a maintenance window or a reboot; "
                      "never restarted automatically")
        elif group["kind"] == "pid1" and strategy == "report_only":
            decision = "reboot"
            reason = "PID 1 is not systemd: only a reboot replaces it"
        else:
            decision = "act"
            problem = None
            if strategy == "nginx_binary_upgrade" and not override:
                problem = _nginx_argv0_problem(group, host)
            elif strategy == "haproxy_soft_reload" and not override:
                problem = _haproxy_soft_problem(group, host)
            if problem:
                strategy, reason = _with_fallback(group, problem)
            if strategy in ("service_restart", "apache_stop_start") and not group.get("service"):
                strategy = "report_only"
                reason = reason or "belongs to no service (no unit, no init script)"
            if strategy == "report_only":
                decision = "unowned" if group["kind"] == "process" else "report"
                if group["kind"] == "process":
                    reason = reason or "belongs to no service (no unit, no init script)"
    row = rs.STRATEGIES[strategy]
    entry.update(row.as_dict())
    if decision == "act":
        limit = options.get("services") or []
        if limit and not ({name, rs.service_base(name), rs.exe_base(group["master"])}
                          & set(limit)):
            decision, reason = "excluded", "not named in the services option"
        elif not _allowed(row, options):
            decision = "not_allowed"
            reason = (reason + "; " if reason else "") + (
                f"{strategy} is disruptive: set {row.gate} (and use the drain hooks) to allow it")
        else:
            reason = reason or f"strategy table: {row.action}"
    entry["decision"] = decision
    entry["reason"] = reason
    return entry


def in_phase(entry: dict[str, Any], phase: str) -> bool:
    if phase == "all":
        return True
    return entry["disruptive"] == (phase == "drain")


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------
class ActionFailed(Exception):
    """One service's action failed; carries the service's own error text."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output[-OUTPUT_LIMIT:]


def _text(out: str, err: str) -> str:
    return "\n".join(t.strip() for t in (out, err) if t and t.strip())


def wait_until(host: Host, predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = host.monotonic() + timeout
    while True:
        if predicate():
            return True
        if host.monotonic() >= deadline:
            return False
        host.sleep(POLL)


class Executor:
    """Carries out one planned entry and returns its result."""

    def __init__(self, host: Host, timeout: float, scripts: dict[str, str]) -> None:
        self.host = host
        self.timeout = timeout
        self.scripts = scripts
        self.steps: list[str] = []

    # ---- helpers ------------------------------------------------------------------------
    def _signal(self, pid: int, sig: signal.Signals) -> bool:
        sent = self.host.kill(pid, sig)
        self.steps.append(f"{sig.name} -> {pid}" + ("" if sent else " (process already gone)"))
        return sent

    def _run(self, argv: list[str], what: str) -> tuple[int, str]:
        rc, out, err = self.host.run(argv)
        text = _text(out, err)
        self.steps.append(f"{' '.join(argv)} -> rc={rc}")
        return rc, text

    def _init_argv(self, entry: dict[str, Any], verb: str) -> list[str]:
        if entry["service_source"] == "systemd":
            systemctl = self.host.which("systemctl") or "systemctl"
            # "--": a unit name is never read as an option (systemd names may start with "-")
            return [systemctl, verb, "--", entry["service"]]
        return [os.path.join(INIT_DIR, entry["service"]), verb]

    def _master_cmdline(self, entry: dict[str, Any]) -> list[str]:
        for proc in entry["_group"]["members"]:
            if proc["pid"] == entry["master_pid"]:
                return list(proc.get("cmdline") or [])
        return []

    # ---- strategies ---------------------------------------------------------------------
    def nginx_binary_upgrade(self, entry: dict[str, Any]) -> None:
        old = entry["master_pid"]
        argv = rs.nginx_argv(entry["_group"]["master"])
        exe = entry["exe"] or argv[0]
        rc, text = self._run([exe, "-t", *rs.nginx_test_args(argv)], "config test")
        if rc != 0:
            raise ActionFailed("nginx configuration test failed; nothing was signalled", text)
        log_size = self.host.file_size(NGINX_ERROR_LOG)
        if not self._signal(old, signal.SIGUSR2):
            return
        new_master: list[int] = []

        def started() -> bool:
            new_master[:] = [c["pid"] for c in self.host.children(old)
                             if (c["cmdline"] or [""])[0].startswith(rs.NGINX_TITLE)]
            return bool(new_master)

        ok = wait_until(self.host, started, self.timeout)
        if ok:
            self.host.sleep(1.0)  # a new master that cannot start exits within milliseconds
            ok = self.host.alive(new_master[0])
        if not ok:
            log = self.host.read_from(NGINX_ERROR_LOG, log_size) if log_size is not None else ""
            raise ActionFailed(
                f"the new nginx master did not start; the old master {old} keeps serving "
                "on the old library", log)
        self.steps.append(f"new master {new_master[0]} started (child of {old})")
        if self.host.exists("/run/nginx.pid.oldbin"):
            self.steps.append("/run/nginx.pid.oldbin present")
        old_workers = [c["pid"] for c in self.host.children(old) if c["pid"] != new_master[0]]
        self._signal(old, signal.SIGWINCH)
        wait_until(self.host, lambda: not any(self.host.alive(p) for p in old_workers),
                   self.timeout)
        self._signal(old, signal.SIGQUIT)
        if not wait_until(self.host, lambda: not self.host.alive(old), self.timeout):
            self.steps.append(f"old master {old} still running after {self.timeout}s")

    def haproxy_master_reload(self, entry: dict[str, Any]) -> None:
        master = entry["master_pid"]
        before = {c["pid"] for c in self.host.children(master)}
        if not self._signal(master, signal.SIGUSR2):
            return
        new: list[int] = []

        def new_worker() -> bool:
            new[:] = [c["pid"] for c in self.host.children(master) if c["pid"] not in before]
            return bool(new)

        if not wait_until(self.host, new_worker, self.timeout):
            cmdline = self._master_cmdline(entry)
            _rc, text = self._run([entry["exe"], "-c", *_haproxy_config_args(cmdline)],
                                  "config check")
            raise ActionFailed(f"haproxy master {master} started no new worker within "
                               f"{self.timeout}s; the old workers keep serving", text)
        self.steps.append(f"new worker(s) {new}")
        wait_until(self.host, lambda: not any(self.host.alive(p) for p in before), self.timeout)

    def haproxy_soft_reload(self, entry: dict[str, Any]) -> None:
        cmdline = self._master_cmdline(entry)
        old = [p for p in entry["pids"] if self.host.alive(p)]
        if not old:
            self.steps.append("haproxy exited before the reload")
            return
        sock = haproxy_expose_fd_socket(cmdline, self.host)
        argv = haproxy_soft_reload_argv(cmdline, old, sock)
        if entry["exe"]:
            argv[0] = entry["exe"]
        rc, text = self._run(argv, "soft reload")
        if rc != 0:
            raise ActionFailed("the new haproxy did not start; the old process keeps serving",
                               text)
        if not sock:
            self.steps.append("no stats socket with `expose-fd listeners`: reload without -x")
        wait_until(self.host, lambda: not any(self.host.alive(p) for p in old), self.timeout)

    def apache_stop_start(self, entry: dict[str, Any]) -> None:
        if entry["service_source"] == "systemd":
            rc, text = self._run(self._init_argv(entry, "restart"), "restart")
            if rc != 0:
                raise ActionFailed(f"{entry['service']} did not come back", text)
            return
        rc, text = self._run(self._init_argv(entry, "stop"), "stop")
        if rc != 0:
            raise ActionFailed(f"{entry['service']} did not stop", text)
        master = entry["master_pid"]
        wait_until(self.host, lambda: not self.host.alive(master), self.timeout)
        rc, text = self._run(self._init_argv(entry, "start"), "start")
        if rc != 0:
            raise ActionFailed(f"{entry['service']} did not come back after stop", text)

    def sshd_hup(self, entry: dict[str, Any]) -> None:
        listener = entry["master_pid"]
        rc, text = self._run([entry["exe"] or "/usr/sbin/sshd", "-t"], "config test")
        if rc != 0:
            raise ActionFailed("sshd configuration test failed; nothing was signalled", text)
        if not self._signal(listener, signal.SIGHUP):
            return

        def fresh() -> bool:
            if not self.host.alive(listener):
                return True
            return not any(p["pid"] == listener and p.get("stale")
                           for p in self.host.scan().get("processes", []))

        wait_until(self.host, fresh, self.timeout)
        if not self.host.alive(listener):
            raise ActionFailed(f"the sshd listener {listener} exited after SIGHUP")

    def service_restart(self, entry: dict[str, Any]) -> None:
        rc, text = self._run(self._init_argv(entry, "restart"), "restart")
        if rc != 0:
            raise ActionFailed(f"{entry['service']} did not come back after restart", text)

    def systemd_daemon_reexec(self, entry: dict[str, Any]) -> None:
        systemctl = self.host.which("systemctl") or "systemctl"
        rc, text = self._run([systemctl, "daemon-reexec"], "daemon-reexec")
        if rc != 0:
            raise ActionFailed("systemctl daemon-reexec failed", text)

    def run(self, entry: dict[str, Any]) -> dict[str, Any]:
        self.steps = []
        result = {"status": "done", "error": None, "output": None}
        started = self.host.monotonic()
        try:
            getattr(self, entry["strategy"])(entry)
        except ActionFailed as exc:
            result.update(status="failed", error=with_own_words(exc.message, exc.output),
                          output=exc.output or None)
        result["steps"] = list(self.steps)
        result["elapsed_seconds"] = round(self.host.monotonic() - started, 2)
        return result

    def start_again(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Start a service that an earlier refresh stopped and could not start again."""
        self.steps = []
        result: dict[str, Any] = {"name": entry["name"], "service": entry["service"],
                                  "service_source": entry["service_source"],
                                  "exe": entry["exe"], "status": "started", "error": None,
                                  "output": None}
        started = self.host.monotonic()
        try:
            rc, text = self._run(self._init_argv(entry, "start"), "start")
            result["output"] = text[-OUTPUT_LIMIT:] or None
            if rc != 0:
                raise ActionFailed(f"{entry['service']} did not start again", text)
            if entry["exe"] and not wait_until(
                    self.host, lambda: bool(self.host.running_exe(entry["exe"])), self.timeout):
                raise ActionFailed(f"{entry['service']} start returned 0 but no process of "
                                   f"{entry['exe']} runs after {self.timeout:g}s", text)
        except ActionFailed as exc:
            result.update(status="failed", error=with_own_words(exc.message, exc.output))
        result["steps"] = list(self.steps)
        result["elapsed_seconds"] = round(self.host.monotonic() - started, 2)
        return result


def with_own_words(message: str, output: str | None) -> str:
    """An action's error followed by the last line the service itself printed, if any."""
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    if not lines or lines[-1] in message:
        return message
    return f"{message} -- {lines[-1][:300]}"


# --------------------------------------------------------------------------------------------
# haproxy command lines and configuration
# --------------------------------------------------------------------------------------------
def _haproxy_config_args(cmdline: list[str]) -> list[str]:
    out = []
    for i, arg in enumerate(cmdline):
        if arg == "-f" and i + 1 < len(cmdline):
            out += ["-f", cmdline[i + 1]]
    return out


def _haproxy_config_text(cmdline: list[str], host: Host) -> str:
    texts = []
    args = _haproxy_config_args(cmdline)
    for path in args[1::2]:
        if host.listdir(path):
            for name in host.listdir(path):
                if name.endswith(".cfg"):
                    texts.append(host.read_text(os.path.join(path, name)) or "")
        else:
            texts.append(host.read_text(path) or "")
    return "\n".join(texts)


def _haproxy_config_has_daemon(cmdline: list[str], host: Host) -> bool:
    return any(line.split()[:1] == ["daemon"]
               for line in _haproxy_config_text(cmdline, host).splitlines())


def haproxy_expose_fd_socket(cmdline: list[str], host: Host) -> str | None:
    """Path of a unix stats socket declared with ``expose-fd listeners``, else None."""
    for line in _haproxy_config_text(cmdline, host).splitlines():
        words = line.split("#", 1)[0].split()
        if words[:2] == ["stats", "socket"] and len(words) > 2 and "expose-fd" in words:
            idx = words.index("expose-fd")
            if idx + 1 < len(words) and words[idx + 1] == "listeners":
                path = words[2]
                if path.startswith("unix@"):
                    path = path[5:]
                if path.startswith("/"):
                    return path
    return None


def haproxy_soft_reload_argv(cmdline: list[str], old_pids: list[int],
                             socket_path: str | None) -> list[str]:
    """The running command line without -sf/-st/-x, plus ``-x <socket>`` and ``-sf <pids>``."""
    if not cmdline:
        raise ActionFailed("haproxy's command line is unreadable")
    argv = [cmdline[0]]
    i = 1
    while i < len(cmdline):
        arg = cmdline[i]
        if arg in ("-sf", "-st"):
            i += 1
            while i < len(cmdline) and cmdline[i].isdigit():
                i += 1
            continue
        if arg == "-x":
            i += 2
            continue
        argv.append(arg)
        i += 1
    if socket_path:
        argv += ["-x", socket_path]
    return [*argv, "-sf", *[str(p) for p in sorted(old_pids)]]


# --------------------------------------------------------------------------------------------
# Live patching
# --------------------------------------------------------------------------------------------
def livepatched_pids(livepatch: dict[str, Any] | None) -> dict[int, list[dict[str, Any]]]:
    """PID -> live patch records for OpenSSL objects."""
    found: dict[int, list[dict[str, Any]]] = {}
    for rec in (livepatch or {}).get("patched", []):
        obj = os.path.basename(rec.get("object") or "")
        if rec.get("pid") is None or rec.get("vulnerable"):
            continue
        if obj and not (obj.startswith("libssl") or obj.startswith("libcrypto")):
            continue
        found.setdefault(int(rec["pid"]), []).append(
            {k: rec.get(k) for k in ("object", "build_id", "patch_level", "source", "cves")})
    return found


def livepatch_covers(group: dict[str, Any], patched: dict[int, list[dict[str, Any]]]) -> bool:
    return bool(group["pids"]) and all(pid in patched for pid in group["pids"])


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------
LEFTOVER_REASONS = {
    "denied": "deny-listed: needs a maintenance window or a reboot",
    "reboot": "PID 1 without systemd: needs a reboot",
    "container": "runs in a container: refresh it inside the container",
    "unowned": "belongs to no service: restart it yourself (listed, never dropped)",
    "not_allowed": "needs a disruptive action that is not allowed (restart_ok/disruptive_ok)",
    "excluded": "not named in the services option",
    "pending_drain": "waits for the drain phase",
    "deferred": "handled in the online phase",
    "report": "no automatic action for it",
    "session": "an existing SSH session: keeps the old library until it ends",
    "draining": "an old process still finishing its connections",
    "failed": "its refresh failed",
    "livepatched": "patched in memory by live patching",
}


def normalise_options(params: dict[str, Any]) -> dict[str, Any]:
    """Validate module parameters; raise :class:`RefreshError` for invalid values."""
    options = dict(params)
    deny = params.get("deny")
    options["deny"] = [*(rs.DEFAULT_DENY if deny is None else deny),
                       *(params.get("deny_extra") or [])]
    overrides = params.get("strategies") or {}
    unknown = sorted({v if isinstance(v, str) else repr(v) for v in overrides.values()
                      if not isinstance(v, str) or v not in rs.STRATEGIES})
    if unknown:
        raise RefreshError(f"strategies: unknown strategy name(s) {', '.join(unknown)}; known: "
                           f"{', '.join(sorted(rs.STRATEGIES))}")
    if options.get("phase", "all") not in PHASES:
        raise RefreshError(f"phase must be one of {', '.join(PHASES)}")
    timeout = options.get("timeout", 30)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise RefreshError("timeout must be a positive number of seconds")
    options.setdefault("phase", "all")
    options.setdefault("livepatch", "auto")
    options["timeout"] = float(timeout)
    options["recover"] = normalise_recover(params.get("recover"))
    return options


def normalise_recover(entries: Any) -> list[dict[str, Any]]:
    """The services to start again (each a dict with ``service`` and ``service_source``, as the
    module's RV(services_down) returns them; other keys are ignored)."""
    out = []
    for item in entries or []:
        if not isinstance(item, dict):
            raise RefreshError(f"recover: each entry must be a dict, got {item!r}")
        service = item.get("service")
        source = item.get("service_source")
        if not isinstance(service, str) or not _SERVICE_NAME.match(service):
            raise RefreshError(f"recover: invalid service name {service!r}")
        if source not in ("init", "systemd"):
            raise RefreshError(f"recover: service_source of {service} must be init or systemd, "
                               f"got {source!r}")
        exe = item.get("exe")
        out.append({"name": str(item.get("name") or service), "service": service,
                    "service_source": source,
                    "exe": exe if isinstance(exe, str) and exe.startswith("/") else None})
    return out


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def _systemd_pid1(host: Host) -> bool:
    exe = host.readlink(f"{host.proc}/1/exe") or ""
    return os.path.basename(exe.replace(" (deleted)", "")) == "systemd"


class Refresh:
    """One run: scan, plan, (act, verify), report."""

    def __init__(self, options: dict[str, Any], host: Host, check_mode: bool,
                 livepatch_gather: Callable[[], dict[str, Any]] | None = None) -> None:
        self.options = options
        self.host = host
        self.check_mode = check_mode
        self.livepatch_gather = livepatch_gather
        self.warnings: list[str] = []
        self.changed = False
        self.self_mnt = host.readlink(f"{host.proc}/self/ns/mnt")
        self.scripts = init_scripts(host)
        self.systemd_pid1 = _systemd_pid1(host)

    def _scan(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        scan = self.host.scan()
        for warning in scan.get("warnings", []):
            if warning not in self.warnings:
                self.warnings.append(warning)
        unit_of = self.host.systemd_unit if self.systemd_pid1 else None
        return scan, group_stale(scan.get("processes", []), self.self_mnt, self.scripts, unit_of)

    def _livepatch(self, groups: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
        info: dict[str, Any] = {"mode": self.options["livepatch"], "available": False,
                                "update_run": False, "update_planned": False, "output": None,
                                "patched_pids": []}
        if (self.options["livepatch"] != "auto" or self.livepatch_gather is None
                or self.options["phase"] == "drain"):
            return info, {}
        state = self.livepatch_gather()
        patched = livepatched_pids(state)
        kcare = state.get("kernelcare") or {}
        info["available"] = bool(kcare.get("present") and kcare.get("libcare_enabled"))
        uncovered = [g for g in groups
                     if g["kind"] != "container" and not livepatch_covers(g, patched)]
        if uncovered and info["available"]:
            info["update_planned"] = True
            if not self.check_mode:
                rc, out, err = self.host.run([kcare.get("path") or "kcarectl", "--lib-update"])
                info["update_run"] = True
                info["output"] = _text(out, err)[-OUTPUT_LIMIT:] or None
                if rc != 0:
                    self.warnings.append(f"kcarectl --lib-update failed (rc={rc})")
                before = set(patched)
                patched = livepatched_pids(self.livepatch_gather())
                # changed only when it patched something new: a process kcare has no patch
                # for must not make every later run report a change
                self.changed = self.changed or bool(set(patched) - before)
        info["patched_pids"] = sorted(patched)
        return info, patched

    def _plan(self, groups: list[dict[str, Any]], patched: dict[int, Any]) -> list[dict]:
        plan = []
        phase = self.options["phase"]
        for group in groups:
            entry = plan_group(group, self.options, self.host, self.systemd_pid1)
            entry["_group"] = group
            if group["kind"] != "container" and livepatch_covers(group, patched):
                entry["decision"] = "livepatched"
                entry["reason"] = "patched in memory by live patching"
                entry["livepatch_evidence"] = {str(p): patched[p] for p in group["pids"]}
            elif entry["decision"] == "act" and not in_phase(entry, phase):
                entry["decision"] = "pending_drain" if entry["disruptive"] else "deferred"
            plan.append(entry)
        return plan

    def _verify(self, entry: dict[str, Any], result: dict[str, Any],
                after: list[dict[str, Any]], groups_after: list[dict[str, Any]]) -> None:
        old = set(entry["pids"])
        related = [p for g in groups_after for p in g["members"]
                   if g["key"] == entry["key"]
                   or (not entry["service"] and g["kind"] == "process"
                       and g["master"].get("exe") == entry["exe"])]
        sessions = [p["pid"] for p in related if entry["strategy"] == "sshd_hup"
                    and p["pid"] in old and p["pid"] != entry["master_pid"]]
        draining = [p["pid"] for p in related if p["pid"] in old and p["pid"] not in sessions
                    and p["pid"] != entry["master_pid"]]
        still = [p["pid"] for p in related if p["pid"] not in sessions and p["pid"] not in draining]
        result["remaining_pids"] = sorted(p["pid"] for p in related)
        result["sessions"] = sorted(sessions)
        result["draining"] = sorted(draining)
        # A restarting strategy that leaves no process of the service behind left it down,
        # whatever the init script said: a later run of the role (the rollback's) starts it.
        result["down"] = bool(entry["strategy"] in RESTARTING and entry["exe"]
                              and not any(p.get("exe") == entry["exe"] for p in after)
                              and not self.host.running_exe(entry["exe"]))
        if result["status"] == "failed":
            return
        if result["down"]:
            result["status"] = "failed"
            result["error"] = (f"{entry['name']} did not come back: no process of "
                               f"{entry['exe']} is running after the action")
            return
        if still:
            result["status"] = "failed"
            result["error"] = (f"still stale after {entry['strategy']}: pid(s) "
                               f"{', '.join(str(p) for p in sorted(still))}")
        elif draining:
            result["status"] = "incomplete"
        else:
            result["status"] = "refreshed"

    def _leftover(self, groups_after: list[dict[str, Any]], plan: list[dict[str, Any]],
                  results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        decisions = {e["key"]: e for e in plan}
        leftover = []
        for group in groups_after:
            entry = decisions.get(group["key"])
            result = results.get(group["key"])
            for proc in group["processes"]:
                pid = proc["pid"]
                if result is not None:
                    if pid in result.get("sessions", []):
                        cls = "session"
                    elif pid in result.get("draining", []):
                        cls = "draining"
                    else:
                        cls = "failed"
                elif entry is not None:
                    cls = entry["decision"]
                else:
                    cls = "report"
                if cls == "act":
                    cls = "failed"
                leftover.append({
                    **proc, "service": group.get("service"), "kind": group["kind"],
                    "container": group.get("container"), "class": cls,
                    "reason": (entry or {}).get("reason") if cls not in (
                        "session", "draining", "failed") else LEFTOVER_REASONS[cls],
                })
        return sorted(leftover, key=lambda p: p["pid"])

    def _recover(self) -> list[dict[str, Any]]:
        """Start again the services an earlier refresh left down (option ``recover``)."""
        results = []
        executor = Executor(self.host, self.options["timeout"], self.scripts)
        for entry in self.options["recover"]:
            running = self.host.running_exe(entry["exe"]) if entry["exe"] else []
            if running:
                results.append({**entry, "status": "running", "error": None, "output": None,
                                "steps": [f"already running: pid(s) {running}"]})
            elif self.check_mode:
                self.changed = True
                results.append({**entry, "status": "would_start", "error": None,
                                "output": None, "steps": []})
            else:
                self.changed = True
                results.append(executor.start_again(entry))
        return results

    def run(self) -> dict[str, Any]:
        recovered = self._recover()
        scan, groups = self._scan()
        livepatch, patched = self._livepatch(groups)
        if livepatch["update_run"]:
            scan, groups = self._scan()
        plan = self._plan(groups, patched)
        to_act = [e for e in plan if e["decision"] == "act"]
        results: dict[str, dict[str, Any]] = {}
        if to_act and not self.check_mode:
            executor = Executor(self.host, self.options["timeout"], self.scripts)
            for entry in to_act:
                results[entry["key"]] = executor.run(entry)
                self.changed = True
            scan, groups_after = self._scan()
            for entry in to_act:
                self._verify(entry, results[entry["key"]], scan.get("processes", []),
                             groups_after)
        else:
            groups_after = groups
            if to_act:
                self.changed = True
        leftover = self._leftover(groups_after, plan, results)
        services = [{"name": e["name"], "key": e["key"], "strategy": e["strategy"],
                     "master_pid": e["master_pid"], "service": e["service"],
                     "service_source": e["service_source"], "exe": e["exe"],
                     **results[e["key"]]} for e in to_act if e["key"] in results]
        failed = [s for s in services if s["status"] == "failed"]
        down = [{k: s.get(k) for k in ("name", "service", "service_source", "exe", "error")}
                for s in services if s.get("down") and s.get("service")]
        down += [{k: r.get(k) for k in ("name", "service", "service_source", "exe", "error")}
                 for r in recovered if r["status"] == "failed"]
        containers: dict[str, list[dict[str, Any]]] = {}
        for proc in leftover:
            if proc["class"] == "container":
                cont = proc.get("container") or {}
                ident = cont.get("id") or cont.get("mnt_ns") or "unknown"
                containers.setdefault(ident, []).append(proc)
        return {
            "changed": self.changed,
            "check_mode": self.check_mode,
            "phase": self.options["phase"],
            "plan": [_public(e) for e in plan],
            "services": services,
            "recovered": recovered,
            "services_down": down,
            "failed_services": [s["name"] for s in failed]
            + [r["name"] for r in recovered if r["status"] == "failed"],
            "leftover": leftover,
            "containers": containers,
            "unowned": [p for p in leftover if p["class"] == "unowned"],
            "drain_services": sorted({e["name"] for e in plan if e["disruptive"]
                                      and e["decision"] in ("act", "pending_drain")}),
            "refresh_required": bool(leftover),
            "reboot_required": any(p["class"] in ("denied", "reboot") for p in leftover),
            "livepatch": livepatch,
            "unreadable_processes": scan.get("unreadable", []),
            "warnings": self.warnings,
        }


def failure_summary(result: dict[str, Any]) -> str:
    """One line naming each failed service, its action and its own error text."""
    parts = []
    for svc in result["services"]:
        if svc["status"] == "failed":
            state = " (left stopped)" if svc.get("down") else ""
            detail = with_own_words(svc.get("error") or "failed", svc.get("output"))
            parts.append(f"{svc['name']} ({svc['strategy']}){state}: {detail}")
    for svc in result.get("recovered", []):
        if svc["status"] == "failed":
            detail = with_own_words(svc.get("error") or "failed", svc.get("output"))
            parts.append(f"{svc['name']} (start again): {detail}")
    return (f"{len(parts)} service(s) could not be refreshed; the others were handled: "
            + "; ".join(parts))
