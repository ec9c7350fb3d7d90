# SPDX-License-Identifier: GPL-3.0-or-later
"""facts.gather end to end with recorded command outputs (fixtures/facts, SOURCES.md).

Commands are answered from the recorded files; the file system parts (libraries, /proc) are
replaced at their seams so the test runs the same on any machine.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    facts,
    initscripts,
    packages,
)

FIX = Path(__file__).parents[3] / "fixtures" / "facts"

SCHEMA_KEYS = {
    "schema_version",
    "collected_at",
    "privileged",
    "warnings",
    "distro",
    "cli",
    "libraries",
    "packages",
    "processes",
    "unreadable_processes",
    "vendored",
    "vendored_scan",
    "runtimes",
    "policy",
    "livepatch",
}


def fake_run(ldconfig_text: str) -> Any:
    answers = {
        ("/usr/bin/openssl", "version", "-a"): (
            0,
            (FIX / "version" / "debian12-3.0.19-version-a.txt").read_text(),
            "",
        ),
        ("/usr/bin/openssl", "list", "-providers"): (
            0,
            (FIX / "version" / "debian12-3.0.19-list-providers.txt").read_text(),
            "",
        ),
        ("/sbin/ldconfig", "-p"): (0, ldconfig_text, ""),
    }

    def run(argv: list[str]) -> tuple[int, str, str]:
        if argv[:2] == ["dpkg-query", "-W"]:
            return 0, (FIX / "dpkg" / "debian12-dpkg-query-all.txt").read_text(), ""
        if argv[:2] == ["dpkg-query", "-S"]:
            owned = {
                p: "libssl3:amd64"
                for p in argv[2:]
                if "/lib" in p and "lib" in p.rsplit("/", 1)[-1]
            }
            if "/usr/bin/openssl" in argv:
                owned["/usr/bin/openssl"] = "openssl"
            return 0, "".join(f"{pkg}: {path}\n" for path, pkg in owned.items()), ""
        if argv[:2] == ["apt-cache", "policy"]:
            return 0, (FIX / "dpkg" / "debian12-apt-cache-policy.txt").read_text(), ""
        return answers.get(tuple(argv), (127, "", f"not recorded: {argv}"))

    return run


def fake_bin(name: str) -> str | None:
    return {
        "ldconfig": "/sbin/ldconfig",
        "dpkg-query": "/usr/bin/dpkg-query",
        "apt-get": "/usr/bin/apt-get",
    }.get(name)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    libdir = tmp_path / "lib" / "x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    for name in ("libssl.so.3", "libcrypto.so.3", "libssl.so.1.1", "libcrypto.so.1.1"):
        (libdir / name).write_bytes(b"\x7fELF")
    texts = {
        "libcrypto.so.3": "OpenSSL 3.0.19 27 Jan 2026",
        "libcrypto.so.1.1": "OpenSSL 1.1.1w  11 Sep 2023",
    }

    def inspect(path: str, want_texts: bool = True) -> dict[str, Any]:
        name = Path(path).name
        return {
            "build_id": f"id-{name}",
            "soname": name,
            "needed": [],
            "error": None,
            "version_texts": [texts[name]] if name in texts else [],
        }

    monkeypatch.setattr(facts, "inspect_file", inspect)
    monkeypatch.setattr(facts, "find_clis", lambda extra: ["/usr/bin/openssl"])
    return libdir


def test_gather_schema_and_backport_evidence(host: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ldconfig = "".join(
        f"\t{n} (libc6,x86-64) => {host / n}\n"
        for n in ("libssl.so.3", "libcrypto.so.3", "libssl.so.1.1", "libcrypto.so.1.1")
    )
    docroot = host.parent.parent / "doc"
    (docroot / "libssl3").mkdir(parents=True)
    shutil.copy(
        FIX / "changelog" / "libssl3_3.0.19-1~deb12u2.changelog.Debian.gz",
        docroot / "libssl3" / "changelog.Debian.gz",
    )
    monkeypatch.setattr(packages.DpkgManager, "DOC_ROOT", str(docroot))
    calls: list[list[str]] = []
    recorded = fake_run("4 libs found in cache `/etc/ld.so.cache'\n" + ldconfig)
    result = facts.gather(
        lambda argv: calls.append(argv) or recorded(argv),
        fake_bin,
        {"processes": False, "runtimes": False, "livepatch": False, "extra_library_paths": []},
    )
    assert set(result) >= SCHEMA_KEYS
    assert result["schema_version"] == 1
    assert sum(1 for c in calls if c[:2] == ["apt-cache", "policy"]) == 1  # prefetched once
    (cli,) = result["cli"]
    assert (cli["version"], cli["openssldir"], cli["package"]) == (
        "3.0.19",
        "/usr/lib/ssl",
        "openssl",
    )
    assert cli["providers"][0]["name"] == "OpenSSL Default Provider"
    libs = {Path(lib["real_path"]).name: lib for lib in result["libraries"]}
    assert libs["libssl.so.3"]["version"] == "3.0.19"
    # names without dpkg's ":arch" (libssl3 is Multi-Arch: same, openssl is not), arch apart
    assert libs["libssl.so.3"]["package"] == "libssl3"
    assert libs["libssl.so.3"]["package_arch"] == "amd64"
    assert libs["libssl.so.3"]["package_version"] == "3.0.19-1~deb12u2"
    assert libs["libcrypto.so.1.1"]["leftover_series"] is True
    assert libs["libcrypto.so.3"]["leftover_series"] is False
    pkgs = {p["name"]: p for p in result["packages"]}
    assert all(":" not in name for name in pkgs)
    assert (pkgs["libssl3"]["arch"], pkgs["openssl"]["arch"]) == ("amd64", "amd64")
    assert pkgs["libssl3"]["candidate"] == "3.0.22-1~deb12u2"
    assert libs["libssl.so.3"]["real_path"] in pkgs["libssl3"]["provides_libraries"]
    assert pkgs["openssl"]["provides_cli"] == ["/usr/bin/openssl"]
    assert (cli["package"], cli["package_arch"]) == ("openssl", "amd64")
    assert "libnss3" not in pkgs
    evidence = pkgs["libssl3"]["changelog"]
    assert evidence["error"] is None and evidence["trimmed"] is True
    assert evidence["cves"]["CVE-2026-28387"] == "3.0.19-1~deb12u2"
    assert "no changelog" in pkgs["openssl"]["changelog"]["error"]
    assert result["policy"]["seclevel"] == 2
    assert result["vendored_scan"]["complete"] is True


def test_missing_tools_degrade_to_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts, "find_clis", lambda extra: [])
    result = facts.gather(
        lambda argv: (127, "", "missing"),
        lambda name: None,
        {"processes": False, "runtimes": False, "livepatch": False, "extra_library_paths": []},
    )
    assert result["cli"] == [] and result["packages"] == []
    text = "\n".join(result["warnings"])
    assert "no openssl command line tool found" in text
    assert "no supported package manager" in text


def test_finish_processes_init_script_and_in_use() -> None:
    libs = [
        {
            "paths": ["/lib/x/libssl.so.3"],
            "real_path": "/usr/lib/x/libssl.so.3",
            "package_version": "3.0.19-1~deb12u2",
            "build_id": "bb",
            "version_text": None,
            "in_use": False,
        }
    ]
    procs = [
        {
            "exe": "/usr/sbin/nginx",
            "container": None,
            "service": None,
            "service_source": "none",
            "libraries": [
                {
                    "path": "/usr/lib/x/libssl.so.3",
                    "deleted": False,
                    "stale": False,
                    "build_id": None,
                    "version_text": None,
                    "package_version": None,
                }
            ],
        }
    ]
    facts._finish_processes(
        procs,
        libs,
        {"/usr/sbin/nginx": ("nginx-core", "amd64", "1.22.1-9")},
        initscripts.InitServices({"nginx-core": ["nginx"]}, read=lambda path: None),
    )
    assert procs[0]["service"] == "nginx" and procs[0]["service_source"] == "init"
    assert procs[0]["libraries"][0]["package_version"] == "3.0.19-1~deb12u2"
    assert libs[0]["in_use"] is True


def test_os_release_parsing() -> None:
    osr = facts.parse_os_release('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n# x\n')
    assert osr == {"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm"}


class _Manager(packages.DpkgManager):
    def __init__(self, fail: bool) -> None:
        super().__init__(lambda argv: (0, "", ""), [])
        self.fail = fail
        self.asked: list[list[str]] = []

    def installed(self) -> list[dict[str, Any]]:
        return packages.parse_dpkg_query((FIX / "dpkg" / "debian12-dpkg-query-all.txt").read_text())

    def candidates(self, names: list[str]) -> dict[str, str | None]:
        self.asked.append(names)
        if self.fail:
            raise OSError("apt-cache: killed")
        return dict.fromkeys(names, "3.0.99-1")


def test_package_queries_run_together_and_a_failed_candidate_query_keeps_the_inventory() -> None:
    warnings: list[str] = []
    ok = _Manager(fail=False)
    installed, asked, answered = facts._package_queries(ok, True, warnings)
    assert len(ok.asked) == 1 and set(ok.asked[0]) == asked
    assert "libssl3:amd64" in asked and answered["libssl3:amd64"] == "3.0.99-1"
    assert len(installed) > len(asked)

    failing = _Manager(fail=True)
    installed2, asked2, answered2 = facts._package_queries(failing, True, warnings)
    assert installed2 == installed and (asked2, answered2) == (set(), {})
    assert warnings == ["candidate query: apt-cache: killed"]

    off = _Manager(fail=False)
    assert facts._package_queries(off, False, [])[1:] == (set(), {})
    assert off.asked == []


def test_multiarch_packages_keep_their_architecture() -> None:
    """libssl3 installed for amd64 and i386 (Multi-Arch: same): two entries named libssl3,
    told apart by arch; each library and candidate goes to its own architecture's entry.
    apt prints the native architecture's package without ":amd64"."""
    installed = packages.parse_dpkg_query(
        "libssl3:amd64\topenssl\t3.0.19-1~deb12u2\tamd64\tinstalled\n"
        "libssl3:i386\topenssl\t3.0.19-1~deb12u2\ti386\tinstalled\n"
        "openssl\topenssl\t3.0.19-1~deb12u2\tamd64\tinstalled\n"
    )
    owners = {
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": "libssl3:amd64",
        "/usr/lib/i386-linux-gnu/libssl.so.3": "libssl3:i386",
        "/usr/bin/openssl": "openssl",
    }

    class Manager(packages.DpkgManager):
        def owners(self, paths: list[str]) -> dict[str, str]:
            return {p: owners[p] for p in paths if p in owners}

        def candidates(self, names: list[str]) -> dict[str, str | None]:
            assert sorted(names) == ["libssl3:amd64", "libssl3:i386", "openssl"]
            return {"libssl3": "3.0.22-1~deb12u2", "libssl3:i386": "3.0.21-1", "openssl": None}

    manager = Manager(lambda argv: (0, "", ""), [])
    pkgs, resolved = facts._packages(
        manager,
        installed,
        (set(), {}),
        manager.owners(sorted(owners)),
        (sorted(owners)[:2], ["/usr/bin/openssl"]),
        {"candidates": True, "changelog": False},
    )
    by_arch = {(p["name"], p["arch"]): p for p in pkgs}
    assert sorted(by_arch) == [("libssl3", "amd64"), ("libssl3", "i386"), ("openssl", "amd64")]
    assert by_arch[("libssl3", "amd64")]["candidate"] == "3.0.22-1~deb12u2"
    assert by_arch[("libssl3", "i386")]["candidate"] == "3.0.21-1"
    assert by_arch[("libssl3", "i386")]["provides_libraries"] == [
        "/usr/lib/i386-linux-gnu/libssl.so.3"
    ]
    assert resolved["/usr/lib/i386-linux-gnu/libssl.so.3"] == (
        "libssl3",
        "i386",
        "3.0.19-1~deb12u2",
    )
    assert resolved["/usr/bin/openssl"] == ("openssl", "amd64", "3.0.19-1~deb12u2")


def _installed_bench() -> list[dict[str, Any]]:
    return packages.parse_dpkg_query(
        "haproxy\thaproxy\t2.6.12-1+deb12u4\tamd64\tinstalled\n"
        "openssh-server\topenssh\t1:9.2p1-2+deb12u10\tamd64\tinstalled\n"
        "nginx-common\tnginx\t1.22.1-9+deb12u11\tall\tinstalled\n"
        "nginx\tnginx\t1.22.1-9+deb12u11\tamd64\tinstalled\n"
    )


class _FilesManager(packages.DpkgManager):
    """dpkg-query answered from the recorded file lists of the benchmark image's packages."""

    def __init__(self, with_files: bool = True) -> None:
        super().__init__(self._run, [])
        self.with_files = with_files
        self.calls: list[list[str]] = []

    def _run(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        if argv[:2] == ["dpkg-query", "-W"] and self.with_files:
            recorded = (FIX / "dpkg" / "debian12-dpkg-query-files.txt").read_text()
            return 0, recorded, ""
        if argv[:2] == ["dpkg-query", "-W"]:  # a dpkg without db-fsys:Files
            return 0, "".join(f"== {n}\n" for n in argv[3:]), ""
        if argv[:2] == ["dpkg-query", "-S"]:
            known = {"/usr/sbin/haproxy": "haproxy", "/usr/sbin/nginx": "nginx"}
            return 0, "".join(f"{known[p]}: {p}\n" for p in argv[2:] if p in known), ""
        return 1, "", "unexpected"


def test_executables_map_to_init_scripts_through_their_packages_files() -> None:
    """Non-systemd host (the benchmark image): an executable names a service when the package
    that ships an init script also ships the executable — one query of those packages' file
    lists (recorded), no search of the whole package database. nginx's init script is in
    nginx-common, its binary in nginx, which is not among the packages asked here: no service
    (gather also asks for the packages of the same source and checks the pid file:
    test_initscripts.py)."""
    index = facts._owner_index(_installed_bench())
    manager = _FilesManager()
    exes = ["/usr/sbin/haproxy", "/usr/sbin/sshd", "/usr/sbin/nginx", "/usr/bin/sleep"]
    owners = facts._exe_owners(manager, exes, {"haproxy", "openssh-server", "nginx-common"}, index)
    assert owners == {
        "/usr/sbin/haproxy": ("haproxy", "amd64", "2.6.12-1+deb12u4"),
        "/usr/sbin/sshd": ("openssh-server", "amd64", "1:9.2p1-2+deb12u10"),
    }
    assert [c[:2] for c in manager.calls] == [["dpkg-query", "-W"]]
    scripts = {"haproxy": ["haproxy"], "openssh-server": ["ssh"], "nginx-common": ["nginx"]}
    procs = [
        {"exe": exe, "container": None, "service": None, "service_source": "none", "libraries": []}
        for exe in exes
    ]
    services = initscripts.InitServices(scripts, read=lambda path: None)
    facts._finish_processes(procs, [], owners, services)
    assert [(p["service"], p["service_source"]) for p in procs] == [
        ("haproxy", "init"),
        ("ssh", "init"),
        (None, "none"),
        (None, "none"),
    ]


def test_executable_owners_fall_back_to_the_owner_query() -> None:
    """Without file lists (dpkg before 1.19): the owner query, as before."""
    index = facts._owner_index(_installed_bench())
    manager = _FilesManager(with_files=False)
    owners = facts._exe_owners(manager, ["/usr/sbin/haproxy"], {"haproxy"}, index)
    assert owners == {"/usr/sbin/haproxy": ("haproxy", "amd64", "2.6.12-1+deb12u4")}
    assert [c[:2] for c in manager.calls] == [["dpkg-query", "-W"], ["dpkg-query", "-S"]]
    assert facts._exe_owners(manager, [], {"haproxy"}, index) == {}
    assert facts._exe_owners(manager, ["/usr/sbin/haproxy"], set(), index) == {}


@pytest.mark.parametrize(
    ("fixture", "held"),
    [
        ("debian12-dpkg-query-want-held.txt", {"libssl3": True, "openssl": False}),
        ("debian12-dpkg-query-want.txt", {"libssl3": False, "openssl": False}),
        ("debian12-dpkg-query-all.txt", {"libssl-dev": None, "libssl3": None, "openssl": None}),
    ],
)
def test_packages_say_which_are_on_hold(fixture: str, held: dict[str, Any]) -> None:
    """``packages[].held`` from dpkg's selection (recorded with and without ``apt-mark hold
    libssl3``); None for the older query without the column."""
    installed = packages.parse_dpkg_query((FIX / "dpkg" / fixture).read_text())
    lib = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
    manager = packages.DpkgManager(lambda argv: (0, "", ""), [])
    pkgs, _owners = facts._packages(
        manager,
        installed,
        (set(), {}),
        {lib: "libssl3:amd64", "/usr/bin/openssl": "openssl"},
        ([lib], ["/usr/bin/openssl"]),
        {"candidates": False, "changelog": False},
    )
    assert {p["name"]: p["held"] for p in pkgs} == held
