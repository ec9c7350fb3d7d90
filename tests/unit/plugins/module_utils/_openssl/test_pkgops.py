# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkgops on recorded real outputs (tests/unit/fixtures/pkgops/SOURCES.md)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops, pkgversions
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    ParseError,
    PatchwiseError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "pkgops"


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# --- parsers on recorded outputs ---


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("11", {"libssl1.1": "1.1.1w-0+deb11u1", "openssl": "1.1.1w-0+deb11u1"}),
        ("12", {"libssl3": "3.0.20-1~deb12u2", "openssl": "3.0.20-1~deb12u2"}),
        (
            "13",
            {
                "libssl3t64": "3.5.7-1~deb13u2",
                "openssl": "3.5.7-1~deb13u2",
                "openssl-provider-legacy": "3.5.7-1~deb13u2",
            },
        ),
    ],
)
def test_select_openssl_on_real_hosts(release, expected):
    installed = pkgops.parse_dpkg_query(fixture(f"debian{release}-dpkg-query-W.txt"))
    assert len(installed) > 100
    selected, leftover = pkgops.select_openssl(installed, "apt")
    assert {p["name"]: p["version"] for p in selected} == expected
    assert leftover == []


def test_leftover_series_is_left_alone_unless_asked():
    installed = pkgops.parse_dpkg_query(fixture("debian12-dpkg-query-W.txt"))
    old = dict(
        installed[0],
        name="libssl1.1",
        binary="libssl1.1:amd64",
        source="openssl",
        version="1.1.1w-0+deb11u1",
        installed=True,
        status="ii",
    )
    selected, leftover = pkgops.select_openssl([*installed, old], "apt")
    assert [p["name"] for p in leftover] == ["libssl1.1"]
    assert leftover[0]["branch"] == "1.1.1"
    assert "libssl1.1" not in {p["name"] for p in selected}
    selected, leftover = pkgops.select_openssl([*installed, old], "apt", include_leftover=True)
    assert "libssl1.1" in {p["name"] for p in selected}
    assert leftover == []


def test_apt_cache_policy_debian12():
    policy = pkgops.parse_apt_cache_policy(fixture("debian12-apt-cache-policy.txt"))
    assert set(policy) == {"libssl3", "openssl"}
    libssl = policy["libssl3"]
    assert libssl["installed"] == "3.0.20-1~deb12u2"
    assert libssl["candidate"] == "3.0.22-1~deb12u2"
    assert [v["version"] for v in libssl["versions"]] == [
        "3.0.22-1~deb12u2",
        "3.0.20-1~deb12u2",
        "3.0.17-1~deb12u2",
    ]
    installed = libssl["versions"][1]
    assert installed["installed"] is True
    assert [s["origin"] for s in installed["sources"]] == [
        "http://deb.debian.org/debian bookworm/main amd64 Packages",
        "/var/lib/dpkg/status",
    ]


def test_plan_debian13_three_packages():
    installed = pkgops.parse_dpkg_query(fixture("debian13-dpkg-query-W.txt"))
    selected, _leftover = pkgops.select_openssl(installed, "apt")
    policy = pkgops.parse_apt_cache_policy(fixture("debian13-apt-cache-policy.txt"))
    plan = pkgops.plan_apt(selected, policy)
    assert {(p["name"], p["from"], p["to"], p["action"]) for p in plan} == {
        ("libssl3t64", "3.5.7-1~deb13u2", "3.5.7-1~deb13u3", "upgrade"),
        ("openssl", "3.5.7-1~deb13u2", "3.5.7-1~deb13u3", "upgrade"),
        ("openssl-provider-legacy", "3.5.7-1~deb13u2", "3.5.7-1~deb13u3", "upgrade"),
    }
    sim = pkgops.parse_apt_get_simulate(fixture("debian13-apt-get-s-install.txt"))
    assert pkgops.check_simulation(sim, plan) == []


def test_plan_pinned_version_and_unavailable():
    installed = pkgops.parse_dpkg_query(fixture("debian12-dpkg-query-W.txt"))
    selected, _leftover = pkgops.select_openssl(installed, "apt")
    policy = pkgops.parse_apt_cache_policy(fixture("debian12-apt-cache-policy.txt"))
    pinned = pkgops.plan_apt(selected, policy, "3.0.17-1~deb12u2")
    assert {p["action"] for p in pinned} == {"downgrade"}
    missing = pkgops.plan_apt(selected, policy, "3.0.99-1")
    assert {p["action"] for p in missing} == {"unavailable"}
    assert "not offered" in missing[0]["reason"]
    same = pkgops.plan_apt(selected, policy, "3.0.20-1~deb12u2")
    assert {p["action"] for p in same} == {"none"}


def test_up_to_date_plan_is_none():
    installed = pkgops.parse_dpkg_query(fixture("debian12-dpkg-query-W.txt"))
    selected, _leftover = pkgops.select_openssl(installed, "apt")
    policy = pkgops.parse_apt_cache_policy(fixture("debian12-apt-cache-policy.txt"))
    for info in policy.values():
        info["candidate"] = info["installed"]
    assert {p["action"] for p in pkgops.plan_apt(selected, policy)} == {"none"}


def test_simulation_guard_catches_extra_packages_and_errors():
    plan = [{"name": "libssl3", "action": "upgrade"}, {"name": "openssl", "action": "upgrade"}]
    sim = pkgops.parse_apt_get_simulate(fixture("debian12-apt-get-s-install-libssl-dev.txt"))
    assert {e["name"]: e["old"] for e in sim["install"]} == {
        "libssl3": "3.0.20-1~deb12u2",
        "libssl-dev": None,
        "openssl": "3.0.20-1~deb12u2",
    }
    problems = pkgops.check_simulation(sim, plan)
    assert problems == [
        "apt would also install libssl-dev (new -> 3.0.22-1~deb12u2), which is not an OpenSSL "
        "package of the plan"
    ]
    missing = pkgops.parse_apt_get_simulate(fixture("debian12-apt-get-s-missing-version.txt"))
    assert missing["errors"] == ["Version '9.9.9' for 'libssl3' was not found"]
    assert pkgops.check_simulation(missing, plan) == [
        "apt: Version '9.9.9' for 'libssl3' was not found"
    ]


def test_apt_update_failure_despite_exit_code_zero():
    text = fixture("debian12-apt-get-update-unreachable.txt")
    assert text.rstrip().endswith("rc=0")
    errors = pkgops.parse_apt_update(text)
    assert errors[0] == "Err:1 http://127.0.0.1:9/debian bookworm InRelease"
    assert any("Failed to fetch" in e for e in errors)
    assert pkgops.parse_apt_update(fixture("debian12-apt-get-update-ok.txt")) == []


def test_dnf_check_update_recorded_outputs():
    epochs = pkgops.parse_dnf_check_update(fixture("dnf-check-update-epochs.txt"))
    assert len(epochs) == 15
    assert epochs[0] == {
        "name": "ceph",
        "arch": "x86_64",
        "version": "1:11.2.0-0.el7",
        "repo": "ceph",
    }
    wrapped = pkgops.parse_dnf_check_update(fixture("dnf-check-update-wrapped.txt"))
    assert [u["name"] for u in wrapped] == [
        "ipxe-roms-qemu",
        "quota",
        "quota-nls",
        "rdma",
        "screen",
        "sos",
        "sssd-client",
    ]
    assert wrapped[0]["repo"] == "rhelosp-9.0-director-puddle"
    obsoletes = pkgops.parse_dnf_check_update(fixture("dnf-check-update-obsoletes.txt"))
    assert len(obsoletes) == 12  # the "Obsoleting Packages" section is not an update list
    assert obsoletes[-1]["name"] == "xlockmore"


def test_zypper_recorded_output():
    updates = pkgops.parse_zypper_updates(fixture("zypper-xmlout-list-updates-sle12sp1.xml"))
    assert [(u["name"], u["version"], u["repo"]) for u in updates] == [
        ("SUSEConnect", "0.2.33-7.1", "SLE12-SP1-x86_64-Update"),
        ("bind-libs", "9.9.6P1-35.1", "SLE12-SP1-x86_64-Update"),
        ("bind-utils", "9.9.6P1-35.1", "SLE12-SP1-x86_64-Update"),
    ]
    with pytest.raises(ParseError):
        pkgops.parse_zypper_updates("Loading repository data...")


def test_rpm_selection_and_plan():
    installed = [
        {
            "name": "openssl-libs",
            "arch": "x86_64",
            "version": "1:3.0.7-27.el9",
            "source": "openssl",
        },
        {"name": "openssl", "arch": "x86_64", "version": "1:3.0.7-27.el9", "source": "openssl"},
        {
            "name": "compat-openssl11",
            "arch": "x86_64",
            "version": "1:1.1.1k-4.el9",
            "source": "compat-openssl11",
        },
        {"name": "bash", "arch": "x86_64", "version": "5.1.8-9.el9", "source": "bash"},
    ]
    selected, leftover = pkgops.select_openssl(installed, "dnf")
    assert [p["name"] for p in selected] == ["openssl-libs", "openssl"]
    assert [p["name"] for p in leftover] == ["compat-openssl11"]
    updates = [{"name": "openssl-libs", "arch": "x86_64", "version": "1:3.0.7-28.el9"}]
    plan = pkgops.plan_rpm(selected, updates)
    assert [(p["name"], p["action"], p["to"]) for p in plan] == [
        ("openssl-libs", "upgrade", "1:3.0.7-28.el9"),
        ("openssl", "none", "1:3.0.7-27.el9"),
    ]


# --- Debian version order ---


@pytest.mark.parametrize(
    ("a", "b", "sign"),
    [
        ("3.0.22-1~deb12u2+patchwise1", "3.0.22-1~deb12u2", 1),
        ("3.0.20-1~deb12u2", "3.0.22-1~deb12u2", -1),
        ("1.1.1w-0+deb11u8", "1.1.1w-0+deb11u1", 1),
        ("1:1.0", "2.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("3.5.7-1~deb13u3", "3.5.7-1~deb13u3", 0),
    ],
)
def test_compare_deb_versions(a, b, sign):
    result = pkgversions.compare_deb_versions(a, b)
    assert (result > 0) - (result < 0) == sign


_DEB_VERSIONS = st.from_regex(r"\A(?:[0-9]:)?[0-9][0-9a-z.+~]{0,8}(?:-[0-9a-z.+~]{1,6})?\Z")


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="needs dpkg")
@settings(max_examples=150, deadline=None)
@given(_DEB_VERSIONS, _DEB_VERSIONS)
def test_compare_matches_dpkg(a, b):
    result = pkgversions.compare_deb_versions(a, b)
    for op, expected in (("lt", result < 0), ("eq", result == 0), ("gt", result > 0)):
        rc = subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode
        assert (rc == 0) == expected, (a, op, b)


# --- property tests: parsers never raise anything but ParseError ---

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_parsers_never_raise_foreign_errors(text):
    for parser in (
        pkgops.parse_dpkg_query,
        pkgops.parse_apt_cache_policy,
        pkgops.parse_apt_get_simulate,
        pkgops.parse_apt_update,
        pkgops.parse_dpkg_errors,
        pkgops.parse_dnf_check_update,
        pkgops.parse_zypper_updates,
    ):
        with contextlib.suppress(ParseError):
            parser(text)


def test_dpkg_errors_of_a_failing_postinst():
    """A maintainer script failed mid-way: package, step and dpkg's reason, then apt's E:."""
    text = fixture("debian12-apt-get-install-postinst-fails.out") + fixture(
        "debian12-apt-get-install-postinst-fails.err"
    )
    assert pkgops.parse_dpkg_errors(text) == [
        "libssl3:amd64 (--configure): installed libssl3:amd64 package post-installation script "
        "subprocess returned error exit status 1",
        "openssl (--configure): dependency problems - leaving unconfigured",
        "E: Sub-process /usr/bin/dpkg returned an error code (1)",
    ]
    assert pkgops.parse_dpkg_errors(fixture("debian12-apt-get-update-ok.txt")) == []


def test_apt_upgrade_failure_names_the_failing_package():
    answers = {
        "apt-get": (
            100,
            fixture("debian12-apt-get-install-postinst-fails.out"),
            fixture("debian12-apt-get-install-postinst-fails.err"),
        )
    }
    mgr = pkgops.AptManager(lambda argv, cwd=None: answers[argv[0]])
    plan = [{"name": "libssl3", "arch": "amd64", "to": "3.0.22-1~deb12u2+x", "action": "upgrade"}]
    with pytest.raises(pkgops.PackageError) as info:
        mgr.upgrade(plan, 5)
    assert str(info.value).startswith(
        "apt-get install failed (rc=100): libssl3:amd64 (--configure): installed libssl3:amd64 "
        "package post-installation script subprocess returned error exit status 1; openssl"
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.text(max_size=30))
def test_policy_parser_on_mutated_fixture(cut, noise):
    text = fixture("debian12-apt-cache-policy.txt")
    with contextlib.suppress(ParseError):
        pkgops.parse_apt_cache_policy(text[:cut] + noise + text[cut:])


@given(_TEXT, _TEXT)
def test_compare_never_raises_foreign_errors(a, b):
    with contextlib.suppress(ParseError):
        pkgversions.compare_deb_versions(a, b)


# --- pre-flight ---


def test_lock_free_and_held(tmp_path):
    import fcntl

    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    assert pkgops.lock_free((str(lock),)) == (True, "")
    fd = os.open(lock, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        # A lock held by another process (a child holds it here: fcntl locks are per process).
        child = subprocess.Popen(
            [
                "python3",
                "-c",
                "import fcntl,os,sys,time; fd=os.open(sys.argv[1], os.O_RDWR); "
                "fcntl.lockf(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(30)",
                str(lock),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    try:
        assert child.stdout.readline().strip() == "locked"
        free, detail = pkgops.lock_free((str(lock),))
        assert free is False
        assert detail == f"{lock} is held by pid {child.pid} (python3)"
        clock = iter([0.0, 0.0, 1.0, 2.5, 3.1])
        waited = pkgops.wait_for_lock(
            3, (str(lock),), sleep=lambda s: None, clock=lambda: next(clock)
        )
        assert waited["free"] is False
        assert waited["waited_seconds"] >= 3
    finally:
        child.kill()
        child.wait()


def test_lock_holder_pid_from_proc_locks():
    """The holder, never the waiter (``->``), of the recorded lock; nothing for other inodes."""
    locks = (FIX / "debian12-proc-locks-dpkg-frontend.txt").read_text()
    device = os.makedev(0, 0x4C)
    assert pkgops.lock_holder_pid(locks, 2057850, device) == "686"
    assert pkgops.lock_holder_pid(locks, 2057850, os.makedev(8, 1)) == "686"
    assert pkgops.lock_holder_pid(locks, 99, device) == ""
    assert pkgops.lock_holder_pid("garbage\n\n1: POSIX", 2057850, device) == ""
    assert pkgops.lock_holder("/nonexistent/lock-frontend") == ""


def test_free_space_reports_shortage(tmp_path):
    ok = pkgops.free_space([str(tmp_path)], 1)
    assert ok["ok"] is True
    short = pkgops.free_space([str(tmp_path / "not" / "yet")], 10**9)
    assert short["ok"] is False
    assert "MiB free" in short["problems"][0]


# --- rollback points ---


def _point(root: Path, run_id: str, created: str) -> Path:
    directory = root / run_id
    pkgops.make_private_dir(str(root))
    pkgops.make_private_dir(str(directory))
    deb = directory / "libssl3_3.0.20-1~deb12u2_amd64.deb"
    deb.write_bytes(b"!<arch>\n" + run_id.encode())
    pkgops.write_manifest(
        str(directory),
        {
            "format": 1,
            "run_id": run_id,
            "created_at": created,
            "packages": [
                {
                    "name": "libssl3",
                    "arch": "amd64",
                    "version": "3.0.20-1~deb12u2",
                    "file": deb.name,
                    "sha256": pkgops.sha256_file(str(deb)),
                }
            ],
        },
    )
    return directory


def test_manifest_roundtrip_integrity_and_pruning(tmp_path):
    first = _point(tmp_path, "a", "2026-01-01T00:00:00Z")
    _point(tmp_path, "b", "2026-01-02T00:00:00Z")
    _point(tmp_path, "c", "2026-01-03T00:00:00Z")
    assert oct(first.stat().st_mode & 0o777) == "0o700"
    manifest = pkgops.load_manifest(str(first / "manifest.json"))
    assert pkgops.verify_manifest_files(str(first), manifest) == []
    (first / "libssl3_3.0.20-1~deb12u2_amd64.deb").write_bytes(b"tampered")
    assert "does not match its sha256" in pkgops.verify_manifest_files(str(first), manifest)[0]
    assert [p["run_id"] for p in pkgops.list_rollback_points(str(tmp_path))] == ["a", "b", "c"]
    # A point still being written (a dot directory, renamed into place when complete) is not one.
    _point(tmp_path, ".d.partial-x", "2026-01-04T00:00:00Z")
    assert [p["run_id"] for p in pkgops.list_rollback_points(str(tmp_path))] == ["a", "b", "c"]
    shutil.rmtree(tmp_path / ".d.partial-x")
    assert pkgops.prune_rollback_points(str(tmp_path), 2, protect="c") == ["a"]
    assert pkgops.prune_rollback_points(str(tmp_path), 1, protect="b") == ["c"]
    assert [p["run_id"] for p in pkgops.list_rollback_points(str(tmp_path))] == ["b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"format": 2}), "unknown manifest format"),
        (json.dumps({"format": 1, "packages": []}), "lists no packages"),
        (json.dumps({"format": 1, "packages": [{"name": "x"}]}), "incomplete package entry"),
    ],
)
def test_bad_manifests_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    path.write_text(content)
    with pytest.raises(pkgops.PackageError, match=message):
        pkgops.load_manifest(str(path))
    with pytest.raises(PatchwiseError):
        pkgops.load_manifest(str(tmp_path / "missing.json"))


def test_run_ids():
    assert pkgops.valid_run_id("20261122T071500Z")
    assert not pkgops.valid_run_id("../etc")
    assert not pkgops.valid_run_id("")


# --- managers with a recorded-output runner ---


class Recorder:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, cwd=None):
        self.calls.append(argv)
        for prefix, answer in self.answers:
            if argv[: len(prefix)] == prefix:
                return answer
        return 1, "", f"unexpected command {argv}"


def test_apt_manager_commands_are_noninteractive_and_exact():
    run = Recorder(
        [
            (["dpkg-query"], (0, fixture("debian12-dpkg-query-W.txt"), "")),
            (["apt-cache"], (0, fixture("debian12-apt-cache-policy.txt"), "")),
            (["apt-get", "-s"], (0, fixture("debian12-apt-get-s-install.txt"), "")),
            (["apt-get", "install"], (0, "", "")),
        ]
    )
    mgr = pkgops.AptManager(run)
    selected, _leftover = pkgops.select_openssl(mgr.installed(), "apt")
    plan = pkgops.plan_apt(selected, mgr.policy([p["name"] for p in selected]))
    assert pkgops.check_simulation(mgr.simulate(plan), plan) == []
    mgr.upgrade(plan, 30)
    install = run.calls[-1]
    assert "--force-confold" in " ".join(install)
    assert "DPkg::Lock::Timeout=30" in install
    assert install[-2:] == ["libssl3:amd64=3.0.22-1~deb12u2", "openssl:amd64=3.0.22-1~deb12u2"]


def test_apt_manager_check_mode_uses_private_lists():
    run = Recorder([(["apt-get", "update"], (0, fixture("debian12-apt-get-update-ok.txt"), ""))])
    mgr = pkgops.AptManager(run, lists_dir="/tmp/x")
    assert mgr.update_cache(10) == []
    assert "Dir::State::Lists=/tmp/x" in run.calls[0]
    assert not any("Lock::Timeout" in a for a in run.calls[0])


def test_failed_command_is_a_package_error():
    mgr = pkgops.AptManager(Recorder([(["apt-get"], (100, "", "E: Could not get lock"))]))
    with pytest.raises(pkgops.PackageError, match=r"apt-get install failed \(rc=100\): E: Could"):
        mgr.upgrade([{"name": "libssl3", "arch": "amd64", "to": "1", "action": "upgrade"}], 1)


def test_dnf_manager_accepts_exit_code_100():
    run = Recorder([(["dnf"], (100, fixture("dnf-check-update-epochs.txt"), ""))])
    assert len(pkgops.DnfManager(run).updates(["ceph"])) == 15
    run = Recorder([(["dnf"], (1, "", "Error: Failed to download metadata"))])
    with pytest.raises(pkgops.PackageError, match="metadata"):
        pkgops.DnfManager(run).updates([])
