# SPDX-License-Identifier: GPL-3.0-or-later
"""Package strategies on recorded dpkg/apt outputs (fixtures/facts/dpkg, SOURCES.md).

RPM queries could not be recorded on this Debian machine: the rpm/dnf argv and parsing are
checked against the documented query formats, the changelog parser on real spec changelogs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import packages
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.packages import (
    DpkgManager,
    RpmManager,
    parse_apt_config_shell,
    parse_apt_policy,
    parse_dpkg_query,
    parse_dpkg_search,
    select_manager,
    split_evr,
    usrmerge_variants,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "facts"
DPKG = FIX / "dpkg"


class Recorder:
    def __init__(self, answers: dict[str, tuple[int, str, str]]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        for prefix, answer in self.answers.items():
            if " ".join(argv).startswith(prefix):
                return answer
        return 1, "", "unexpected command"


def test_parse_dpkg_query_recorded() -> None:
    pkgs = {
        p["name"]: p for p in parse_dpkg_query((DPKG / "debian12-dpkg-query-all.txt").read_text())
    }
    assert len(pkgs) > 500
    ssl = pkgs["libssl3"]
    assert (ssl["binary"], ssl["arch"]) == ("libssl3:amd64", "amd64")
    assert (pkgs["openssl"]["binary"], pkgs["openssl"]["arch"]) == ("openssl", "amd64")
    assert ssl["source"] == "openssl"
    assert ssl["version"] == "3.0.19-1~deb12u2"
    assert (ssl["epoch"], ssl["upstream_version"], ssl["release"]) == (None, "3.0.19", "1~deb12u2")
    assert pkgs["openssl"]["arch"] == "amd64"
    assert pkgs["libnss3"]["source"] == "nss"


def test_parse_dpkg_search_recorded() -> None:
    owners = parse_dpkg_search((DPKG / "debian12-dpkg-query-S.stdout").read_text())
    assert owners == {
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": "libssl3:amd64",
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3": "libssl3:amd64",
        "/usr/lib/x86_64-linux-gnu/libssl3.so": "libnss3:amd64",
        "/usr/bin/openssl": "openssl",
    }
    assert parse_dpkg_search("diversion by x from: /a\nlibc6, libc6-i386: /lib/ld.so\n") == {
        "/lib/ld.so": "libc6"
    }


def test_owners_maps_usrmerge_spelling_back() -> None:
    run = Recorder({"dpkg-query -S": (1, (DPKG / "debian12-dpkg-query-S.stdout").read_text(), "")})
    owners = DpkgManager(run, []).owners(["/lib/x86_64-linux-gnu/libssl.so.3", "/usr/bin/openssl"])
    assert owners == {
        "/lib/x86_64-linux-gnu/libssl.so.3": "libssl3:amd64",
        "/usr/bin/openssl": "openssl",
    }
    asked = run.calls[0][2:]
    assert "/usr/lib/x86_64-linux-gnu/libssl.so.3" in asked and "/usr/bin/openssl" in asked


def test_apt_policy_recorded() -> None:
    cands = parse_apt_policy((DPKG / "debian12-apt-cache-policy.txt").read_text())
    assert cands == {
        "libssl3": "3.0.22-1~deb12u2",
        "openssl": "3.0.22-1~deb12u2",
        "libssl-dev": "3.0.22-1~deb12u2",
    }
    assert parse_apt_policy("foo:\n  Installed: (none)\n  Candidate: (none)\n") == {"foo": None}


def test_dpkg_changelog_symlinked_docdir_and_binnmu(tmp_path: Path) -> None:
    real = tmp_path / "libssl3"
    real.mkdir()
    shutil.copy(
        FIX / "changelog" / "libssl3_3.0.19-1~deb12u2.changelog.Debian.gz",
        real / "changelog.Debian.gz",
    )
    (tmp_path / "libssl3t64").symlink_to(real)
    mgr = DpkgManager(Recorder({}), [])
    mgr.DOC_ROOT = str(tmp_path)
    r = mgr.changelog({"name": "libssl3t64:amd64", "arch": "amd64"})
    assert r["error"] is None
    assert r["path"] == str(real / "changelog.Debian.gz")
    assert r["cves"]["CVE-2026-31790"] == "3.0.19-1~deb12u2"
    assert r["trimmed"] is True
    # binNMU: changelog.Debian.amd64.gz holds only the rebuild entry; CVEs come from the main file
    import gzip

    (real / "changelog.Debian.amd64.gz").write_bytes(
        gzip.compress(
            b"openssl (3.0.19-1~deb12u2+b1) bookworm; urgency=low, binary-only=yes\n\n"
            b"  * Binary-only non-maintainer upload for amd64; no source changes.\n\n"
            b" -- amd64 Build Daemon <buildd@example.org>  Sat, 04 Apr 2026 00:00:00 +0000\n"
        )
    )
    r = mgr.changelog({"name": "libssl3t64:amd64", "arch": "amd64"})
    assert r["top_version"] == "3.0.19-1~deb12u2+b1"
    assert r["cves"]["CVE-2026-31790"] == "3.0.19-1~deb12u2"


def test_dpkg_changelog_missing_or_corrupt(tmp_path: Path) -> None:
    mgr = DpkgManager(Recorder({}), [])
    mgr.DOC_ROOT = str(tmp_path)
    assert "no changelog" in mgr.changelog({"name": "libssl3", "arch": "amd64"})["error"]
    (tmp_path / "libssl3").mkdir()
    (tmp_path / "libssl3" / "changelog.Debian.gz").write_bytes(b"\x1f\x8b\x08garbage")
    assert "corrupt" in mgr.changelog({"name": "libssl3", "arch": "amd64"})["error"]


def test_dpkg_installed_failure_is_a_warning() -> None:
    warnings: list[str] = []
    assert DpkgManager(Recorder({}), warnings).installed() == []
    assert warnings and "dpkg-query failed" in warnings[0]


def test_rpm_strategy_argv_and_parsing() -> None:
    qa = (
        "openssl-libs\topenssl-3.0.7-27.el9.src.rpm\t1\t3.0.7\t27.el9\tx86_64\n"
        "openssl\topenssl-3.0.7-27.el9.src.rpm\t1\t3.0.7\t27.el9\tx86_64\n"
        "zlib\tzlib-1.2.11-40.el9.src.rpm\t0\t1.2.11\t40.el9\tx86_64\n"
    )
    qf = (
        "/usr/lib64/libssl.so.3\topenssl-libs\n/usr/lib64/libcrypto.so.3\topenssl-libs\n"
        "/usr/share/doc/x\topenssl-libs\nfile /opt/x is not owned by any package\n"
    )
    changelog = (FIX / "rpm" / "openssl-3.0.7-28.el9_4.spec-changelog.txt").read_text()
    run = Recorder(
        {
            "rpm -qa": (0, qa, ""),
            "rpm -qf": (1, qf, ""),
            "rpm -q --changelog": (0, changelog, ""),
            "/usr/bin/dnf -q -C repoquery": (0, "openssl-libs\t1:3.0.7-29.el9_4\n", ""),
        }
    )
    mgr = RpmManager(run, [], dnf="/usr/bin/dnf")
    pkgs = {p["name"]: p for p in mgr.installed()}
    assert pkgs["openssl-libs"]["version"] == "1:3.0.7-27.el9"
    assert pkgs["openssl-libs"]["source"] == "openssl"
    assert pkgs["zlib"]["epoch"] is None and pkgs["zlib"]["version"] == "1.2.11-40.el9"
    owners = mgr.owners(["/usr/lib64/libssl.so.3", "/usr/lib64/libcrypto.so.3", "/opt/x"])
    assert owners == {
        "/usr/lib64/libssl.so.3": "openssl-libs",
        "/usr/lib64/libcrypto.so.3": "openssl-libs",
    }
    assert mgr.candidates(["openssl-libs", "openssl"]) == {
        "openssl-libs": "1:3.0.7-29.el9_4",
        "openssl": None,
    }
    cl = mgr.changelog(pkgs["openssl-libs"])
    assert cl["error"] is None and cl["cves"]["CVE-2023-2650"] == "1:3.0.7-20"
    assert ["rpm", "-q", "--changelog", "openssl-libs"] in run.calls


def test_select_manager() -> None:
    assert isinstance(select_manager(lambda n: "/usr/bin/" + n, Recorder({}), []), DpkgManager)
    rpm = select_manager(lambda n: None if n == "dpkg-query" else "/usr/bin/" + n, Recorder({}), [])
    assert isinstance(rpm, RpmManager) and rpm.dnf == "/usr/bin/dnf"
    assert select_manager(lambda n: None, Recorder({}), []) is None


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1:3.0.7-27.el9", (1, "3.0.7", "27.el9")),
        ("3.0.19-1~deb12u2", (None, "3.0.19", "1~deb12u2")),
        ("1.1.1w-0+deb11u8", (None, "1.1.1w", "0+deb11u8")),
        ("2.9", (None, "2.9", None)),
    ],
)
def test_split_evr(version: str, expected: tuple) -> None:
    r = split_evr(version)
    assert (r["epoch"], r["upstream_version"], r["release"]) == expected


def test_usrmerge_and_names() -> None:
    assert usrmerge_variants("/lib/x/libssl.so.3") == [
        "/lib/x/libssl.so.3",
        "/usr/lib/x/libssl.so.3",
    ]
    assert usrmerge_variants("/usr/lib64/libssl.so.3") == [
        "/usr/lib64/libssl.so.3",
        "/lib64/libssl.so.3",
    ]
    pkg = {"name": "libssl1.1:amd64", "source": "openssl"}
    assert packages.PackageManager.is_openssl_package(pkg, set())
    assert not packages.PackageManager.is_openssl_package(
        {"name": "libnss3", "source": "nss"}, set()
    )


def test_dpkg_file_lists_recorded() -> None:
    """dpkg-query -W -f='== ${binary:Package}\\n${db-fsys:Files}' of three packages."""
    files = packages._parse_dpkg_files((DPKG / "debian12-dpkg-query-files.txt").read_text())
    assert sorted(files) == ["haproxy", "nginx-common", "openssh-server"]
    assert "/usr/sbin/haproxy" in files["haproxy"]
    assert "/etc/init.d/nginx" in files["nginx-common"]
    assert "/usr/sbin/sshd" in files["openssh-server"]
    assert all(path.startswith("/") for paths in files.values() for path in paths)
    run = Recorder({"dpkg-query -W": (0, "== a\n /x\n /y\n== b\n", "")})
    assert DpkgManager(run, []).files(["a", "b"]) == {"a": {"/x", "/y"}, "b": set()}
    assert run.calls[0][2] == "-f=== ${binary:Package}\n${db-fsys:Files}"
    rpm = Recorder({"rpm -q --qf": (0, "openssl-libs\t/usr/lib64/libssl.so.3\n", "")})
    assert RpmManager(rpm, []).files(["openssl-libs"]) == {
        "openssl-libs": {"/usr/lib64/libssl.so.3"}
    }


SCALE = int(os.environ.get("PATCHWISE_PROPERTY_SCALE", "1"))
FILES_TEXT = (DPKG / "debian12-dpkg-query-files.txt").read_text()


EDITS = st.lists(
    st.tuples(
        st.integers(0, len(FILES_TEXT.splitlines()) - 1),
        st.sampled_from(["drop", "junk", "twice", "prefix"]),
    ),
    max_size=40,
)


@settings(max_examples=500 * SCALE, deadline=None)
@given(EDITS, st.text(max_size=40))
def test_property_dpkg_file_lists(edits: list[tuple[int, str]], junk: str) -> None:
    """The recorded file lists with lines dropped, duplicated or replaced by junk: every path
    returned is a path of the answer, under a package header of the answer."""
    lines = FILES_TEXT.splitlines()
    for index, edit in edits:
        i = index % len(lines) if lines else 0
        if not lines:
            break
        replacement = {
            "drop": [],
            "junk": [junk],
            "twice": [lines[i], lines[i]],
            "prefix": [junk + lines[i]],
        }[edit]
        lines[i : i + 1] = replacement
    text = "\n".join(lines)
    files = packages._parse_dpkg_files(text)
    for name, paths in files.items():
        assert f"== {name}" in text
        assert all(path.startswith("/") and f" {path}" in text for path in paths)


# --- the private apt source cache (hosts whose apt keeps no binary cache) ------------------------

POLICY_ARGV = "apt-cache -o Dir::Cache::srcpkgcache="


def _apt_recorder(config_fixture: str) -> Recorder:
    policy = (DPKG / "debian12-apt-cache-policy.txt").read_text()
    return Recorder(
        {
            "apt-config shell": (0, (DPKG / config_fixture).read_text(), ""),
            "apt-cache": (0, policy, ""),
        }
    )


def test_parse_apt_config_shell_recorded() -> None:
    assert parse_apt_config_shell((DPKG / "debian12-apt-config-cache.txt").read_text()) == {
        "SRC": "/var/cache/apt/srcpkgcache.bin",
        "PKG": "/var/cache/apt/pkgcache.bin",
    }
    assert parse_apt_config_shell((DPKG / "debian12-host-apt-config-no-cache.txt").read_text()) == {
        "SRC": "",
        "PKG": "",
    }
    assert parse_apt_config_shell("X='it'\\''s'\nnot a line\n") == {"X": "it's"}


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_parse_apt_config_shell_never_raises(text: str) -> None:
    values = parse_apt_config_shell(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
        max_size=60,
    )
)
@settings(max_examples=300, deadline=None)
def test_parse_apt_config_shell_round_trip(value: str) -> None:
    """apt-config quotes every value in single quotes, a quote written '\\'' (ShellQuote)."""
    quoted = "'" + value.replace("'", "'\\''") + "'"
    assert parse_apt_config_shell(f"V={quoted}\n") == {"V": value}


@pytest.mark.skipif(os.geteuid() != 0, reason="the private cache is used only as root")
def test_private_source_cache_when_apt_keeps_none(tmp_path: Path) -> None:
    run = _apt_recorder("debian12-host-apt-config-no-cache.txt")
    cache_dir = tmp_path / "cache"
    mgr = DpkgManager(run, [], cache_dir=str(cache_dir))
    assert mgr.candidates(["libssl3", "openssl"])["libssl3"] == "3.0.22-1~deb12u2"
    policy = next(c for c in run.calls if c[0] == "apt-cache")
    assert policy[:3] == ["apt-cache", "-o", f"Dir::Cache::srcpkgcache={cache_dir}/srcpkgcache.bin"]
    assert policy[3:] == ["policy", "libssl3", "openssl"]
    assert cache_dir.is_dir() and (cache_dir.stat().st_mode & 0o777) == 0o755
    assert mgr.cache == {"path": f"{cache_dir}/srcpkgcache.bin", "reason": mgr.cache["reason"]}


def test_no_private_cache_when_apt_keeps_its_own(tmp_path: Path) -> None:
    run = _apt_recorder("debian12-apt-config-cache.txt")
    mgr = DpkgManager(run, [], cache_dir=str(tmp_path / "cache"))
    assert mgr.candidates(["libssl3"])["libssl3"] == "3.0.22-1~deb12u2"
    assert ["apt-cache", "policy", "libssl3"] in run.calls
    assert mgr.cache is None and not (tmp_path / "cache").exists()


def test_no_private_cache_when_disabled_or_apt_config_fails(tmp_path: Path) -> None:
    off = _apt_recorder("debian12-host-apt-config-no-cache.txt")
    mgr = DpkgManager(off, [], cache_dir=None)
    mgr.candidates(["openssl"])
    assert off.calls == [["apt-cache", "policy", "openssl"]]  # not even apt-config
    failing = Recorder({"apt-config": (100, "", "E: boom"), "apt-cache": (0, "", "")})
    mgr = DpkgManager(failing, [], cache_dir=str(tmp_path / "c"))
    mgr.candidates(["openssl"])
    assert ["apt-cache", "policy", "openssl"] in failing.calls and mgr.cache is None


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership checks need root to set up")
def test_private_cache_directory_must_be_ours_and_not_writable_by_others(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    link = tmp_path / "link"
    link.symlink_to(target)
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o755)
    os.chown(foreign, 65534, 65534)
    for bad in (shared, link, foreign):
        warnings: list[str] = []
        run = _apt_recorder("debian12-host-apt-config-no-cache.txt")
        mgr = DpkgManager(run, warnings, cache_dir=str(bad))
        mgr.candidates(["openssl"])
        assert ["apt-cache", "policy", "openssl"] in run.calls, bad
        assert mgr.cache is None and len(warnings) == 1 and str(bad) in warnings[0]
    warnings = []
    assert packages.private_cache_dir(str(tmp_path / "file"), warnings) is not None  # created
    (tmp_path / "plain").write_text("x")
    assert packages.private_cache_dir(str(tmp_path / "plain"), warnings) is None


# --- packages on hold (dpkg's selection, ${db:Status-Want}) ---


def test_installed_query_asks_for_dpkgs_selection() -> None:
    run = Recorder({"dpkg-query -W": (0, (DPKG / "debian12-dpkg-query-want.txt").read_text(), "")})
    pkgs = DpkgManager(run, []).installed()
    (argv,) = run.calls
    assert argv[:2] == ["dpkg-query", "-W"]
    assert argv[2].endswith("\t${db:Status-Status}\t${db:Status-Want}\n")
    assert {p["name"]: p["held"] for p in pkgs if p["source"] == "openssl"} == {
        "libssl3": False,
        "openssl": False,
    }


def test_held_package_recorded_with_apt_mark_hold() -> None:
    """The same container, after ``apt-mark hold libssl3``: only libssl3 reads held."""
    pkgs = {
        p["name"]: p
        for p in parse_dpkg_query((DPKG / "debian12-dpkg-query-want-held.txt").read_text())
    }
    assert pkgs["libssl3"]["held"] is True
    assert pkgs["libssl3"]["version"] == "3.0.22-1~deb12u2"
    assert pkgs["libssl3"]["status"] == "installed"
    assert pkgs["openssl"]["held"] is False
    assert [name for name, p in pkgs.items() if p["held"]] == ["libssl3"]
    unheld = parse_dpkg_query((DPKG / "debian12-dpkg-query-want.txt").read_text())
    assert len(unheld) == len(pkgs) and not any(p["held"] for p in unheld)


def test_held_is_unknown_without_the_selection_column() -> None:
    """Output of the older five-column query (recorded before the column was added): None."""
    pkgs = parse_dpkg_query((DPKG / "debian12-dpkg-query-all.txt").read_text())
    assert pkgs and all(p["held"] is None for p in pkgs)
    (row,) = parse_dpkg_query("libssl3:amd64\topenssl\t3.0.22-1~deb12u2\tamd64\tinstalled\tpurge\n")
    assert row["held"] is False


def test_rpm_held_is_unknown() -> None:
    (row,) = packages.parse_rpm_query(
        "openssl-libs\topenssl-3.0.7-27.el9.src.rpm\t1\t3.0.7\t27.el9\tx86_64\n"
    )
    assert row["held"] is None


def test_parse_dpkg_query_skips_rows_without_a_name() -> None:
    """Found by a property test: ":amd64" as the name gave a package named ""."""
    row = "\topenssl\t3.0.22-1~deb12u2\tamd64\tinstalled\tinstall"
    assert parse_dpkg_query(":amd64" + row + "\n" + row) == []
    assert [p["name"] for p in parse_dpkg_query("libssl3:amd64" + row)] == ["libssl3"]
