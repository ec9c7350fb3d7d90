# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of refresh.py, on a simulated host fed by recorded scans and command outputs.

The process table and the scan come from real recordings (tests/unit/fixtures/refresh/); signals
and commands change the table the way the recorded ``ps`` snapshots show the real services did.
"""

from __future__ import annotations

import copy
import gzip
import json
import pathlib
import signal
from typing import Any, Callable

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import refresh as rf
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.refresh import Host
from hypothesis import given
from hypothesis import strategies as st

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "refresh"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def recorded_run(prefix: str) -> tuple[int, str, str]:
    """(rc, output, "") of a recorded command: <prefix>.rc and <prefix>.out."""
    return int(fixture(prefix + ".rc").strip()), fixture(prefix + ".out"), ""


def load_scan(name: str = "debian12-scan-stale.json") -> dict[str, Any]:
    return json.loads(fixture(name))


def init_script_texts() -> dict[str, str]:
    # Init scripts whose first line trips the repository's shebang check are kept compressed.
    return {
        p.name.removesuffix(".gz"): (
            gzip.decompress(p.read_bytes()).decode()
            if p.suffix == ".gz"
            else p.read_text(encoding="utf-8")
        )
        for p in (FIXTURES / "debian12-initd").iterdir()
    }


class FakeHost(Host):
    """World = processes of the recorded scan; reactions mutate it."""

    def __init__(
        self,
        scan: dict[str, Any] | None = None,
        self_mnt: str | None = None,
        pid1_exe: str = "/run/podman-init",
    ) -> None:
        super().__init__(run=self._no_run, scan=self._no_scan, which=lambda n: f"/usr/bin/{n}")
        self.world = copy.deepcopy((scan or load_scan())["processes"])
        self.extra: list[dict[str, Any]] = []  # live processes that map no OpenSSL
        self.calls: list[tuple[Any, ...]] = []
        self.reactions: dict[tuple[int, str], Callable[[FakeHost], None]] = {}
        self.commands: dict[tuple[str, ...], tuple[int, str, str]] = {}
        self.command_reactions: dict[tuple[str, ...], Callable[[FakeHost], None]] = {}
        self.files: dict[str, str] = {}
        self.links: dict[str, str] = {"/proc/1/exe": pid1_exe}
        mnt = (
            self_mnt
            if self_mnt is not None
            else (self.world[0].get("mnt_ns") if self.world else None)
        )
        self.links["/proc/self/ns/mnt"] = mnt or ""
        self.scripts = init_script_texts()
        self.clock = 0.0
        self.next_pid = 9000

    # seams ------------------------------------------------------------------------------
    @staticmethod
    def _no_run(argv: list) -> tuple:
        raise AssertionError(f"unexpected command {argv}")

    @staticmethod
    def _no_scan() -> dict:
        raise AssertionError("scan not simulated")

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(("run", tuple(argv)))
        key = tuple(argv)
        reaction = self.command_reactions.get(key)
        if reaction:
            reaction(self)
        return self.commands.get(key, (0, "", ""))

    def kill(self, pid: int, sig: int) -> bool:
        self.calls.append(("kill", pid, signal.Signals(sig).name))
        if not self.alive(pid):
            return False
        reaction = self.reactions.get((pid, signal.Signals(sig).name))
        if reaction:
            reaction(self)
        return True

    def sleep(self, seconds: float) -> None:
        self.clock += seconds

    def monotonic(self) -> float:
        self.clock += 0.01
        return self.clock

    def scan(self) -> dict[str, Any]:
        self.calls.append(("scan",))
        return {"processes": copy.deepcopy(self.world), "unreadable": [], "warnings": []}

    def read_text(self, path: str, limit: int = 1 << 20) -> str | None:
        if path.startswith("/etc/init.d/"):
            return self.scripts.get(path.rsplit("/", 1)[1])
        return self.files.get(path)

    def listdir(self, path: str) -> list[str]:
        if path == "/etc/init.d":
            return sorted(self.scripts)
        return []

    def readlink(self, path: str) -> str | None:
        return self.links.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or path.endswith("/root/usr/sbin/nginx")

    def file_size(self, path: str) -> int | None:
        return 0 if path in self.files else None

    def read_from(self, path: str, offset: int, limit: int = 16384) -> str:
        return self.files.get(path, "")[offset:]

    def processes(self) -> list[dict[str, Any]]:
        return [
            {"pid": p["pid"], "ppid": p["ppid"], "cmdline": p["cmdline"]}
            for p in self.world + self.extra
        ]

    def alive(self, pid: int) -> bool:
        return any(p["pid"] == pid for p in self.world + self.extra)

    def running_exe(self, exe: str) -> list[int]:
        return [p["pid"] for p in self.world + self.extra if p.get("exe") == exe]

    # world edits --------------------------------------------------------------------------
    def get(self, pid: int) -> dict[str, Any]:
        return next(p for p in self.world if p["pid"] == pid)

    def remove(self, *pids: int) -> None:
        self.world = [p for p in self.world if p["pid"] not in pids]

    def spawn(self, like: int, ppid: int, cmdline: list[str] | None = None) -> int:
        """A fresh copy of process ``like`` (maps the new library) as child of ``ppid``."""
        new = copy.deepcopy(self.get(like))
        self.next_pid += 1
        new.update(pid=self.next_pid, ppid=ppid, stale=False)
        if cmdline is not None:
            new["cmdline"] = cmdline
        for lib in new["libraries"]:
            lib.update(deleted=False, stale=False, stale_reason=None)
        self.world.append(new)
        return new["pid"]

    def refresh_in_place(self, pid: int) -> None:
        proc = self.get(pid)
        proc["stale"] = False
        for lib in proc["libraries"]:
            lib.update(deleted=False, stale=False, stale_reason=None)

    def signals(self) -> list[tuple[int, str]]:
        return [(c[1], c[2]) for c in self.calls if c[0] == "kill"]

    def commands_run(self) -> list[tuple[str, ...]]:
        return [c[1] for c in self.calls if c[0] == "run"]


# Reactions recorded on Debian 12 (fixtures/refresh/debian12-sysv/*.txt ps snapshots) ---------
NGINX_MASTER, NGINX_WORKERS = 1822, (1824, 1825)
HAPROXY_MASTER, HAPROXY_WORKER = 2217, 2218
APACHE_MASTER, APACHE_CHILDREN = 1977, (1982, 1983)
SSHD = 2120
PYTHON = 2222


def nginx_upgrade_works(host: FakeHost) -> None:
    """USR2 -> new master (child of the old one) with workers; WINCH -> old workers exit;
    QUIT -> old master exits (10-/11-/12-nginx-*.txt)."""

    def usr2(h: FakeHost) -> None:
        new = h.spawn(NGINX_MASTER, NGINX_MASTER)
        for worker in NGINX_WORKERS:
            h.spawn(worker, new)

    host.reactions[(NGINX_MASTER, "SIGUSR2")] = usr2
    host.reactions[(NGINX_MASTER, "SIGWINCH")] = lambda h: h.remove(*NGINX_WORKERS)
    host.reactions[(NGINX_MASTER, "SIGQUIT")] = lambda h: h.remove(NGINX_MASTER)


def haproxy_reload_works(host: FakeHost) -> None:
    """USR2 -> master re-executes in place (same PID), new worker, old worker exits
    (20-haproxy-after-usr2.txt)."""

    def usr2(h: FakeHost) -> None:
        h.refresh_in_place(HAPROXY_MASTER)
        h.spawn(HAPROXY_WORKER, HAPROXY_MASTER)
        h.remove(HAPROXY_WORKER)

    host.reactions[(HAPROXY_MASTER, "SIGUSR2")] = usr2


def sshd_hup_works(host: FakeHost) -> None:
    host.reactions[(SSHD, "SIGHUP")] = lambda h: h.refresh_in_place(SSHD)


def apache_stop_start_works(host: FakeHost) -> None:
    """stop -> all apache2 processes gone; start -> fresh parent and children
    (42-apache2-after-stopstart.txt)."""
    saved: list[dict[str, Any]] = []

    def stop(h: FakeHost) -> None:
        saved[:] = [copy.deepcopy(h.get(p)) for p in (APACHE_MASTER, *APACHE_CHILDREN)]
        h.remove(APACHE_MASTER, *APACHE_CHILDREN)

    def start(h: FakeHost) -> None:
        h.world.extend(saved)
        parent = h.spawn(APACHE_MASTER, 1)
        for child in APACHE_CHILDREN:
            h.spawn(child, parent)
        h.remove(APACHE_MASTER, *APACHE_CHILDREN)

    host.command_reactions[("/etc/init.d/apache2", "stop")] = stop
    host.command_reactions[("/etc/init.d/apache2", "start")] = start
    host.commands[("/etc/init.d/apache2", "stop")] = recorded_run(
        "debian12-faults/32-apache2-stop-ok"
    )
    host.commands[("/etc/init.d/apache2", "start")] = recorded_run(
        "debian12-faults/31-apache2-start-ok"
    )


def everything_works(host: FakeHost) -> FakeHost:
    nginx_upgrade_works(host)
    haproxy_reload_works(host)
    sshd_hup_works(host)
    apache_stop_start_works(host)
    return host


def options(**kw: Any) -> dict[str, Any]:
    base = {
        "services": [],
        "restart_ok": False,
        "disruptive_ok": False,
        "deny": None,
        "deny_extra": [],
        "strategies": {},
        "phase": "all",
        "livepatch": "off",
        "timeout": 5,
    }
    base.update(kw)
    return rf.normalise_options(base)


def run_refresh(host: FakeHost, check_mode: bool = False, **kw: Any) -> dict[str, Any]:
    return rf.Refresh(options(**kw), host, check_mode).run()


def by_name(result: dict[str, Any], key: str = "plan") -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in result[key]}


# ---- grouping ------------------------------------------------------------------------------
def test_grouping_of_the_recorded_debian12_scan() -> None:
    """Workers collapse under their master; services come from the recorded init scripts."""
    scan = load_scan()
    mnt = scan["processes"][0]["mnt_ns"]
    groups = {g["key"]: g for g in rf.group_stale(scan["processes"], mnt, init_script_texts())}
    assert set(groups) == {
        "service:nginx",
        "service:haproxy",
        "service:apache2",
        "service:ssh",
        f"process:/usr/bin/python3.11:{PYTHON}",
    }
    assert groups["service:nginx"]["pids"] == [NGINX_MASTER, *NGINX_WORKERS]
    assert groups["service:nginx"]["master"]["pid"] == NGINX_MASTER
    assert groups["service:apache2"]["master"]["pid"] == APACHE_MASTER
    assert groups["service:haproxy"]["service_source"] == "init"
    unowned = groups[f"process:/usr/bin/python3.11:{PYTHON}"]
    assert unowned["kind"] == "process"
    assert unowned["processes"][0]["user"] == "root"
    assert "import ssl" in unowned["processes"][0]["cmdline"]


def test_processes_that_exited_during_the_scan_are_not_refreshed() -> None:
    """The recorded scan with the unowned python process marked as exited (openssl_facts sets
    ``exited`` for processes gone by the end of its scan): no group for it, the rest unchanged."""
    scan = load_scan()
    mnt = scan["processes"][0]["mnt_ns"]
    for proc in scan["processes"]:
        if proc["pid"] == PYTHON:
            proc["exited"] = True
    groups = {g["key"] for g in rf.group_stale(scan["processes"], mnt, init_script_texts())}
    assert groups == {"service:nginx", "service:haproxy", "service:apache2", "service:ssh"}


def test_processes_of_another_container_are_grouped_per_container() -> None:
    """Seen from a host (other mount namespace), the recorded processes are one container."""
    scan = load_scan()
    groups = rf.group_stale(scan["processes"], "mnt:[1]", init_script_texts())
    assert [g["kind"] for g in groups] == ["container"]
    assert len(groups[0]["pids"]) == len(scan["processes"])


def test_init_script_mapping_never_maps_an_interpreter_by_path() -> None:
    scripts = {"mydaemon": "DAEMON=/usr/bin/python3\n", **init_script_texts()}
    assert rf.init_script_for("/usr/bin/python3", scripts) is None
    assert rf.init_script_for("/usr/sbin/sshd", scripts) == "ssh"
    assert rf.init_script_for("/usr/sbin/haproxy", scripts) == "haproxy"
    assert rf.init_script_for(None, scripts) is None


def test_systemd_units_from_recorded_hybrid_cgroup_data() -> None:
    """systemd is not PID 1 on the test hosts: this runs on data recorded in a Debian 12
    container booted with systemd (podman --systemd=always, hybrid cgroup v1/v2 host), where only
    the name=systemd line carries the unit."""
    host = FakeHost(
        load_scan("debian12-systemd/scan-stale.json"), pid1_exe="/usr/lib/systemd/systemd"
    )
    host.files["/proc/31/cgroup"] = fixture("debian12-systemd/nginx-master-cgroup.txt")
    host.files["/proc/1/cgroup"] = fixture("debian12-systemd/pid1-cgroup.txt")
    assert host.systemd_unit(31) == "nginx.service"
    result = run_refresh(host, check_mode=True)
    plan = {e["key"]: e for e in result["plan"]}
    assert plan["service:nginx.service"]["service_source"] == "systemd"
    assert plan["service:nginx.service"]["strategy"] == "nginx_binary_upgrade"
    assert plan["pid1"]["strategy"] == "systemd_daemon_reexec"
    assert plan["pid1"]["decision"] == "act"
    assert host.signals() == [] and host.commands_run() == []


def test_systemd_restart_and_daemon_reexec_use_systemctl_with_recorded_outputs() -> None:
    """Recorded `systemctl restart nginx` with a broken configuration (systemd not PID 1 on
    the test hosts: recorded in a systemd-booted container)."""
    host = FakeHost(
        load_scan("debian12-systemd/scan-stale.json"), pid1_exe="/usr/lib/systemd/systemd"
    )
    host.files["/proc/31/cgroup"] = fixture("debian12-systemd/nginx-master-cgroup.txt")
    host.commands[("/usr/bin/systemctl", "restart", "--", "nginx.service")] = recorded_run(
        "debian12-systemd/systemctl-restart-nginx-badconf"
    )
    host.commands[("/usr/bin/systemctl", "daemon-reexec")] = recorded_run(
        "debian12-systemd/systemctl-daemon-reexec"
    )
    host.reactions = {}
    host.command_reactions[("/usr/bin/systemctl", "daemon-reexec")] = lambda h: h.refresh_in_place(
        1
    )
    result = run_refresh(
        host,
        restart_ok=True,
        strategies={"nginx": "service_restart"},
        services=["nginx", "systemd"],
    )
    svc = by_name(result, "services")
    assert svc["nginx.service"]["status"] == "failed"
    assert "control process exited with error code" in svc["nginx.service"]["output"]
    assert svc["systemd"]["strategy"] == "systemd_daemon_reexec"
    assert svc["systemd"]["status"] == "refreshed"
    assert ("/usr/bin/systemctl", "daemon-reexec") in host.commands_run()
    assert result["failed_services"] == ["nginx.service"]


# ---- deny list and gates ----------------------------------------------------------------------
def test_deny_extra_reports_and_never_touches() -> None:
    host = everything_works(FakeHost())
    result = run_refresh(host, deny_extra=["nginx"], disruptive_ok=True)
    plan = by_name(result)
    assert plan["nginx"]["decision"] == "denied"
    assert "maintenance window or a reboot" in plan["nginx"]["reason"]
    assert not [s for s in host.signals() if s[0] == NGINX_MASTER]
    assert result["reboot_required"] is True
    assert {p["pid"] for p in result["leftover"] if p["class"] == "denied"} == {
        NGINX_MASTER,
        *NGINX_WORKERS,
    }


@pytest.mark.parametrize(
    "name",
    [
        "dbus-daemon",
        "NetworkManager",
        "user@1000.service",
        "gdm3",
        "dockerd",
        "containerd",
        "libvirtd",
        "systemd-logind",
    ],
)
def test_default_deny_list(name: str) -> None:
    proc = {"pid": 5, "exe": f"/usr/sbin/{name}", "comm": name[:15]}
    group = {"service": None, "processes": [proc]}
    if name.endswith(".service"):
        group = {"service": name, "processes": []}
    assert rf.rs.deny_match(group, list(rf.rs.DEFAULT_DENY))


def test_gates_block_disruptive_actions_by_default() -> None:
    host = everything_works(FakeHost())
    result = run_refresh(host)
    plan = by_name(result)
    assert plan["apache2"]["decision"] == "not_allowed"
    assert "disruptive_ok" in plan["apache2"]["reason"]
    assert ("/etc/init.d/apache2", "stop") not in host.commands_run()
    assert plan["python3.11"]["decision"] == "unowned"
    classes = {p["pid"]: p["class"] for p in result["leftover"]}
    assert classes[APACHE_MASTER] == "not_allowed" and classes[PYTHON] == "unowned"


# ---- check mode, apply, idempotence ---------------------------------------------------------
def test_check_mode_returns_the_plan_and_changes_nothing() -> None:
    host = everything_works(FakeHost())
    result = run_refresh(host, check_mode=True, disruptive_ok=True)
    assert result["changed"] is True
    assert result["services"] == []
    assert host.signals() == [] and host.commands_run() == []
    plan = by_name(result)
    assert {n: plan[n]["strategy"] for n in ("nginx", "haproxy", "apache2", "ssh")} == {
        "nginx": "nginx_binary_upgrade",
        "haproxy": "haproxy_master_reload",
        "apache2": "apache_stop_start",
        "ssh": "sshd_hup",
    }
    assert all(plan[n]["decision"] == "act" for n in ("nginx", "haproxy", "apache2", "ssh"))


def test_apply_then_second_run_is_unchanged() -> None:
    host = everything_works(FakeHost())
    first = run_refresh(host, disruptive_ok=True)
    statuses = {s["name"]: s["status"] for s in first["services"]}
    assert statuses == {
        "nginx": "refreshed",
        "haproxy": "refreshed",
        "apache2": "refreshed",
        "ssh": "refreshed",
    }
    assert host.signals()[:4] == [
        (HAPROXY_MASTER, "SIGUSR2"),
        (NGINX_MASTER, "SIGUSR2"),
        (NGINX_MASTER, "SIGWINCH"),
        (NGINX_MASTER, "SIGQUIT"),
    ]
    assert [p["pid"] for p in first["leftover"]] == [PYTHON]
    assert first["refresh_required"] is True and first["reboot_required"] is False
    host.calls.clear()
    second = run_refresh(host, disruptive_ok=True)
    assert second["changed"] is False
    assert host.signals() == [] and host.commands_run() == []
    assert [p["class"] for p in second["leftover"]] == ["unowned"]


def test_phases_split_online_and_drain_work() -> None:
    host = everything_works(FakeHost())
    online = run_refresh(host, disruptive_ok=True, phase="online")
    assert online["drain_services"] == ["apache2"]
    assert by_name(online)["apache2"]["decision"] == "pending_drain"
    assert ("/etc/init.d/apache2", "stop") not in host.commands_run()
    drain = run_refresh(host, disruptive_ok=True, phase="drain")
    assert [s["name"] for s in drain["services"]] == ["apache2"]
    assert drain["services"][0]["status"] == "refreshed"


def test_services_option_limits_the_actions() -> None:
    host = everything_works(FakeHost())
    result = run_refresh(host, services=["ssh"])
    assert [s["name"] for s in result["services"]] == ["ssh"]
    assert by_name(result)["nginx"]["decision"] == "excluded"


# ---- faults (recorded outputs) ---------------------------------------------------------------
def test_nginx_new_master_fails_keeps_old_master_serving() -> None:
    """Recorded: a broken configuration makes the new master exit at once
    (20-nginx-badconf-after-usr2.txt shows no new master, the error log names the directive).
    The config test is simulated as passing to reach the USR2 path."""
    host = everything_works(FakeHost())
    host.reactions[(NGINX_MASTER, "SIGUSR2")] = lambda h: None
    host.files[rf.NGINX_ERROR_LOG] = fixture("debian12-faults/20-nginx-badconf-error.log")
    result = run_refresh(host, disruptive_ok=True)
    nginx = by_name(result, "services")["nginx"]
    assert nginx["status"] == "failed"
    assert "old master 1822 keeps serving" in nginx["error"]
    assert 'unknown directive "this"' in nginx["output"]
    assert (NGINX_MASTER, "SIGQUIT") not in host.signals()
    assert (NGINX_MASTER, "SIGWINCH") not in host.signals()
    assert host.alive(NGINX_MASTER)
    # the others were handled
    assert by_name(result, "services")["haproxy"]["status"] == "refreshed"
    assert result["failed_services"] == ["nginx"]
    assert "nginx (nginx_binary_upgrade)" in rf.failure_summary(result)


def test_nginx_relative_argv0_falls_back_only_when_allowed() -> None:
    """Recorded title of a master started as plain `nginx` (10-nginx-relative-cmdline.txt)."""
    host = everything_works(FakeHost())
    host.get(NGINX_MASTER)["cmdline"] = [
        fixture("debian12-faults/10-nginx-relative-cmdline.txt").strip()
    ]
    plan = by_name(run_refresh(host, check_mode=True))
    assert plan["nginx"]["strategy"] == "service_restart"
    assert plan["nginx"]["decision"] == "not_allowed"
    assert "relative argv[0]" in plan["nginx"]["reason"]
    plan = by_name(run_refresh(host, check_mode=True, restart_ok=True))
    assert plan["nginx"]["decision"] == "act"


def test_nginx_forced_upgrade_with_relative_argv0_reports_execve_error() -> None:
    host = everything_works(FakeHost())
    host.get(NGINX_MASTER)["cmdline"] = [
        fixture("debian12-faults/10-nginx-relative-cmdline.txt").strip()
    ]
    host.reactions[(NGINX_MASTER, "SIGUSR2")] = lambda h: None
    host.files[rf.NGINX_ERROR_LOG] = fixture("debian12-faults/11-nginx-relative-error.log")
    result = run_refresh(host, strategies={"nginx": "nginx_binary_upgrade"}, services=["nginx"])
    nginx = by_name(result, "services")["nginx"]
    assert nginx["status"] == "failed"
    assert "execve() failed" in nginx["output"]
    assert host.alive(NGINX_MASTER)


def test_apache_that_does_not_come_back_reports_its_own_error() -> None:
    host = everything_works(FakeHost())
    host.commands[("/etc/init.d/apache2", "start")] = recorded_run(
        "debian12-faults/30-apache2-start-badconf"
    )
    host.command_reactions[("/etc/init.d/apache2", "start")] = lambda h: None
    result = run_refresh(host, disruptive_ok=True)
    apache = by_name(result, "services")["apache2"]
    assert apache["status"] == "failed"
    assert "AH00526: Syntax error" in apache["output"]
    assert by_name(result, "services")["ssh"]["status"] == "refreshed"
    assert "apache2" in rf.failure_summary(result)


def test_sshd_config_error_means_no_signal() -> None:
    host = everything_works(FakeHost())
    host.commands[("/usr/sbin/sshd", "-t")] = recorded_run("debian12-faults/50-ssh-restart-badconf")
    result = run_refresh(host, services=["ssh"])
    ssh = by_name(result, "services")["ssh"]
    assert ssh["status"] == "failed"
    assert "Bad configuration option: NoSuchOption" in ssh["output"]
    assert (SSHD, "SIGHUP") not in host.signals()


def test_haproxy_master_without_new_worker_fails_with_config_check_text() -> None:
    host = everything_works(FakeHost())
    host.reactions[(HAPROXY_MASTER, "SIGUSR2")] = lambda h: h.refresh_in_place(HAPROXY_MASTER)
    host.commands[("/usr/sbin/haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg")] = recorded_run(
        "debian12-faults/42-haproxy-sf-badconf"
    )
    result = run_refresh(host, services=["haproxy"])
    haproxy = by_name(result, "services")["haproxy"]
    assert haproxy["status"] == "failed"
    assert "unknown keyword 'bogus_keyword'" in haproxy["output"]


def test_process_exiting_mid_run_is_not_an_error() -> None:
    host = everything_works(FakeHost())
    host.reactions[(HAPROXY_MASTER, "SIGUSR2")] = lambda h: None
    original_scan = host.scan
    scans: list[int] = []

    def scan() -> dict[str, Any]:
        result = original_scan()
        scans.append(1)
        if len(scans) == 1:  # haproxy exits between the scan and the signal
            host.remove(HAPROXY_MASTER, HAPROXY_WORKER)
        return result

    host.scan = scan  # type: ignore[method-assign]
    result = run_refresh(host, services=["haproxy"])
    haproxy = by_name(result, "services")["haproxy"]
    assert haproxy["status"] == "refreshed"
    assert any("already gone" in s for s in haproxy["steps"])


# ---- a service that does not come back, and starting it again --------------------------------
PW_TLSD = 132  # openssl s_server under /etc/init.d/pw-tlsd in 70-pw-tlsd-scan-stale.json
PW_TLSD_RESTART = ("/etc/init.d/pw-tlsd", "restart")
PW_TLSD_START = ("/etc/init.d/pw-tlsd", "start")


def pw_tlsd_host() -> FakeHost:
    """Recorded: nginx and pw-tlsd (a TLS daemon owned by no package, /usr/bin/openssl
    s_server under its own init script) mapping the replaced libraries after the upgrade."""
    host = FakeHost(load_scan("debian12-faults/70-pw-tlsd-scan-stale.json"))
    host.scripts["pw-tlsd"] = fixture("debian12-faults/70-pw-tlsd.init")
    nginx_upgrade_works_for(host, 125, (128, 129))
    return host


def nginx_upgrade_works_for(host: FakeHost, master: int, workers: tuple[int, ...]) -> None:
    def usr2(h: FakeHost) -> None:
        new = h.spawn(master, master)
        for worker in workers:
            h.spawn(worker, new)

    host.reactions[(master, "SIGUSR2")] = usr2
    host.reactions[(master, "SIGWINCH")] = lambda h: h.remove(*workers)
    host.reactions[(master, "SIGQUIT")] = lambda h: h.remove(master)


def pw_tlsd_restart_fails(host: FakeHost) -> None:
    """71-*: the restart after an upgrade that raised the daemon's security level: stopped,
    then its start fails with OpenSSL's own error and no process is left."""
    host.commands[PW_TLSD_RESTART] = recorded_run(
        "debian12-faults/71-pw-tlsd-restart-seclevel3")
    host.command_reactions[PW_TLSD_RESTART] = lambda h: h.remove(PW_TLSD)


def test_a_restart_that_leaves_the_service_stopped_names_it_and_its_own_error() -> None:
    host = pw_tlsd_host()
    pw_tlsd_restart_fails(host)
    result = run_refresh(host, restart_ok=True)
    svc = by_name(result, "services")
    assert svc["nginx"]["status"] == "refreshed"
    tlsd = svc["pw-tlsd"]
    assert (tlsd["strategy"], tlsd["service_source"], tlsd["exe"]) == (
        "service_restart", "init", "/usr/bin/openssl")
    assert tlsd["status"] == "failed" and tlsd["down"] is True
    assert tlsd["error"].startswith("pw-tlsd did not come back after restart -- pw-tlsd: ")
    assert "ee key too small" in tlsd["error"]
    assert result["failed_services"] == ["pw-tlsd"]
    assert result["services_down"] == [{
        "name": "pw-tlsd", "service": "pw-tlsd", "service_source": "init",
        "exe": "/usr/bin/openssl", "error": tlsd["error"]}]
    summary = rf.failure_summary(result)
    assert summary.startswith("1 service(s) could not be refreshed")
    assert "pw-tlsd (service_restart) (left stopped): pw-tlsd did not come back" in summary
    assert summary.count("ee key too small") == 1


def test_a_refresh_that_keeps_the_old_process_serving_is_not_down() -> None:
    host = everything_works(FakeHost())
    host.reactions[(NGINX_MASTER, "SIGUSR2")] = lambda h: None
    host.files[rf.NGINX_ERROR_LOG] = fixture("debian12-faults/20-nginx-badconf-error.log")
    result = run_refresh(host, services=["nginx"])
    nginx = by_name(result, "services")["nginx"]
    assert nginx["status"] == "failed" and nginx["down"] is False
    assert 'unknown directive "this"' in nginx["error"]
    assert result["services_down"] == []


def down_entry() -> dict[str, Any]:
    host = pw_tlsd_host()
    pw_tlsd_restart_fails(host)
    return run_refresh(host, restart_ok=True)["services_down"][0]


def pw_tlsd_is_down() -> FakeHost:
    """After the rollback: the library restored, nothing stale, pw-tlsd not running."""
    host = pw_tlsd_host()
    host.world = [p for p in host.world if p["pid"] != PW_TLSD and p["exe"] != "/usr/sbin/nginx"]
    return host


def test_recover_starts_the_service_again_and_reports_it() -> None:
    entry = down_entry()
    host = pw_tlsd_is_down()
    host.commands[PW_TLSD_START] = recorded_run("debian12-faults/72-pw-tlsd-start-ok")
    saved = load_scan("debian12-faults/70-pw-tlsd-scan-stale.json")["processes"]
    template = next(p for p in saved if p["pid"] == PW_TLSD)

    def start(h: FakeHost) -> None:
        h.world.append(copy.deepcopy(template))
        h.spawn(PW_TLSD, 1)
        h.remove(PW_TLSD)

    host.command_reactions[PW_TLSD_START] = start
    result = run_refresh(host, restart_ok=True, recover=[entry])
    assert host.commands_run() == [PW_TLSD_START]
    [rec] = result["recovered"]
    assert rec["status"] == "started" and rec["error"] is None
    assert rec["output"] == "pw-tlsd started (pid 310)"
    assert result["changed"] is True
    assert result["services_down"] == [] and result["failed_services"] == []
    # the second run finds it running and does nothing
    host.calls.clear()
    again = run_refresh(host, restart_ok=True, recover=[entry])
    assert again["recovered"][0]["status"] == "running"
    assert again["changed"] is False and host.commands_run() == []


def test_recover_in_check_mode_only_plans() -> None:
    host = pw_tlsd_is_down()
    result = run_refresh(host, check_mode=True, restart_ok=True, recover=[down_entry()])
    assert result["recovered"][0]["status"] == "would_start"
    assert result["changed"] is True and host.commands_run() == []


def test_recover_that_fails_again_stays_down_with_the_service_own_words() -> None:
    host = pw_tlsd_is_down()
    host.commands[PW_TLSD_START] = recorded_run(
        "debian12-faults/73-pw-tlsd-start-seclevel3")
    result = run_refresh(host, recover=[down_entry()])
    [rec] = result["recovered"]
    assert rec["status"] == "failed"
    assert rec["error"].startswith("pw-tlsd did not start again -- pw-tlsd: openssl s_server")
    assert result["failed_services"] == ["pw-tlsd"]
    assert [d["service"] for d in result["services_down"]] == ["pw-tlsd"]
    assert "pw-tlsd (start again): pw-tlsd did not start again" in rf.failure_summary(result)


def test_recover_waits_for_a_process_when_the_init_script_says_ok() -> None:
    host = pw_tlsd_is_down()
    host.commands[PW_TLSD_START] = recorded_run("debian12-faults/72-pw-tlsd-start-ok")
    result = run_refresh(host, recover=[down_entry()])
    assert result["recovered"][0]["status"] == "failed"
    assert "no process of /usr/bin/openssl runs" in result["recovered"][0]["error"]


def test_recover_on_systemd_uses_systemctl_start() -> None:
    host = pw_tlsd_is_down()
    entry = {"service": "pw-tlsd.service", "service_source": "systemd", "exe": None}
    result = run_refresh(host, recover=[entry])
    assert host.commands_run() == [("/usr/bin/systemctl", "start", "--", "pw-tlsd.service")]
    assert result["recovered"][0]["status"] == "started"


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("pw-tlsd", "must be a dict"),
        ({"service": "../../bin/sh", "service_source": "init"}, "invalid service name"),
        ({"service": "a b", "service_source": "init"}, "invalid service name"),
        ({"service": "", "service_source": "init"}, "invalid service name"),
        ({"service": "pw-tlsd", "service_source": "upstart"}, "must be init or systemd"),
    ],
)
def test_recover_entries_are_validated(entry: Any, match: str) -> None:
    with pytest.raises(rf.RefreshError, match=match):
        options(recover=[entry])


recover_entry = st.dictionaries(
    st.sampled_from(["name", "service", "service_source", "exe", "error"]),
    st.one_of(st.none(), st.text(max_size=30), st.integers(), st.sampled_from(
        ["init", "systemd", "pw-tlsd", "/usr/bin/openssl"])),
)


@given(st.lists(st.one_of(st.text(max_size=20), recover_entry), max_size=3))
def test_recover_validation_never_raises_unexpected(entries: list[Any]) -> None:
    try:
        out = rf.normalise_recover(entries)
    except rf.RefreshError:
        return
    for item in out:
        assert "/" not in item["service"] and item["service"] not in (".", "..")
        assert item["service_source"] in ("init", "systemd")


# ---- haproxy soft reload ---------------------------------------------------------------------
def test_haproxy_soft_reload_argv_matches_the_recorded_command() -> None:
    """41-haproxy-after-sf.txt: the command run in the recording."""
    cmdline = fixture("debian12-faults/40-haproxy-plain-cmdline.txt").split()
    host = FakeHost()
    host.files["/etc/haproxy/haproxy.cfg"] = fixture("debian12-haproxy.cfg")
    sock = rf.haproxy_expose_fd_socket(cmdline, host)
    assert sock == "/run/haproxy/admin.sock"
    argv = rf.haproxy_soft_reload_argv(cmdline, [2052], sock)
    assert " ".join(argv) == (
        "/usr/sbin/haproxy -f /etc/haproxy/haproxy.cfg -D -p "
        "/var/run/haproxy.pid -x /run/haproxy/admin.sock -sf 2052"
    )
    again = rf.haproxy_soft_reload_argv(argv, [2064], sock)
    assert again.count("-sf") == 1 and again.count("-x") == 1 and again[-1] == "2064"


def test_haproxy_soft_reload_failure_keeps_old_process() -> None:
    host = everything_works(FakeHost())
    master = host.get(HAPROXY_MASTER)
    master["cmdline"] = fixture("debian12-faults/40-haproxy-plain-cmdline.txt").split()
    host.files["/etc/haproxy/haproxy.cfg"] = fixture("debian12-haproxy.cfg")
    expected = (
        "/usr/sbin/haproxy",
        "-f",
        "/etc/haproxy/haproxy.cfg",
        "-D",
        "-p",
        "/var/run/haproxy.pid",
        "-x",
        "/run/haproxy/admin.sock",
        "-sf",
        "2217",
        "2218",
    )
    host.commands[expected] = recorded_run("debian12-faults/42-haproxy-sf-badconf")
    result = run_refresh(host, services=["haproxy"])
    haproxy = by_name(result, "services")["haproxy"]
    assert haproxy["strategy"] == "haproxy_soft_reload"
    assert haproxy["status"] == "failed"
    assert "Fatal errors found in configuration" in haproxy["output"]
    assert host.alive(HAPROXY_MASTER)


# ---- live patching ---------------------------------------------------------------------------
def test_livepatched_processes_count_as_refreshed_with_evidence() -> None:
    """KernelCare is not available here: the records have the shape livepatch.gather returns."""
    host = everything_works(FakeHost())
    state = {
        "kernelcare": {"present": True, "libcare_enabled": True, "path": "/usr/bin/kcarectl"},
        "patched": [],
    }

    def gather() -> dict[str, Any]:
        return state

    def update(h: FakeHost) -> None:
        state["patched"] = [
            {
                "pid": PYTHON,
                "object": "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                "build_id": "ab12",
                "patch_level": 3,
                "source": "kcarectl",
                "cves": ["CVE-2026-0001"],
                "vulnerable": False,
            }
        ]

    host.command_reactions[("/usr/bin/kcarectl", "--lib-update")] = update
    opts = options(livepatch="auto", services=["python3.11"])
    result = rf.Refresh(opts, host, False, gather).run()
    assert result["livepatch"]["update_run"] is True
    plan = by_name(result)
    assert plan["python3.11"]["decision"] == "livepatched"
    assert plan["python3.11"]["livepatch_evidence"][str(PYTHON)][0]["patch_level"] == 3
    # second run: already covered, nothing to do
    assert result["changed"] is True
    again = rf.Refresh(opts, host, False, gather).run()
    assert again["changed"] is False
    assert by_name(again)["python3.11"]["decision"] == "livepatched"


# ---- options and properties ------------------------------------------------------------------
def test_unknown_strategy_is_a_clear_error() -> None:
    with pytest.raises(rf.RefreshError, match="unknown strategy"):
        options(strategies={"nginx": "reboot_now"})


def test_every_table_row_is_documented() -> None:
    for row in rf.rs.STRATEGIES.values():
        assert row.action and row.evidence
        assert row.gate in (None, "restart_ok", "disruptive_ok")
        assert row.disruptive == (row.gate is not None)


cmdline_text = st.lists(st.text(min_size=0, max_size=12), max_size=8)


@given(cmdline_text, st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=4))
def test_haproxy_argv_never_raises_unexpected(cmdline: list[str], pids: list[int]) -> None:
    try:
        argv = rf.haproxy_soft_reload_argv(cmdline, pids, None)
    except rf.ActionFailed:
        assert not cmdline
        return
    assert argv[-len(pids) :] == [str(p) for p in sorted(pids)]
    assert argv[0] == cmdline[0]  # the program itself, whatever its name (even "-sf")
    assert argv[1:].count("-sf") == 1


@given(st.text(max_size=300))
def test_expose_fd_parser_never_raises(text: str) -> None:
    host = FakeHost()
    host.files["/x.cfg"] = text
    result = rf.haproxy_expose_fd_socket(["haproxy", "-f", "/x.cfg"], host)
    assert result is None or result.startswith("/")


@given(st.lists(st.text(max_size=40), max_size=3))
def test_nginx_argv_never_raises(cmdline: list[str]) -> None:
    argv = rf.rs.nginx_argv({"cmdline": cmdline})
    assert isinstance(argv, list)
    assert isinstance(rf.rs.nginx_test_args(argv), list)
