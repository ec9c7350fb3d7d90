# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Init script names of processes on a host without systemd, on outputs recorded in a Debian 12
container running nginx, apache2 and haproxy from their init scripts (fixtures/initscripts/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    facts,
    initscripts,
    packages,
    procscan,
)
from hypothesis import given
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "initscripts"


def _read_run(path: str) -> str | None:
    """A pid file read from the recorded /run (``/var/run`` is a symlink to it there)."""
    for root in ("/run/", "/var/run/"):
        if path.startswith(root):
            recorded = FIX / "run" / path[len(root) :]
            return recorded.read_text() if recorded.is_file() else None
    return None


class _RecordedDpkg(packages.DpkgManager):
    """dpkg-query answered with the recorded outputs; any other query fails the test."""

    def __init__(self) -> None:
        super().__init__(self._run, [])
        self.calls: list[list[str]] = []

    def _run(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        if argv[:3] == ["dpkg-query", "-W", "-f=== ${binary:Package}\n${db-fsys:Files}"]:
            assert argv[3:] == _recorded_files_argv()
            return 0, (FIX / "debian12-web-dpkg-query-files.txt").read_text(), ""
        raise AssertionError(f"unexpected command {argv}")


def _recorded_files_argv() -> list[str]:
    line = next(
        line for line in (FIX / "SOURCES.md").read_text().splitlines()
        if line.startswith("| `debian12-web-dpkg-query-files.txt`")
    )
    return line.split("${db-fsys:Files}' ")[1].split("`")[0].split()


def _host() -> tuple[list[dict[str, Any]], dict[str, str], dict[str, facts.Owner]]:
    installed = packages.parse_dpkg_query((FIX / "debian12-web-dpkg-query-all.txt").read_text())
    raw = packages.parse_dpkg_search((FIX / "debian12-web-dpkg-query-S-initd.txt").read_text())
    index = facts._owner_index(installed)
    return installed, raw, {p: facts._resolve_owner(o, index) for p, o in raw.items()}


def _processes(extra: tuple[tuple[int, int, str], ...] = ()) -> list[dict[str, Any]]:
    rows = [
        tuple(line.split())
        for line in (FIX / "debian12-web-pid-ppid-exe.txt").read_text().splitlines()
    ]
    procs = [
        {"pid": int(pid), "ppid": int(ppid), "exe": exe, "container": None, "service": None,
         "service_source": "none", "libraries": []}
        for pid, ppid, exe in [*rows, *extra]
    ]
    procscan.Scanner._group_masters(procs)
    return procs


def _services(installed: list[dict[str, Any]], owners: dict[str, Any]) -> initscripts.InitServices:
    return initscripts.InitServices.from_owners(owners, installed, _read_run)


def test_recorded_pid_files() -> None:
    assert initscripts.parse_pid_file((FIX / "run" / "nginx.pid").read_text()) == [702]
    assert initscripts.parse_pid_file((FIX / "run" / "haproxy.pid").read_text()) == [802]
    apache2 = (FIX / "run" / "apache2" / "apache2.pid").read_text()
    assert initscripts.parse_pid_file(apache2) == [986]


@pytest.mark.parametrize(
    ("text", "pids"),
    [
        ("", []),
        ("\n", []),
        ("702", [702]),
        ("31\n32\n33\n", [31, 32, 33]),  # haproxy with several processes
        ("0\n", []),
        ("4194305\n", []),
        ("12 nginx\n", []),
        ("-5\n", []),
        ("\u0661\u0662\n", []),  # Arabic-Indic digits are not a pid
    ],
)
def test_pid_file_values(text: str, pids: list[int]) -> None:
    assert initscripts.parse_pid_file(text) == pids


@given(st.text())
def test_pid_file_parser_never_raises(text: str) -> None:
    pids = initscripts.parse_pid_file(text)
    assert all(0 < p <= initscripts.PID_MAX for p in pids)
    assert len(pids) <= len(text.split())


@given(
    st.lists(st.integers(1, initscripts.PID_MAX), max_size=8),
    st.sampled_from([" ", "\n", "\t", "\r\n"]),
)
def test_pid_file_round_trip(pids: list[int], sep: str) -> None:
    assert initscripts.parse_pid_file(sep.join(map(str, pids)) + "\n") == pids


def test_pid_file_paths_are_debians_conventions() -> None:
    assert initscripts.pid_file_paths("apache2") == [
        "/run/apache2.pid",
        "/run/apache2/apache2.pid",
        "/var/run/apache2.pid",
        "/var/run/apache2/apache2.pid",
    ]
    assert initscripts.pid_file_paths("../etc") == []
    assert initscripts.pid_file_paths("") == []


def test_script_families_add_the_packages_of_the_same_source() -> None:
    """The file lists asked for are those of the recorded query: the packages of every init
    script (apache2, haproxy, nginx-common, procps, util-linux-extra) and their siblings."""
    installed, raw, _owners = _host()
    families = initscripts.script_families(set(raw.values()), installed)
    assert sorted(families) == _recorded_files_argv()
    assert {"nginx", "apache2-bin"} <= families


def test_services_of_processes_started_by_init_scripts() -> None:
    """nginx (script in nginx-common, binary in nginx) and apache2 (script in apache2, binary
    in apache2-bin) get their script through the pid file that names their master; workers
    follow their master; haproxy (same package) as before. One file-list query, no
    ``dpkg-query -S`` of the executables."""
    installed, raw, owners = _host()
    index = facts._owner_index(installed)
    procs = _processes()
    manager = _RecordedDpkg()
    exes = sorted({p["exe"] for p in procs})
    families = initscripts.script_families(set(raw.values()), installed)
    exe_owners = facts._exe_owners(manager, exes, families, index)
    assert len(manager.calls) == 1
    assert exe_owners["/usr/sbin/nginx"][0] == "nginx"
    assert exe_owners["/usr/sbin/apache2"][0] == "apache2-bin"
    facts._finish_processes(procs, [], exe_owners, _services(installed, owners))
    got = {p["pid"]: (p["service"], p["service_source"]) for p in procs}
    assert got == {
        1: (None, "none"),
        6: (None, "none"),
        702: ("nginx", "init"),
        703: ("nginx", "init"),
        704: ("nginx", "init"),
        802: ("haproxy", "init"),
        986: ("apache2", "init"),
        987: ("apache2", "init"),
        997: ("apache2", "init"),
        1068: (None, "none"),
    }


def test_same_source_without_the_pid_file_names_no_service() -> None:
    """An ``ab`` run (apache2-utils, source apache2) and a second nginx master the pid file
    does not name are not the init scripts' services; a haproxy started by hand still gets
    the script of its own package."""
    installed, raw, owners = _host()
    index = facts._owner_index(installed)
    procs = _processes(
        ((4000, 1, "/usr/bin/ab"), (4001, 1, "/usr/sbin/nginx"),
         (4002, 4001, "/usr/sbin/nginx"), (4003, 1, "/usr/sbin/haproxy"))
    )
    families = initscripts.script_families(set(raw.values()), installed)
    exes = sorted({p["exe"] for p in procs})
    exe_owners = facts._exe_owners(_RecordedDpkg(), exes, families, index)
    assert exe_owners["/usr/bin/ab"][0] == "apache2-utils"
    facts._finish_processes(procs, [], exe_owners, _services(installed, owners))
    got = {p["pid"]: p["service"] for p in procs if p["pid"] >= 4000}
    assert got == {4000: None, 4001: None, 4002: None, 4003: "haproxy"}


def test_no_pid_files_no_sibling_service() -> None:
    """With the services stopped (no pid files) only the same-package script remains."""
    installed, _raw, owners = _host()
    services = initscripts.InitServices.from_owners(owners, installed, lambda path: None)
    assert services.service_of({"pid": 702, "master_pid": 702}, "nginx") is None
    assert services.service_of({"pid": 802, "master_pid": 802}, "haproxy") == "haproxy"
    assert services.service_of({"pid": 1, "master_pid": 1}, None) is None
    # a package that ships two scripts names both, as before
    assert services.service_of({"pid": 5}, "apache2") == "apache-htcacheclean,apache2"


def test_each_pid_file_is_read_once() -> None:
    installed, _raw, owners = _host()
    reads: list[str] = []

    def read(path: str) -> str | None:
        reads.append(path)
        return _read_run(path)

    services = initscripts.InitServices.from_owners(owners, installed, read)
    for pid in (702, 703, 704):
        assert services.service_of({"pid": pid, "master_pid": 702}, "nginx") == "nginx"
    assert reads.count("/run/nginx.pid") == 1
