# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_packages as Ansible runs it, with run_command fed recorded Debian 12 outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops
from ansible_collections.patchwise.openssl.plugins.modules import openssl_packages

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pkgops"


def _answers(policy: str = "debian12-apt-cache-policy.txt") -> list:
    return [
        (["dpkg-query"], (0, (FIX / "debian12-dpkg-query-W.txt").read_text(), "")),
        (["apt-get", "update"], (0, (FIX / "debian12-apt-get-update-ok.txt").read_text(), "")),
        (["apt-cache"], (0, (FIX / policy).read_text(), "")),
        (["apt-get", "-s"], (0, (FIX / "debian12-apt-get-s-install.txt").read_text(), "")),
    ]


@pytest.fixture
def commands(monkeypatch, tmp_path):
    calls = []
    answers = _answers()

    def run_command(self, argv, cwd=None, environ_update=None, **kwargs):
        calls.append((list(argv), environ_update))
        for prefix, answer in answers:
            if list(argv[: len(prefix)]) == prefix:
                return answer
        return 1, "", f"unexpected {argv}"

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(
        AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/bin/{name}"
    )
    monkeypatch.setattr(pkgops, "lock_free", lambda paths=None: (True, ""))
    monkeypatch.setattr(pkgops, "private_lists_dir", lambda: str(tmp_path / "lists"))
    return calls, answers


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_packages.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_plans_and_changes_nothing(commands, capsys, tmp_path):
    calls, _state = commands
    out = _run({"_ansible_check_mode": True, "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["changed"] is True
    assert out["changed_packages"] == [
        {"name": "libssl3", "from": "3.0.20-1~deb12u2", "to": "3.0.22-1~deb12u2"},
        {"name": "openssl", "from": "3.0.20-1~deb12u2", "to": "3.0.22-1~deb12u2"},
    ]
    assert out["rollback_point"] == {}
    assert not (tmp_path / "rb").exists()
    argvs = [c[0] for c in calls]
    assert not any(a[:2] == ["apt-get", "install"] for a in argvs)
    update = next(a for a in argvs if a[:2] == ["apt-get", "update"])
    assert f"Dir::State::Lists={tmp_path / 'lists'}" in update
    assert all(env["DEBIAN_FRONTEND"] == "noninteractive" for _a, env in calls)
    assert all(env["NEEDRESTART_SUSPEND"] == "1" for _a, env in calls)


def test_unreachable_repository_fails_before_any_change(commands, capsys, tmp_path):
    _calls, answers = commands
    answers[1] = (
        ["apt-get", "update"],
        (0, (FIX / "debian12-apt-get-update-unreachable.txt").read_text(), ""),
    )
    out = _run({"rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith("pre-flight: a package repository is unreachable: Err:1")
    assert not (tmp_path / "rb").exists()


def test_pinned_missing_version_fails_clearly(commands, capsys, tmp_path):
    out = _run({"version": "3.0.99-1", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert "target version not available" in out["msg"]
    assert "3.0.99-1 is not offered" in out["msg"]


def test_downgrade_is_refused(commands, capsys, tmp_path):
    out = _run({"version": "3.0.17-1~deb12u2", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert "refusing to downgrade" in out["msg"]
    assert "state=restored" in out["msg"]


def test_restore_without_rollback_point(commands, capsys, tmp_path):
    out = _run({"state": "restored", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert out["msg"] == f"no rollback point under {tmp_path}"
    out = _run({"state": "restored", "run_id": "../x", "rollback_dir": str(tmp_path)}, capsys)
    assert "letters, digits" in out["msg"]


# --- faults: a held lock, an upgrade that fails mid-way, an interrupted earlier attempt ---

HELD = "/var/lib/dpkg/lock-frontend is held by pid 686 (python3)"


@pytest.fixture
def host(apt_host):
    """A Debian 12 host whose dpkg-query answers change after apt-get install ran."""
    state = {"installed": fixture_text("debian12-dpkg-query-W.txt"), "calls": []}
    after_ok = state["installed"].replace("3.0.20-1~deb12u2", "3.0.22-1~deb12u2")
    state["after_install"] = after_ok
    state["install"] = (0, "", "")

    def run_command(self, argv, cwd=None, environ_update=None, **kwargs):
        argv = list(argv)
        state["calls"].append(argv)
        if argv[0] == "dpkg-query":
            return state.get("query", (0, state["installed"], ""))
        if argv[:2] == ["apt-get", "install"]:
            state["installed"] = state["after_install"]
            if "query_after_install" in state:
                state["query"] = state["query_after_install"]
            return state["install"]
        for prefix, answer in _answers():
            if argv[: len(prefix)] == prefix:
                return answer
        return 1, "", f"unexpected {argv}"

    apt_host(run_command, on_copy=lambda name: state.setdefault("copied", []).append(name))
    return state


def fixture_text(name: str) -> str:
    return (FIX / name).read_text()


def test_check_mode_plans_while_the_lock_is_held(host, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(pkgops, "lock_free", lambda paths=None: (False, HELD))
    out = _run({"_ansible_check_mode": True, "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert "failed" not in out
    assert out["changed"] is True
    assert out["preflight"]["lock"] == {"free": False, "waited_seconds": 0, "detail": HELD}
    assert any(HELD in w and "waits up to 120 s" in w for w in out["warnings_list"])


def test_held_lock_fails_after_the_bounded_wait_before_any_change(
    host, monkeypatch, capsys, tmp_path
):
    waits = []

    def wait_for_lock(timeout, *args, **kwargs):
        waits.append(timeout)
        return {"free": False, "waited_seconds": 5.0, "detail": HELD}

    monkeypatch.setattr(pkgops, "wait_for_lock", wait_for_lock)
    out = _run({"lock_timeout": 5, "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert waits == [5]
    assert out["failed"] is True
    assert out["msg"] == (
        f"pre-flight: package lock not free after 5.0 s (lock_timeout 5 s): {HELD}; "
        "nothing was changed"
    )
    assert not (tmp_path / "rb").exists()
    assert host["calls"] == []  # not even dpkg-query: the lock comes first


def test_upgrade_failing_mid_way_reports_what_dpkg_left(host, capsys, tmp_path):
    host["install"] = (
        100,
        fixture_text("debian12-apt-get-install-postinst-fails.out"),
        fixture_text("debian12-apt-get-install-postinst-fails.err"),
    )
    host["after_install"] = fixture_text("debian12-dpkg-query-W-half-configured.txt")
    root = tmp_path / "rb"
    out = _run({"run_id": "r1", "rollback_dir": str(root)}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith(
        "the upgrade failed mid-way: apt-get install failed (rc=100): libssl3:amd64 "
        "(--configure): installed libssl3:amd64 package post-installation script subprocess "
        "returned error exit status 1; openssl (--configure): dependency problems"
    )
    assert out["msg"].endswith(
        "now installed: libssl3 3.0.22-1~deb12u2+patchwisebroken1 (half-configured), "
        "openssl 3.0.22-1~deb12u2+patchwisebroken1 (unpacked, not configured); "
        "rollback point r1 holds the versions from before"
    )
    assert out["before"] == {"libssl3": "3.0.20-1~deb12u2", "openssl": "3.0.20-1~deb12u2"}
    assert out["after"] == {
        "libssl3": "3.0.22-1~deb12u2+patchwisebroken1",
        "openssl": "3.0.22-1~deb12u2+patchwisebroken1",
    }
    assert out["after_states"] == {"libssl3": "iF", "openssl": "iU"}
    assert out["rollback_point"]["run_id"] == "r1"
    manifest = json.loads((root / "r1" / "manifest.json").read_text())
    assert {p["name"]: p["version"] for p in manifest["packages"]} == out["before"]
    assert sorted(p.name for p in root.iterdir()) == ["r1"]


def test_rollback_point_is_written_whole_and_a_partial_one_is_cleared(host, capsys, tmp_path):
    root = tmp_path / "rb"
    (root / ".r1.partial-x1y2").mkdir(parents=True)
    (root / ".r1.partial-x1y2" / "libssl3_3.0.20-1~deb12u2_amd64.deb").write_bytes(b"half")
    out = _run({"run_id": "r1", "rollback_dir": str(root)}, capsys)
    assert out["changed"] is True
    assert out["after"] == {"libssl3": "3.0.22-1~deb12u2", "openssl": "3.0.22-1~deb12u2"}
    assert out["rollback_point"]["reused"] is False
    assert sorted(p.name for p in root.iterdir()) == ["r1"]
    assert oct((root / "r1").stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in (root / "r1").iterdir()) == [
        "libssl3_3.0.20-1~deb12u2_amd64.deb",
        "manifest.json",
        "openssl_3.0.20-1~deb12u2_amd64.deb",
    ]


def test_an_earlier_attempts_rollback_point_is_kept(host, capsys, tmp_path):
    """Same run id again (the first attempt was interrupted after writing its point)."""
    root = tmp_path / "rb"
    first = _run({"run_id": "r1", "rollback_dir": str(root)}, capsys)
    manifest = (root / "r1" / "manifest.json").read_bytes()
    # The interrupted attempt never upgraded: the host is on the old versions again.
    host["installed"] = fixture_text("debian12-dpkg-query-W.txt")
    host["copied"] = []
    again = _run({"run_id": "r1", "rollback_dir": str(root)}, capsys)
    assert again["changed"] is True
    assert again["rollback_point"]["reused"] is True
    assert host["copied"] == []
    assert (root / "r1" / "manifest.json").read_bytes() == manifest
    assert [p["run_id"] for p in again["rollback_points"]] == ["r1"]
    assert again["rollback_points"][0]["packages"] == [
        {"name": p["name"], "version": p["version"]} for p in first["rollback_point"]["packages"]
    ]
    assert any("already existed" in w for w in again["warnings_list"])


def test_upgrade_failure_with_an_unreadable_package_database(host, capsys, tmp_path):
    host["install"] = (100, "", "E: Sub-process /usr/bin/dpkg returned an error code (1)")
    host["query_after_install"] = (2, "", "dpkg-query: error: parsing file '/var/lib/dpkg/status'")
    out = _run({"run_id": "r1", "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith(
        "the upgrade failed: apt-get install failed (rc=100): E: Sub-process /usr/bin/dpkg "
        "returned an error code (1); the package database cannot be read now (dpkg-query "
        "failed (rc=2): dpkg-query: error: parsing file"
    )
    assert out["msg"].endswith("rollback point r1 holds the versions from before")


# --- a host where dpkg did not finish an earlier run (fixtures/pkgops/unfinished/) ---

UNF = FIX / "unfinished"
BROKEN = "3.0.22-1~deb12u2+patchwisebroken1"
ORIG = "3.0.22-1~deb12u2"


def _half_configured(host):
    host["installed"] = (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text()


def _point(root, run_id, versions, created_at="2026-11-22T13:00:00Z"):
    """A rollback point as the module writes it (copies are stand-ins with their sha256)."""
    directory = root / run_id
    directory.mkdir(parents=True)
    packages = []
    for name, version in versions.items():
        path = directory / f"{name}_{version}_amd64.deb"
        path.write_bytes(b"!<arch>\n" + name.encode())
        packages.append(
            {
                "name": name,
                "arch": "amd64",
                "version": version,
                "file": path.name,
                "sha256": pkgops.sha256_file(str(path)),
                "origin": "download",
            }
        )
    manifest = {
        "format": 1,
        "run_id": run_id,
        "created_at": created_at,
        "packages": packages,
        "restores": [],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.mark.parametrize("check_mode", [True, False])
def test_half_configured_host_is_reported_and_refused(host, capsys, tmp_path, check_mode):
    _half_configured(host)
    root = tmp_path / "rb"
    _point(
        root,
        "r1",
        {"libssl3": "3.0.20-1~deb12u2", "openssl": "3.0.20-1~deb12u2"},
        "2026-11-20T10:00:00Z",
    )
    _point(root, "r2", {"libssl3": ORIG, "openssl": ORIG}, "2026-11-21T10:00:00Z")
    out = _run(
        {"_ansible_check_mode": check_mode, "run_id": "r3", "rollback_dir": str(root)}, capsys
    )
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"].startswith(
        "pre-flight: dpkg did not finish an earlier package run (a maintainer script failed or "
        f"it was interrupted): libssl3 {BROKEN} is half-configured (dpkg 'iF'; last configured "
        f"version {ORIG}, kept in rollback point r2); openssl {BROKEN} is unpacked, not "
        f"configured (dpkg 'iU'; last configured version {ORIG}, kept in rollback point r2)."
    )
    assert "Fix it first: roll back with state=restored run_id=r2" in out["msg"]
    assert "'dpkg --configure -a'" in out["msg"]
    # The truth about the host: the versions dpkg has, and their states.
    assert out["before"] == {"libssl3": BROKEN, "openssl": BROKEN}
    assert out["before_states"] == {"libssl3": "iF", "openssl": "iU"}
    assert [
        (p["name"], p["state"], p["config_version"], p["rollback_points"])
        for p in out["unfinished"]
    ] == [
        ("libssl3", "half-configured", ORIG, ["r2"]),
        ("openssl", "unpacked", ORIG, ["r2"]),
    ]
    assert out["changed_packages"] == []
    assert out["rollback_point"] == {}
    # Nothing was asked of apt, no new rollback point was written.
    assert [c[0] for c in host["calls"]] == ["dpkg-query"]
    assert sorted(p.name for p in root.iterdir()) == ["r1", "r2"]


def test_interrupted_unpack_without_rollback_point_points_to_dpkg(host, capsys, tmp_path):
    host["installed"] = (UNF / "debian12-interrupted-dpkg-query-W.txt").read_text()
    out = _run({"rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["failed"] is True
    assert (
        f"openssl {ORIG} is half-installed (dpkg 'iHR'; last configured version {ORIG})"
        in (out["msg"])
    )
    assert "state=restored" not in out["msg"]
    assert out["before_states"] == {"libssl3": "ii", "openssl": "iHR"}
    assert not (tmp_path / "rb").exists()


def test_an_upgrade_that_leaves_a_package_unfinished_fails(host, capsys, tmp_path):
    """apt-get said 0, yet dpkg did not finish a package (a trigger left pending, say)."""
    after = host["after_install"].replace(
        "openssl\topenssl\tamd64\t3.0.22-1~deb12u2\topenssl\t3.0.22-1~deb12u2\tii ",
        "openssl\topenssl\tamd64\t3.0.22-1~deb12u2\topenssl\t3.0.22-1~deb12u2\tit ",
    )
    assert after != host["after_install"]
    host["after_install"] = after
    out = _run({"run_id": "r1", "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["failed"] is True
    assert out["msg"] == f"after the upgrade: openssl {ORIG} is triggers pending"


def test_restore_reinstalls_a_half_configured_package_at_the_recorded_version(
    monkeypatch, capsys, tmp_path
):
    """dpkg has libssl3 at the recorded version, but half-configured: it is installed again."""
    root = tmp_path / "rb"
    _point(root, "r2", {"libssl3": BROKEN, "openssl": BROKEN})
    state = {"query": (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text(), "calls": []}
    fixed = state["query"].replace("\tiF \t" + ORIG, "\tii \t").replace("\tiU \t" + ORIG, "\tii \t")

    def run_command(self, argv, cwd=None, environ_update=None, **kwargs):
        argv = list(argv)
        state["calls"].append(argv[:2])
        if argv[0] == "dpkg-query":
            return 0, state["query"], ""
        if argv[:2] == ["dpkg", "-i"]:
            state["query"] = fixed
            return 0, "", ""
        if argv[:2] == ["dpkg", "--audit"]:
            return 0, "", ""
        return 1, "", f"unexpected {argv}"

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(
        AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/bin/{name}"
    )
    monkeypatch.setattr(pkgops, "lock_free", lambda paths=None: (True, ""))
    monkeypatch.setattr(
        pkgops, "wait_for_lock", lambda *a, **k: {"free": True, "waited_seconds": 0, "detail": ""}
    )
    check = _run(
        {
            "_ansible_check_mode": True,
            "state": "restored",
            "run_id": "r2",
            "rollback_dir": str(root),
        },
        capsys,
    )
    assert check["changed"] is True
    assert check["before_states"] == {"libssl3": "iF", "openssl": "iU"}
    assert [(p["name"], p["action"]) for p in check["plan"]] == [
        ("libssl3", "restore"),
        ("openssl", "restore"),
    ]
    assert ["dpkg", "-i"] not in state["calls"]
    out = _run({"state": "restored", "run_id": "r2", "rollback_dir": str(root)}, capsys)
    assert "failed" not in out
    assert out["changed"] is True
    assert out["after"] == {"libssl3": BROKEN, "openssl": BROKEN}
    assert ["dpkg", "-i"] in state["calls"]
    manifest = json.loads((root / "r2" / "manifest.json").read_text())
    assert [r["ok"] for r in manifest["restores"]] == [True]
