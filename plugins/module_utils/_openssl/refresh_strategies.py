# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The refresh strategy table: which action makes a service drop a stale libssl/libcrypto.

Every entry is backed by a measurement on Debian 12 under continuous TLS load (new TLS
connections opened without pause while the action ran; "stale after" = a process of the service
still maps a deleted libssl/libcrypto). docs/refresh.md carries the same table for users.

The table is data; the code that carries out an action lives in ``refresh.py``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from typing import Any

# Gate names: the module option that must be true before the action may run.
GATE_NONE = None
GATE_RESTART = "restart_ok"
GATE_DISRUPTIVE = "disruptive_ok"


class Strategy:
    """One row of the strategy table."""

    def __init__(self, name: str, action: str, disruptive: bool, gate: str | None,
                 evidence: str) -> None:
        self.name = name
        self.action = action
        self.disruptive = disruptive
        self.gate = gate
        self.evidence = evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.name,
            "action": self.action,
            "disruptive": self.disruptive,
            "gate": self.gate,
            "evidence": self.evidence,
        }


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy(
            "nginx_binary_upgrade",
            "SIGUSR2 to the master, confirm the new master started (child of the old master, "
            "pid file .oldbin), SIGWINCH then SIGQUIT to the old master",
            False, GATE_NONE,
            "nginx 1.22: 0 failed of ~3,960 connections, nothing stale after; x5 under load: 0 "
            "failures. `nginx -s reload` (HUP) leaves master and new workers on the old library.",
        ),
        Strategy(
            "haproxy_master_reload",
            "SIGUSR2 to the master-worker master (-W/-Ws); the master re-executes in place "
            "(same PID) and starts new workers; verified by re-scanning maps",
            False, GATE_NONE,
            "haproxy 2.6: 0 failed connections, nothing stale after; x20 under load: 0 failures.",
        ),
        Strategy(
            "haproxy_soft_reload",
            "start a new haproxy with the running command line plus `-x <stats socket>` (when "
            "the socket has `expose-fd listeners`) and `-sf <old pids>`",
            False, GATE_NONE,
            "haproxy 2.6: -sf with -x: 0 failures in x20 runs; without -x 4 resets in one run "
            "of three.",
        ),
        Strategy(
            "apache_stop_start",
            "stop, then start the service through its init system (the parent never re-executes "
            "on graceful or restart)",
            True, GATE_DISRUPTIVE,
            "apache2 2.4: graceful and restart (HUP) leave the parent stale (restart x5: 9-14 "
            "failures and still stale); stop + start: ~214 of ~3,960 connections failed, "
            "nothing stale after.",
        ),
        Strategy(
            "sshd_hup",
            "`sshd -t` config test, then SIGHUP to the listener (sshd re-executes itself, same "
            "PID); existing sessions keep the old library until they end",
            False, GATE_NONE,
            "zero-downtime for established sessions; NEW connections are refused while the "
            "listener re-executes (it closes its socket before execv and listens again after "
            "reading its configuration and host keys): OpenSSH 8.4/9.2/10.0, a window of "
            "0.4-0.9 s median, up to 1.6 s, at load average 17-26 on 2 cores (2.9 s at 40-55); "
            "0-5 of ~240 logins. Nothing stale after (sessions excepted).",
        ),
        Strategy(
            "systemd_daemon_reexec",
            "`systemctl daemon-reexec` (PID 1 re-executes itself and keeps its state)",
            False, GATE_NONE,
            "systemd re-executes itself in place; not run live here (systemd is not PID 1 on "
            "the test hosts), unit-tested on recorded data.",
        ),
        Strategy(
            "service_restart",
            "restart through the init system: `systemctl restart <unit>` on systemd hosts, "
            "`/etc/init.d/<script> restart` otherwise",
            True, GATE_RESTART,
            "generic fallback: a restart drops connections (nginx restart: ~205 of ~3,960 "
            "failed; haproxy restart: ~31 of ~3,960).",
        ),
        Strategy(
            "report_only",
            "nothing is done; the processes are reported",
            False, GATE_NONE,
            "used for deny-listed services, processes in containers, processes that belong to "
            "no service, and PID 1 without systemd.",
        ),
    )
}

# Never touched: reported as "needs maintenance window or reboot". Patterns (fnmatch) are tested
# against the service name (with and without ".service"), the executable's basename and comm.
DEFAULT_DENY: tuple[str, ...] = (
    "dbus", "dbus-daemon", "dbus-broker", "dbus-broker-launch",
    "systemd-logind",
    "gdm", "gdm3", "sddm", "lightdm", "xdm", "display-manager",
    "NetworkManager",
    "user@*.service", "systemd --user",
    "libvirtd", "virtqemud", "libvirt*",
    "docker", "dockerd", "containerd", "containerd-shim*", "podman", "conmon", "crio",
)

# Executables that run other programs' code: never mapped to an init script by their path
# alone (a python daemon's init script names /usr/bin/python3, and so would every python).
INTERPRETERS = re.compile(r"^(python[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node|nodejs|java|php[0-9.]*"
                          r"|sh|bash|dash|zsh|lua[0-9.]*|tclsh[0-9.]*)$")

# Init scripts whose name differs from the daemon's executable.
INIT_SCRIPT_ALIASES: dict[str, tuple[str, ...]] = {
    "sshd": ("ssh", "sshd"),
    "apache2": ("apache2",),
    "httpd": ("httpd", "apache2"),
}

NGINX_TITLE = "nginx: master process "


def service_base(name: str | None) -> str | None:
    """``nginx.service`` -> ``nginx``; init script names are returned unchanged."""
    if not name:
        return None
    return name[: -len(".service")] if name.endswith(".service") else name


def exe_base(process: dict[str, Any]) -> str:
    exe = process.get("exe") or ""
    base = os.path.basename(exe) if exe else (process.get("comm") or "")
    return base


def deny_match(group: dict[str, Any], patterns: list[str]) -> str | None:
    """Return the first deny pattern that matches the group, else None."""
    names: list[str] = []
    service = group.get("service")
    if service:
        names += [service, service_base(service) or service]
    for proc in group.get("processes", []):
        names.append(exe_base(proc))
        if proc.get("comm"):
            names.append(proc["comm"])
        if proc.get("user_service"):
            names.append(proc["user_service"])
    for pattern in patterns:
        for name in names:
            if name and fnmatch.fnmatchcase(name, pattern):
                return pattern
    return None


def nginx_argv(process: dict[str, Any]) -> list[str]:
    """The nginx master's original argv, recovered from its rewritten process title."""
    cmdline = process.get("cmdline") or []
    if len(cmdline) == 1 and cmdline[0].startswith(NGINX_TITLE):
        return cmdline[0][len(NGINX_TITLE):].split()
    return list(cmdline)


def nginx_test_args(argv: list[str]) -> list[str]:
    """``-c``/``-p`` options of an nginx command line (``-g`` values cannot be recovered from
    the space-joined process title and are left out of the configuration test)."""
    out: list[str] = []
    for i, arg in enumerate(argv[1:], start=1):
        if arg in ("-c", "-p") and i + 1 < len(argv):
            out += [arg, argv[i + 1]]
    return out


def haproxy_master_worker(process: dict[str, Any]) -> bool:
    """True when haproxy runs in master-worker mode (-W or -Ws on the command line)."""
    return any(arg in ("-W", "-Ws") for arg in (process.get("cmdline") or [])[1:])


def identify(group: dict[str, Any], systemd_pid1: bool) -> str:
    """Choose the strategy name for a service group from its master process."""
    master = group["master"]
    base = exe_base(master)
    if group.get("kind") == "pid1":
        if systemd_pid1 and base == "systemd":
            return "systemd_daemon_reexec"
        return "report_only"
    if base == "nginx":
        return "nginx_binary_upgrade"
    if base == "haproxy":
        return "haproxy_master_reload" if haproxy_master_worker(master) else "haproxy_soft_reload"
    if base in ("apache2", "httpd"):
        return "apache_stop_start"
    if base == "sshd":
        return "sshd_hup"
    return "service_restart"


def override_for(group: dict[str, Any], overrides: dict[str, str]) -> str | None:
    """A user's strategy override, keyed by service name (with or without .service) or exe."""
    keys = [group.get("service"), service_base(group.get("service")), exe_base(group["master"])]
    for key in keys:
        if key and key in overrides:
            return overrides[key]
    return None
