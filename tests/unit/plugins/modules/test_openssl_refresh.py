# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_refresh as Ansible runs it: arguments in, plan and facts out, never a traceback.

The module's seams are replaced: ``procscan.Scanner`` returns the scan recorded in a Debian 12
container (tests/unit/fixtures/refresh/debian12-scan-stale.json: nginx, haproxy -W, apache2,
sshd and an unowned python3, all mapping a deleted libssl/libcrypto), and ``Host`` is a subclass
that reads the recorded init scripts of that container instead of this machine's and refuses
to signal or run anything unless a test allows it. The live behaviour is proven by the molecule
scenario extensions/molecule/refresh.
"""

from __future__ import annotations

import gzip
import json
import pathlib
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import refresh as rf
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)
from ansible_collections.patchwise.openssl.plugins.modules import openssl_refresh

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "refresh"
SCAN = json.loads((FIXTURES / "debian12-scan-stale.json").read_text(encoding="utf-8"))
# signals and commands the module tried to send or run
ACTIONS: list[tuple[Any, ...]] = []
# Init scripts whose first line trips the repository's shebang check are kept gzip-compressed.
INIT_D = {
    p.name.removesuffix(".gz"): (
        gzip.decompress(p.read_bytes()).decode()
        if p.suffix == ".gz"
        else p.read_text(encoding="utf-8")
    )
    for p in (FIXTURES / "debian12-initd").iterdir()
}


class RecordedHost(rf.Host):
    """The recorded container: its init scripts, PID 1 = podman's init, the scan's mount
    namespace as our own. Signals and commands are recorded and refused."""

    def kill(self, pid: int, sig: int) -> bool:
        ACTIONS.append(("kill", pid, sig))
        raise AssertionError(f"signal {sig} to {pid} in a test that allows none")

    def run(self, argv: list[str]) -> tuple[int, str, str]:
        ACTIONS.append(("run", tuple(argv)))
        raise AssertionError(f"command {argv} in a test that allows none")

    def listdir(self, path: str) -> list[str]:
        return sorted(INIT_D) if path == rf.INIT_DIR else []

    def read_text(self, path: str, limit: int = 1 << 20) -> str | None:
        if path.startswith(rf.INIT_DIR + "/"):
            return INIT_D.get(path.rsplit("/", 1)[1])
        return None

    def readlink(self, path: str) -> str | None:
        return {f"{self.proc}/1/exe": "/run/podman-init",
                f"{self.proc}/self/ns/mnt": SCAN["processes"][0]["mnt_ns"]}.get(path)

    def exists(self, path: str) -> bool:
        # the executables of the recorded processes exist in their root
        return path.startswith(f"{self.proc}/") and path.endswith(("/usr/sbin/nginx",))


class FakeScanner:
    def __init__(self, listening: bool = True) -> None:
        assert listening is False  # the module never needs the socket tables

    @staticmethod
    def scan() -> dict[str, Any]:
        return json.loads(json.dumps(SCAN))


class FakeProcscan:
    Scanner = FakeScanner


@pytest.fixture(autouse=True)
def recorded_host(monkeypatch: pytest.MonkeyPatch) -> None:
    ACTIONS.clear()
    monkeypatch.setattr(openssl_refresh, "Host", RecordedHost)
    monkeypatch.setattr(openssl_refresh, "procscan", FakeProcscan)
    monkeypatch.setattr(openssl_refresh, "livepatch", None)


def _run(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_refresh.main()
    return json.loads(capsys.readouterr().out)


def _plan(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in out["plan"]}


# --- argument errors name the option ------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"phase": "later"}, ["phase", "later", "all, online, drain"]),
        ({"livepatch": "maybe"}, ["livepatch", "maybe"]),
        ({"timeout": "soon"}, ["timeout"]),
        ({"services": {"a": 1}}, ["services"]),
        ({"restart_ok": "perhaps"}, ["restart_ok"]),
        ({"no_such_option": 1}, ["no_such_option"]),
        ({"strategies": {"nginx": "reboot_it"}}, ["reboot_it", "nginx_binary_upgrade"]),
        ({"timeout": 0}, ["timeout must be a positive number"]),
    ],
)
def test_argument_errors_name_the_option(args, words, capsys) -> None:
    out = _run(args, capsys)
    assert out["failed"] is True
    for word in words:
        assert word in out["msg"]
    assert "Traceback" not in out["msg"]
    assert ACTIONS == []


# --- check mode: the plan only --------------------------------------------------------------
def test_check_mode_returns_the_plan_and_touches_nothing(capsys) -> None:
    out = _run({"disruptive_ok": True, "_ansible_check_mode": True}, capsys)
    assert "failed" not in out
    assert out["changed"] is True  # actions would run
    assert out["check_mode"] is True
    assert out["services"] == [] and out["failed_services"] == []
    assert ACTIONS == []
    plan = _plan(out)
    assert {n: (e["strategy"], e["decision"]) for n, e in plan.items()} == {
        "nginx": ("nginx_binary_upgrade", "act"),
        "haproxy": ("haproxy_master_reload", "act"),
        "ssh": ("sshd_hup", "act"),
        "apache2": ("apache_stop_start", "act"),
        "python3.11": ("report_only", "unowned"),
    }
    assert plan["nginx"]["pids"] == [1822, 1824, 1825]
    assert plan["apache2"]["disruptive"] is True and plan["apache2"]["gate"] == "disruptive_ok"
    assert out["drain_services"] == ["apache2"]
    # nothing was done, so every stale process is still a leftover
    assert sorted(p["pid"] for p in out["leftover"]) == sorted(
        p["pid"] for p in SCAN["processes"] if p["stale"])
    assert out["ansible_facts"] == {
        "openssl_refresh_required": True,
        "openssl_reboot_required": False,
        "openssl_refresh_leftover": out["leftover"],
    }


def test_check_mode_online_phase_defers_apache2_to_the_drain(capsys) -> None:
    out = _run({"phase": "online", "disruptive_ok": True, "_ansible_check_mode": True}, capsys)
    plan = _plan(out)
    assert plan["apache2"]["decision"] == "pending_drain"
    assert plan["nginx"]["decision"] == "act"
    assert out["phase"] == "online" and out["drain_services"] == ["apache2"]
    assert ACTIONS == []


def test_check_mode_without_the_gate_reports_apache2_not_allowed(capsys) -> None:
    out = _run({"_ansible_check_mode": True}, capsys)
    apache = _plan(out)["apache2"]
    assert apache["decision"] == "not_allowed"
    assert "disruptive_ok" in apache["reason"]
    assert out["drain_services"] == []


def test_check_mode_deny_extra_is_reported_for_a_maintenance_window(capsys) -> None:
    out = _run({"deny_extra": ["haproxy"], "_ansible_check_mode": True}, capsys)
    haproxy = _plan(out)["haproxy"]
    assert haproxy["decision"] == "denied" and haproxy["strategy"] == "report_only"
    assert "maintenance window" in haproxy["reason"]
    assert out["reboot_required"] is True
    assert out["ansible_facts"]["openssl_reboot_required"] is True
    assert {p["class"] for p in out["leftover"] if p["service"] == "haproxy"} == {"denied"}


def test_check_mode_with_nothing_stale_is_unchanged(monkeypatch, capsys) -> None:
    fresh = json.loads(json.dumps(SCAN))
    for proc in fresh["processes"]:
        proc["stale"] = False
        for lib in proc["libraries"]:
            lib.update(deleted=False, stale=False, stale_reason=None)
    monkeypatch.setattr(FakeScanner, "scan", staticmethod(lambda: fresh))
    out = _run({"_ansible_check_mode": True}, capsys)
    assert out["changed"] is False
    assert out["plan"] == [] and out["leftover"] == []
    assert out["ansible_facts"]["openssl_refresh_required"] is False


# --- the wrapper's failure paths ----------------------------------------------------------
def test_failed_service_fails_the_module_with_a_summary_and_the_full_result(
        monkeypatch, capsys) -> None:
    """A service whose refresh failed: fail_json with one line per service, result kept."""

    class FailingRefresh:
        def __init__(self, options, host, check_mode, livepatch_gather) -> None:
            assert livepatch_gather is None  # live patching support not importable here

        @staticmethod
        def run() -> dict[str, Any]:
            return {
                "changed": True, "check_mode": False, "phase": "all", "plan": [],
                "services": [
                    {"name": "nginx", "strategy": "nginx_binary_upgrade", "status": "failed",
                     "error": "the new nginx master did not start",
                     "output": 'execve() failed while executing new binary process "nginx"'},
                    {"name": "haproxy", "strategy": "haproxy_master_reload",
                     "status": "refreshed", "error": None, "output": None},
                ],
                "failed_services": ["nginx"], "leftover": [], "containers": {},
                "unowned": [], "drain_services": [], "refresh_required": True,
                "reboot_required": False, "livepatch": {}, "unreadable_processes": [],
                "warnings": ["a warning from the scan"],
            }

    warned: list[str] = []
    monkeypatch.setattr(openssl_refresh, "Refresh", FailingRefresh)
    monkeypatch.setattr(openssl_refresh.AnsibleModule, "warn",
                        lambda self, text, *a, **kw: warned.append(text))
    out = _run({}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith("openssl_refresh: 1 service(s) could not be refreshed")
    assert "nginx (nginx_binary_upgrade): the new nginx master did not start -- execve()" in (
        out["msg"])
    assert "haproxy" not in out["msg"]
    assert out["failed_services"] == ["nginx"]
    assert [s["status"] for s in out["services"]] == ["failed", "refreshed"]
    assert warned == ["a warning from the scan"]  # routed through module.warn
    assert out["ansible_facts"]["openssl_refresh_required"] is True


def test_collection_errors_fail_cleanly(monkeypatch, capsys) -> None:
    def broken_scan() -> dict[str, Any]:
        raise PatchwiseError("cannot read /proc")

    monkeypatch.setattr(FakeScanner, "scan", staticmethod(broken_scan))
    out = _run({"_ansible_check_mode": True}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "openssl_refresh: cannot read /proc"
