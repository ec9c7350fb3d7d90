# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assessment engine: decision table, lifecycle, exposure, restart-only, risk, fail_on.

Facts are built from recorded data (tests/unit/fixtures/assess/SOURCES.md): real Debian and
RPM changelogs (their CVE maps), real version strings, and the shipped database.
"""

from __future__ import annotations

import copy
import json
import pathlib

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    pkgversions,
    vulndb,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    PatchwiseError,
)

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "assess"
CHANGELOGS = json.loads((FIXTURES / "changelog-cves.json").read_text())
TODAY = "2026-11-22"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
ANY = "0.0.0.0"  # noqa: S104 - a recorded listening address, nothing binds

# Upstream fixed 5 of the 16 CVEs affecting 3.0.19 in the Debian entry 3.0.19-1~deb12u2.
DEB12_NAMED = [
    "CVE-2026-28387",
    "CVE-2026-28389",
    "CVE-2026-28390",
    "CVE-2026-31789",
    "CVE-2026-31790",
]


@pytest.fixture(scope="module")
def db():
    return vulndb.load_db()


@pytest.fixture(scope="module")
def assessor(db):
    return assess.Assessor(db, TODAY)


def changelog(name: str) -> dict:
    data = CHANGELOGS[name]
    return {
        "path": f"/usr/share/doc/{name.split('_')[0]}/changelog.Debian.gz",
        "cves": dict(data["cves"]),
        "entries": data["entries"],
        "trimmed": data["trimmed"],
        "error": None,
    }


def proc(pid, comm, path=f"{LIBDIR}/libcrypto.so.3", listening=(), stale=False, **lib):
    return {
        "pid": pid,
        "ppid": 1,
        "user": "root",
        "exe": f"/usr/sbin/{comm}",
        "comm": comm,
        "cmdline": comm,
        "container": None,
        "service": f"{comm}.service",
        "service_source": "systemd",
        "master_pid": None,
        "listening": [dict(zip(("proto", "address", "port"), sock)) for sock in listening],
        "libraries": [
            {
                "path": path,
                "kind": "libcrypto",
                "build_id": lib.get("build_id"),
                "deleted": stale,
                "stale": stale,
                "stale_reason": "deleted" if stale else None,
                "package_version": lib.get("package_version"),
            }
        ],
        "stale": stale,
    }


def debian_host(
    version="3.0.19",
    package="libssl3",
    pkg_version="3.0.19-1~deb12u2",
    log="libssl3_3.0.19-1~deb12u2.changelog.Debian.gz",
    processes=(),
    soname="3",
    **extra,
):
    """A Debian host whose library/package facts use the recorded changelog ``log``."""
    libs = [
        {
            "path": f"{LIBDIR}/{kind}.so.{soname}",
            "real_path": f"{LIBDIR}/{kind}.so.{soname}",
            "kind": kind,
            "soname": f"{kind}.so.{soname}",
            "version_text": f"OpenSSL {version}",
            "implementation": "openssl",
            "version": version,
            "series": version.rsplit(".", 1)[0] if version[0] == "3" else version[:5],
            "build_id": None,
            "package": package,
            "package_version": pkg_version,
            "unpackaged": False,
            "origin": ["ldconfig"],
            "leftover_series": False,
        }
        for kind in ("libssl", "libcrypto")
    ]
    facts = {
        "schema_version": 1,
        "collected_at": "2026-11-22T07:00:00Z",
        "privileged": True,
        "warnings": [],
        "distro": {"id": "debian", "version_id": "12", "family": "debian", "pkg_mgr": "apt"},
        "libraries": libs,
        "packages": [
            {
                "name": package,
                "source": "openssl",
                "version": pkg_version,
                "upstream_version": version,
                "manager": "dpkg",
                "candidate": None,
                "provides_libraries": [lib["path"] for lib in libs],
                "changelog": changelog(log) if log else None,
            }
        ],
        "processes": list(processes),
        "vendored": [],
        "runtimes": [],
        "cli": [],
        "livepatch": {"patched": [], "cves": []},
    }
    facts.update(extra)
    return facts


def unpackaged_host(version, implementation="openssl", path="/opt/app/lib"):
    return {
        "schema_version": 1,
        "privileged": True,
        "libraries": [
            {
                "path": f"{path}/libcrypto.so.3",
                "real_path": f"{path}/libcrypto.so.3",
                "kind": "libcrypto",
                "implementation": implementation,
                "version": version,
                "package": None,
                "unpackaged": True,
            }
        ],
    }


def statuses(result, scope=None):
    out = {}
    for f in result["findings"]:
        if f["cve"] and (scope is None or f["scope"] == scope):
            out.setdefault(f["cve"], set()).add(f["status"])
    return out


def only(result, cve, scope="installed", copy_prefix="library:"):
    found = [
        f
        for f in result["findings"]
        if f["cve"] == cve and f["scope"] == scope and f["copy"].startswith(copy_prefix)
    ]
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------------------------
# upstream versions (unpackaged copies): the range data decides, quirks included


@pytest.mark.parametrize(
    ("version", "cve", "expected"),
    [
        ("3.1.0", "CVE-2023-2650", "vulnerable"),  # empty upstream range, advisory says affected
        ("3.1.1", "CVE-2023-2650", None),
        ("3.0.7", "CVE-2022-3996", "vulnerable"),  # lessThanOrEqual 3.0.7
        ("3.0.8", "CVE-2022-3996", None),
        ("3.0.6", "CVE-2022-3996", "vulnerable"),
        ("1.0.1f", "CVE-2014-0160", "vulnerable"),  # Heartbleed
        ("1.0.1g", "CVE-2014-0160", None),
        ("1.0.0t", "CVE-2014-0160", None),  # other branch
        ("3.0.9", "CVE-2023-2650", None),
        ("3.0.8", "CVE-2023-2650", "vulnerable"),
        ("1.1.1t", "CVE-2023-2650", "vulnerable"),
        ("3.0.19", "CVE-2026-45447", "vulnerable"),
        ("3.0.21", "CVE-2026-45447", None),
        ("3.5.7", "CVE-2026-45447", None),
        ("3.0.0-alpha17", "CVE-2021-3711", None),  # ranges start at the 3.0.0 release
        ("1.1.0a", "CVE-2016-6309", "vulnerable"),  # the only critical record
        ("3.0.1+quic", "CVE-2022-0778", "vulnerable"),  # build metadata ignored
    ],
)
def test_unpackaged_copy_judged_by_upstream_version(assessor, version, cve, expected):
    result = assessor.assess(unpackaged_host(version))
    got = statuses(result, "installed").get(cve)
    assert got == ({expected} if expected else None)
    if expected:
        finding = only(result, cve)
        assert finding["evidence"]["range"]
        assert finding["reason"] in ("upstream_version_affected", "premium_only_fix")


def test_heartbleed_stays_unrated(assessor):
    finding = only(assessor.assess(unpackaged_host("1.0.1f")), "CVE-2014-0160")
    assert finding["severity"] == "unrated"
    assert finding["score"] == 5.0 * 0.5  # unrated weight, on disk only


@pytest.mark.parametrize(
    ("version", "status", "next_lts"),
    [
        ("3.5.7", "supported", None),
        ("4.0.1", "supported", None),
        ("3.4.6", "end_of_life", "3.5"),  # EOL 2026-10-22
        ("3.6.3", "end_of_life", None),  # EOL 2026-11-01, no newer released LTS
        ("3.0.19", "end_of_life", "3.5"),  # EOL 2026-09-07
        ("3.2.1", "end_of_life", "3.5"),
        ("1.1.1w", "premium_only", "3.5"),
        ("1.0.2u", "premium_only", "3.5"),
        ("1.1.0l", "end_of_life", "3.5"),
        ("0.9.8zh", "end_of_life", "3.5"),
    ],
)
def test_lifecycle_from_dates(assessor, version, status, next_lts):
    result = assessor.assess(unpackaged_host(version))
    life = result["copies"][0]["lifecycle"]
    assert life["status"] == status
    assert life["next_lts"] == next_lts
    eol = status in ("end_of_life", "premium_only")
    assert (life["branch"] in result["summary"]["eol_branches"]) is eol
    assert result["risk"]["eol_points"] == (assess.EOL_POINTS if eol else 0)
    if eol and next_lts:
        assert any(f"move to LTS branch {next_lts}" in a for a in result["copies"][0]["advice"])


def test_lifecycle_changes_with_the_date(db):
    before = assess.Assessor(db, "2026-09-01").assess(unpackaged_host("3.0.19"))
    after = assess.Assessor(db, "2026-09-08").assess(unpackaged_host("3.0.19"))
    assert before["copies"][0]["lifecycle"]["status"] == "supported"
    assert after["copies"][0]["lifecycle"]["status"] == "end_of_life"
    assert any("3.0.21 is the latest public release" in a for a in before["copies"][0]["advice"])


def test_premium_only_fix_is_vulnerable_with_reason(assessor):
    result = assessor.assess(unpackaged_host("1.1.1w"))
    premium = [f for f in result["findings"] if f["reason"] == "premium_only_fix"]
    assert premium, "1.1.1w has CVEs fixed only in premium 1.1.1x+ releases"
    assert all(f["status"] == "vulnerable" and f["evidence"]["premium_only"] for f in premium)


def test_eol_branch_not_covered_is_not_assessed(assessor, db):
    # 0.9.8 left support on 2015-12-31; later advisories do not list it.
    result = assessor.assess(unpackaged_host("0.9.8zh"))
    not_assessed = {f["cve"] for f in result["findings"] if f["status"] == "not_assessed"}
    assert "CVE-2016-2105" in not_assessed  # 2016-05-03, after 0.9.8 was last listed
    assert "CVE-2014-0160" not in not_assessed  # 0.9.8 was listed (as not affected)
    for cve in not_assessed:
        assert "0.9.8" not in {r["branch"] for r in db["cves"][cve]["affected"]}
        assert only(result, cve)["reason"] == "branch_eol_not_covered"
    # never "not affected" silently: every such CVE is listed with a status
    assert len(not_assessed) == result["summary"]["findings"]["not_assessed"]


def test_supported_branch_has_no_not_assessed(assessor):
    result = assessor.assess(unpackaged_host("3.5.7"))
    assert result["summary"]["findings"]["not_assessed"] == 0
    assert result["risk"]["priority"] == "none"


def test_never_fixed_range(assessor, db):
    never = [
        (cve, r)
        for cve, rec in db["cves"].items()
        for r in rec["affected"]
        if r["fixed"] is None and r["last_affected"] is None and not r["premium_only"]
    ]
    assert never, "the database has ranges never fixed in a public release"
    cve, rng = never[0]
    result = assessor.assess(unpackaged_host(rng["introduced"]))
    finding = only(result, cve)
    assert finding["status"] == "vulnerable"
    assert finding["reason"] == "no_public_fix"


# --------------------------------------------------------------------------------------------
# distribution packages: changelog evidence


def test_debian12_backports_named_and_unnamed(assessor):
    result = assessor.assess(debian_host())
    got = statuses(result)
    assert len(got) == 16  # CVEs affecting upstream 3.0.19 in the database
    for cve in DEB12_NAMED:
        finding = only(result, cve)
        assert finding["status"] == "fixed_by_backport"
        assert finding["evidence"]["changelog_entry"] == "3.0.19-1~deb12u2"
        assert finding["evidence"]["package"] == "libssl3"
    unknown = {c for c, s in got.items() if s == {"unknown"}}
    assert len(unknown) == 11
    assert "CVE-2026-28388" in unknown  # not named in 3.0.19-1~deb12u2's own changelog
    assert all(only(result, c)["reason"] == "changelog_silent" for c in unknown)
    assert result["summary"]["findings"]["vulnerable"] == 0
    # never "fixed" silently: a distro package without evidence is never vulnerable-free
    assert result["summary"]["cves"]["unknown"]["high"] == 1


def test_debian12_retroactive_changelog_entry(assessor):
    # Debian's 3.0.22 changelog later added CVE-2026-28388 to the 3.0.19-1~deb12u2 entry.
    facts = debian_host(log="libssl3_3.0.22-1~deb12u2.changelog.Debian.gz")
    assert only(assessor.assess(facts), "CVE-2026-28388")["status"] == "fixed_by_backport"


def test_debian12_current_package_is_clean(assessor):
    facts = debian_host(
        "3.0.22", pkg_version="3.0.22-1~deb12u2", log="libssl3_3.0.22-1~deb12u2.changelog.Debian.gz"
    )
    result = assessor.assess(facts)
    assert statuses(result) == {}
    assert result["copies"][0]["lifecycle"]["status"] == "end_of_life"
    assert result["risk"]["score"] == assess.EOL_POINTS


def test_debian11_is_end_of_life_upstream(assessor):
    facts = debian_host(
        "1.1.1w",
        "libssl1.1",
        "1.1.1w-0+deb11u8",
        "libssl1.1_1.1.1w-0+deb11u8.changelog.Debian.gz",
        soname="1.1",
    )
    result = assessor.assess(facts)
    copy_ = result["copies"][0]
    assert copy_["lifecycle"]["status"] == "premium_only"
    assert copy_["branch"] == "1.1.1"
    assert result["summary"]["eol_branches"] == ["1.1.1"]
    got = statuses(result)
    # Debian's LTS team named every CVE OpenSSL fixed in premium-only 1.1.1 releases
    assert len(got) > 20
    assert set().union(*got.values()) == {"fixed_by_backport"}
    entry = only(result, "CVE-2024-5535")["evidence"]["changelog_entry"]
    assert entry.startswith("1.1.1w-0+deb11u")
    # upstream alone would call these vulnerable: premium-only fixes after 1.1.1w
    upstream = assessor.assess(unpackaged_host("1.1.1w"))
    assert set(statuses(upstream, "installed")) >= set(got)


def test_rpm_changelog_backports(assessor):
    facts = debian_host("3.0.7", "openssl-libs", "1:3.0.7-28.el9_4", None)
    data = CHANGELOGS["openssl-3.0.7-28.el9_4.spec-changelog.txt"]
    facts["packages"][0].update(
        manager="rpm",
        changelog={
            "path": None,
            "cves": data["cves"],
            "entries": 103,
            "trimmed": False,
            "error": None,
        },
    )
    result = assessor.assess(facts)
    finding = only(result, "CVE-2024-6119")
    assert finding["status"] == "fixed_by_backport"
    assert finding["evidence"]["changelog_entry"] == "1:3.0.7-28"
    assert only(result, "CVE-2022-3996")["status"] in ("fixed_by_backport", "unknown")
    assert result["summary"]["findings"]["vulnerable"] == 0


def test_changelog_error_is_unknown_not_fixed(assessor):
    facts = debian_host()
    facts["packages"][0]["changelog"] = {"path": None, "cves": {}, "error": "EACCES"}
    result = assessor.assess(facts)
    assert set().union(*statuses(result).values()) == {"unknown"}
    assert {f["reason"] for f in result["findings"]} == {"no_changelog"}


def test_package_upstream_newer_than_library_text_is_fixed(assessor):
    facts = debian_host()
    facts["packages"][0].update(upstream_version="3.0.21", changelog=None)
    result = assessor.assess(facts)
    assert set().union(*statuses(result).values()) == {"fixed"}
    assert {f["reason"] for f in result["findings"]} == {"package_upstream_fixed"}


# --------------------------------------------------------------------------------------------
# processes: stale files, restart-only, live patches, exposure


def test_stale_process_restart_required(assessor):
    sshd = proc(10, "sshd", listening=[("tcp", ANY, 22)])
    worker = proc(20, "python3", stale=True, package_version="3.0.19-1~deb12u2")
    facts = debian_host(
        "3.0.22",
        pkg_version="3.0.22-1~deb12u2",
        log="libssl3_3.0.22-1~deb12u2.changelog.Debian.gz",
        processes=[sshd, worker],
    )
    result = assessor.assess(facts)
    installed = statuses(result, "installed")
    running = statuses(result, "running")
    assert set(installed) == set(running)  # exactly the CVEs of the old build
    assert set().union(*installed.values()) == {"fixed"}
    # named in an entry the running build already had
    assert running["CVE-2026-28387"] == {"fixed_by_backport"}
    # fixed on disk later (3.0.20-1~deb12u2): the process still runs the old code
    finding = only(result, "CVE-2026-45447", "running")
    assert finding["status"] == "vulnerable"
    assert finding["reason"] == "restart_required"
    assert finding["pids"] == [20]
    assert only(result, "CVE-2026-45447")["pids"] == [10]  # sshd maps the fixed file
    summary = result["summary"]
    assert summary["restart_only"] is True
    assert summary["restart_required"] == [
        {"pid": 20, "comm": "python3", "service": "python3.service"}
    ]
    assert summary["stale_processes"] == 1
    assert summary["vulnerable_processes"] == 1
    assert summary["exposed_vulnerable_processes"] == 0


def test_stale_process_unknown_build(assessor):
    worker = proc(20, "python3", stale=True)
    facts = debian_host(processes=[worker])
    result = assessor.assess(facts)
    for cve in DEB12_NAMED:
        assert only(result, cve, "running")["reason"] == "restart_required"
        assert only(result, cve)["status"] == "fixed_by_backport"
    assert result["summary"]["restart_only"] is True


def test_every_process_gets_one_status_per_cve(assessor):
    procs = [
        proc(1, "a"),
        proc(2, "b", stale=True, package_version="3.0.18-1~deb12u2"),
        proc(3, "c", stale=True),
    ]
    result = assessor.assess(debian_host(processes=procs))
    seen = {}
    for f in result["findings"]:
        if f["cve"]:
            for pid in f["pids"]:
                key = (f["cve"], pid)
                assert key not in seen, f"{key} has two statuses"
                seen[key] = f["status"]
    cves = {f["cve"] for f in result["findings"] if f["cve"]}
    assert len(seen) == 3 * len(cves)
    # process 3 maps a replaced file of unknown version: said so explicitly
    unknown_build = [f for f in result["findings"] if f["reason"] == "running_build_unknown"]
    assert [f["pids"] for f in unknown_build] == [[3]]


def test_livepatch_evidence(assessor):
    patched = proc(30, "nginx", listening=[("tcp", ANY, 443)])
    livepatch = {
        "kernelcare": {"present": True, "version": "2.80", "libcare_enabled": True},
        "patched": [
            {
                "pid": 30,
                "object": f"{LIBDIR}/libcrypto.so.3",
                "build_id": "ab12",
                "patch_level": 3,
                "cves": ["CVE-2026-45447"],
                "source": "kcarectl",
            }
        ],
        "cves": ["CVE-2026-45447"],
    }
    facts = unpackaged_host("3.0.19", path=LIBDIR)
    facts.update(processes=[patched, proc(31, "curl")], livepatch=livepatch)
    result = assessor.assess(facts)
    finding = only(result, "CVE-2026-45447", "running")
    assert finding["status"] == "patched_in_memory"
    assert finding["pids"] == [30]
    assert finding["evidence"]["source"] == "kcarectl"
    assert finding["evidence"]["cves"] == ["CVE-2026-45447"]
    assert only(result, "CVE-2026-45447")["pids"] == [31]
    assert only(result, "CVE-2026-45446")["exposure"]["level"] == "network"


@pytest.mark.parametrize(
    ("sockets", "level", "factor"),
    [
        ([("tcp", ANY, 443)], "network", 2.0),
        ([("tcp6", "::", 443)], "network", 2.0),
        ([("tcp", "127.0.0.1", 8443)], "loopback", 1.5),
        ([("tcp6", "::1", 8443), ("unix", "/run/x.sock", None)], "loopback", 1.5),
        ([], "loaded", 1.0),
    ],
)
def test_exposure_levels(assessor, sockets, level, factor):
    facts = unpackaged_host("3.0.19", path=LIBDIR)
    facts["processes"] = [proc(5, "srv", listening=sockets)]
    finding = only(assessor.assess(facts), "CVE-2026-45447")  # high
    assert finding["exposure"]["level"] == level
    assert finding["score"] == 7.0 * factor
    if level in ("network", "loopback"):
        assert finding["exposure"]["listening"][0]["pid"] == 5
        assert "listening on" in finding["rationale"]


def test_unprivileged_facts_do_not_discount_unloaded(assessor):
    facts = unpackaged_host("3.0.19")
    facts["privileged"] = False
    assert only(assessor.assess(facts), "CVE-2026-45447")["exposure"]["level"] == "unseen"


def test_container_process_judged_by_the_bytes_it_maps(assessor):
    container = proc(40, "nginx", listening=[("tcp", ANY, 443)])
    container["container"] = {"id": "06378e27d35384787c38", "runtime": "podman"}
    container["libraries"][0]["version_text"] = "OpenSSL 3.0.19 27 Jan 2026"
    vendored = proc(41, "app", path="/opt/app/libcrypto.so.3")
    vendored["container"] = container["container"]
    vendored["libraries"][0]["version_text"] = "OpenSSL 3.0.19 27 Jan 2026"
    result = assessor.assess(debian_host("3.5.7", processes=[container, vendored]))
    copies = {c["id"]: c for c in result["copies"]}
    cid = "container:06378e27d353:"
    distro = copies[f"{cid}{LIBDIR}"]
    assert distro["type"] == "container" and distro["pids"] == [40]
    # a distribution path inside a container: its package evidence is not visible -> unknown
    finding = only(result, "CVE-2026-45447", copy_prefix=f"{cid}/usr")
    assert finding["status"] == "unknown" and finding["reason"] == "no_changelog"
    assert finding["exposure"]["level"] == "network"
    # anything else is judged by its upstream version
    finding = only(result, "CVE-2026-45447", copy_prefix=f"{cid}/opt")
    assert finding["status"] == "vulnerable"
    assert result["summary"]["unassessed_processes"] == 0
    # the host's own 3.5.7 copy is not affected by the container's bytes
    assert statuses(result, "installed").keys() == {
        f["cve"] for f in result["findings"] if f["copy"].startswith(cid) and f["cve"]
    }


def test_stale_process_known_by_version_text(assessor):
    # recorded: after the upgrade to 3.0.22, `openssl s_server` still mapped the deleted
    # libcrypto whose embedded text is "OpenSSL 3.0.19 27 Jan 2026"
    server = proc(8961, "openssl", stale=True)
    server["libraries"][0]["version_text"] = "OpenSSL 3.0.19 27 Jan 2026"
    facts = debian_host(
        "3.0.22",
        pkg_version="3.0.22-1~deb12u2",
        log="libssl3_3.0.22-1~deb12u2.changelog.Debian.gz",
        processes=[server],
    )
    result = assessor.assess(facts)
    running = {f["cve"]: f for f in result["findings"] if f["scope"] == "running"}
    assert len(running) == 16
    # fix in a later upstream (3.0.20-1~deb12u2): the process runs without it
    assert running["CVE-2026-45447"]["reason"] == "restart_required"
    # fix in a 3.0.19 revision: which 3.0.19 revision runs is unknown -> said so
    assert running["CVE-2026-28387"]["status"] == "unknown"
    assert running["CVE-2026-28387"]["reason"] == "running_revision_unknown"
    assert result["summary"]["restart_only"] is True


# --------------------------------------------------------------------------------------------
# other copies: vendored, runtimes, CLI, look-alikes


def test_vendored_copy_assessed_by_its_own_version(assessor):
    facts = debian_host()
    facts["vendored"] = [
        {
            "path": "/srv/venv/lib/python3.11/site-packages/cryptography/hazmat/bindings/"
            "_rust.abi3.so",
            "version_text": "OpenSSL 3.2.1 30 Jan 2024",
            "implementation": "openssl",
            "version": "3.2.1",
            "package": None,
        }
    ]
    result = assessor.assess(facts)
    vendored = [f for f in result["findings"] if f["copy"].startswith("vendored:")]
    assert vendored
    assert {f["status"] for f in vendored} == {"vulnerable", "not_assessed"}
    assert any(f["cve"] == "CVE-2024-12797" and f["status"] == "vulnerable" for f in vendored)
    # the system copy is still judged by its changelog
    assert only(result, DEB12_NAMED[0])["status"] == "fixed_by_backport"


def test_runtime_and_cli_reuse_the_system_copy(assessor):
    facts = debian_host()
    facts["runtimes"] = [
        {
            "path": "/usr/bin/python3.11",
            "language": "python",
            "version_text": "OpenSSL 3.0.19 27 Jan 2026",
            "implementation": "openssl",
            "version": "3.0.19",
        }
    ]
    facts["cli"] = [
        {
            "path": "/usr/bin/openssl",
            "implementation": "openssl",
            "version": "3.0.19",
            "library_version": "3.0.19",
            "package": "openssl",
        }
    ]
    result = assessor.assess(facts)
    assert len(result["copies"]) == 1
    assert len(result["copies"][0]["notes"]) == 2


def test_runtime_with_its_own_library(assessor):
    facts = debian_host()
    facts["runtimes"] = [
        {
            "path": "/opt/python/bin/python3",
            "language": "python",
            "version_text": "OpenSSL 1.1.1k  25 Mar 2021",
            "implementation": "openssl",
            "version": "1.1.1k",
        }
    ]
    result = assessor.assess(facts)
    runtime = [c for c in result["copies"] if c["type"] == "runtime"]
    assert runtime and runtime[0]["lifecycle"]["status"] == "premium_only"
    assert any(
        f["copy"] == runtime[0]["id"] and f["status"] == "vulnerable" for f in result["findings"]
    )


@pytest.mark.parametrize(
    ("implementation", "status", "reason"),
    [
        ("libressl", "not_assessed", "not_openssl"),
        ("boringssl", "not_assessed", "not_openssl"),
        ("aws-lc", "not_assessed", "not_openssl"),
        ("wolfssl", "unknown", "implementation_unknown"),
        ("unknown", "unknown", "implementation_unknown"),
    ],
)
def test_lookalikes_never_judged_against_openssl(assessor, implementation, status, reason):
    result = assessor.assess(unpackaged_host("1.1.1", implementation))
    assert [(f["cve"], f["status"], f["reason"]) for f in result["findings"]] == [
        (None, status, reason)
    ]
    assert result["risk"]["score"] == 0


def test_unreadable_version_is_unknown(assessor):
    result = assessor.assess(unpackaged_host("garbage"))
    assert [(f["status"], f["reason"]) for f in result["findings"]] == [
        ("unknown", "version_unreadable")
    ]


# --------------------------------------------------------------------------------------------
# risk, priority and fail_on


def test_risk_formula_and_rationale(assessor):
    facts = unpackaged_host("3.0.19", path=LIBDIR)
    facts["processes"] = [proc(5, "nginx", listening=[("tcp", ANY, 443)])]
    result = assessor.assess(facts)
    counts = {"high": 1, "moderate": 3, "low": 12}
    cve_points = 2.0 * sum(assess.SEVERITY_WEIGHT[s] * n for s, n in counts.items())
    assert result["risk"]["cve_points"] == cve_points
    assert result["risk"]["score"] == cve_points + assess.EOL_POINTS
    assert result["risk"]["priority"] == "critical"  # 62 >= 40
    for f in result["findings"]:
        assert f["rationale"].startswith(f"{f['cve']} ({f['severity']}) vulnerable")
        assert "nginx" in f["rationale"] and "tcp/443" in f["rationale"]


@pytest.mark.parametrize(
    ("version", "fail_on", "exceeded"),
    [
        ("3.0.19", "critical", False),
        ("3.0.19", "high", True),
        ("3.0.19", "low", True),
        ("3.0.19", "none", False),
        ("3.5.7", "low", False),
        ("1.0.1f", "critical", True),  # unrated (pre-2014) cannot be shown below critical
        ("1.1.0a", "critical", True),  # CVE-2016-6309
        ("1.1.0b", "critical", False),
        ("1.1.0b", "high", True),
    ],
)
def test_fail_on(assessor, version, fail_on, exceeded):
    result = assessor.assess(unpackaged_host(version), fail_on=fail_on)
    assert result["gate"]["exceeded"] is exceeded
    if exceeded:
        assert fail_on in result["gate"]["message"]


def test_fail_on_ignores_unknown(assessor):
    result = assessor.assess(debian_host(), fail_on="low")
    assert result["gate"]["exceeded"] is False


def test_include_statuses_filters_findings_only(assessor):
    full = assessor.assess(debian_host())
    filtered = assessor.assess(debian_host(), include_statuses=["fixed_by_backport"])
    assert {f["status"] for f in filtered["findings"]} == {"fixed_by_backport"}
    assert filtered["summary"] == full["summary"]
    assert filtered["risk"]["score"] == full["risk"]["score"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fail_on": "severe"}, "fail_on must be one of"),
        ({"include_statuses": ["broken"]}, "unknown status"),
    ],
)
def test_bad_arguments(assessor, kwargs, message):
    with pytest.raises(assess.AssessError, match=message):
        assessor.assess(debian_host(), **kwargs)


# --------------------------------------------------------------------------------------------
# clock and database


@pytest.mark.parametrize(
    ("today", "error"),
    [
        ("2026-01-01", "before the newest vulnerability data"),
        ("2031-01-01", "days old"),
        ("not a date", "ISO date"),
    ],
)
def test_clock_far_off(db, today, error):
    with pytest.raises(assess.AssessError, match=error):
        assess.Assessor(db, today)


def test_old_data_warns(db):
    result = assess.Assessor(db, "2027-06-01").assess(debian_host())
    assert any("days old" in w for w in result["warnings"])


def test_max_db_age(db):
    with pytest.raises(assess.AssessError, match="limit 30 days"):
        assess.Assessor(db, TODAY, max_db_age_days=30)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format=2),
        lambda d: d.update(cves={}),
        lambda d: d["cves"]["CVE-2023-2650"]["affected"][0].update(introduced="x"),
        lambda d: d.pop("branches"),
        lambda d: d.update(generated_at="yesterday"),
    ],
)
def test_corrupt_database(db, mutate):
    broken = copy.deepcopy(dict(db))
    mutate(broken)
    with pytest.raises(DatabaseError):
        assess.Assessor(broken, TODAY)


def test_missing_database(tmp_path):
    with pytest.raises(DatabaseError, match="not found"):
        vulndb.load_db(tmp_path / "nope.json")
    with pytest.raises(DatabaseError):
        assess.Assessor(None, TODAY)


# --------------------------------------------------------------------------------------------
# malformed and partial facts


@pytest.mark.parametrize(
    "facts",
    [
        None,
        {},
        [],
        "text",
        {"schema_version": 99},
        {"libraries": "nope", "processes": {"a": 1}},
        {"libraries": [None, 3, {"path": None}], "processes": [None, {"pid": "x"}]},
        {"libraries": [{"path": "/x", "version": ["3.0.0"], "implementation": 5}]},
        {"processes": [{"pid": 1, "libraries": [{"path": "/nowhere"}], "listening": "x"}]},
        {"packages": [{"name": "libssl3", "changelog": {"cves": {"CVE-bad": 1, 3: "x"}}}]},
        {"livepatch": {"patched": [{"pid": "x"}, None]}, "vendored": [{}]},
    ],
)
def test_malformed_facts_never_raise(assessor, facts):
    result = assessor.assess(facts)
    assert result["summary"]["findings"]["vulnerable"] == 0
    assert isinstance(result["warnings"], list)
    assert json.dumps(result, default=str)


def test_partial_facts_warn(assessor):
    result = assessor.assess({"schema_version": 99})
    assert any("schema_version" in w for w in result["warnings"])
    assert any(w.startswith("no OpenSSL facts") for w in assessor.assess(None)["warnings"])


# --------------------------------------------------------------------------------------------
# package version ordering used for "does the running build carry the fix"


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        ("3.0.19-1~deb12u2", "3.0.19-1~deb12u1", 1),
        ("3.0.19-1~deb12u2", "3.0.19-1", -1),
        ("3.0.20-1~deb12u1", "3.0.19-1~deb12u2", 1),
        ("1.1.1w-0+deb11u8", "1.1.1w-0+deb11u1", 1),
        ("1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", -1),
        ("1:3.0.7-1", "3.0.19-1", 1),
        ("3.0.19-1~deb12u2", "3.0.19-1~deb12u2", 0),
    ],
)
def test_dpkg_compare(left, right, sign):
    result = pkgversions.dpkg_compare(left, right)
    assert (result > 0) - (result < 0) == sign


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        ("1:3.0.7-28.el9_4", "1:3.0.7-27.el9", 1),
        ("1:3.0.7-28", "1:3.0.7-28.el9_4", -1),
        ("1:1.1.1k-14.el8_6", "1:1.1.1k-9.el8", 1),
        ("3.0.7-1", "1:3.0.1-1", -1),
        ("1.0~rc1-1", "1.0-1", -1),
        ("1.1.1k-9", "1.1.1g-9", 1),
    ],
)
def test_rpm_compare(left, right, sign):
    result = pkgversions.rpm_compare(left, right)
    assert (result > 0) - (result < 0) == sign


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("3.0.19-1~deb12u2", "3.0.19"),
        ("1:3.0.7-28.el9_4", "3.0.7"),
        ("1.1.1w-0+deb11u8", "1.1.1w"),
        ("3.5.7-1~deb13u3", "3.5.7"),
        ("garbage", None),
        (None, None),
    ],
)
def test_upstream_of_package_version(version, upstream):
    assert assess.upstream_of_package_version(version) == upstream


def test_errors_are_patchwise_errors():
    assert issubclass(assess.AssessError, PatchwiseError)


@pytest.mark.parametrize("held", [True, False, None])
def test_advice_calls_out_a_held_package(assessor, held):
    """The candidate advice is followed by a hold note only for ``held: true``; the copy's
    package carries ``held`` (None when the facts do not say: rpm, earlier facts)."""
    facts = debian_host()
    pkg = facts["packages"][0]
    pkg["candidate"] = "3.0.22-1~deb12u2"
    if held is not None:
        pkg["held"] = held
    (lib,) = [c for c in assessor.assess(facts)["copies"] if c["package"]]
    assert lib["package"]["held"] is held
    assert "install the distribution's candidate libssl3 3.0.22-1~deb12u2" in lib["advice"]
    hold = [a for a in lib["advice"] if "on hold" in a]
    if held:
        assert hold == [
            "libssl3 is on hold (apt-mark hold): the patch refuses to upgrade it unless "
            "patch_allow_held=true, or after 'apt-mark unhold libssl3'"
        ]
        idx = lib["advice"].index(hold[0])
        assert lib["advice"][idx - 1].startswith("install the distribution's candidate")
    else:
        assert hold == []


def test_hold_is_not_mentioned_without_a_newer_candidate(assessor):
    facts = debian_host()
    facts["packages"][0].update(held=True, candidate="3.0.19-1~deb12u2")
    for entry in assessor.assess(facts)["copies"]:
        assert not any("on hold" in a for a in entry["advice"])
        assert entry["package"]["held"] is True
