# SPDX-License-Identifier: GPL-3.0-or-later
"""procscan on recorded /proc data (fixtures/facts/proc and cgroup, see SOURCES.md).

The /proc tree is replayed by a fake reader: maps, cgroup, fd links and /proc/net tables are
the recorded files; ``stat`` answers with the recorded inode of each path.

systemd is not PID 1 on the recording machine: the systemd unit mapping could not run live
here; those cases use the cgroup line formats documented by the kernel and systemd.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import procscan
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.procscan import (
    ProcReader,
    Scanner,
    library_kind,
    openssl_mappings,
    parse_cgroup,
    parse_maps_line,
    parse_net_table,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# PATCHWISE_PROPERTY_SCALE=5 runs every property test with 5x the examples (>= 2,500 each).
SCALE = int(os.environ.get("PATCHWISE_PROPERTY_SCALE", "1"))
FIX = Path(__file__).parents[3] / "fixtures" / "facts"
PROC = FIX / "proc"
CGROUP = FIX / "cgroup"


class FakeStat:
    def __init__(self, ino: int, dev: int = 0xFE00) -> None:
        self.st_ino = ino
        self.st_dev = dev


class FakeReader(ProcReader):
    """Replays a /proc tree from dicts: {pid: {"maps": str, "status": str, ...}}."""

    def __init__(self, procs: dict[str, dict[str, Any]], net: dict[str, str] | None = None):
        super().__init__("/fakeproc")
        self.procs = procs
        self.net = net or {}
        self.reads: list[tuple[str, ...]] = []

    def _proc(self, pid: str) -> dict[str, Any]:
        if pid not in self.procs:
            raise FileNotFoundError(errno.ENOENT, "gone")
        return self.procs[pid]

    def listdir(self) -> list[str]:
        return [*self.procs, "self", "net", "sys"]

    def read_bytes(self, *parts: str) -> bytes:
        self.reads.append(parts)
        proc = self._proc(parts[0])
        key = "/".join(parts[1:])
        if key.startswith("net/"):
            if key[4:] not in self.net:
                raise FileNotFoundError(errno.ENOENT, key)
            return self.net[key[4:]].encode()
        if key == "stat":  # /proc/PID/stat, the kernel's layout, from the status fields
            return stat_line(parts[0], proc.get("status")).encode()
        value = proc.get(key)
        if isinstance(value, Exception):
            raise value
        if value is None:
            raise FileNotFoundError(errno.ENOENT, key)
        return value.encode() if isinstance(value, str) else value

    def readlink(self, *parts: str) -> str:
        proc = self._proc(parts[0])
        key = "/".join(parts[1:])
        if key.startswith("fd/"):
            if key[3:] not in proc.get("fd", {}):
                raise FileNotFoundError(errno.ENOENT, key)
            return proc["fd"][key[3:]]
        if key in proc.get("links", {}):
            return proc["links"][key]
        raise FileNotFoundError(errno.ENOENT, key)

    def stat(self, *parts: str) -> Any:
        proc = self._proc(parts[0])
        path = "/" + "/".join(parts[2:]) if len(parts) > 2 else "/"
        table = proc.get("stat", {})
        if path not in table:
            raise FileNotFoundError(errno.ENOENT, path)
        return table[path]

    def list_fds(self, pid: str) -> list[str]:
        self.reads.append((pid, "fd"))
        return list(self._proc(pid).get("fd", {}))

    def owner(self, pid: str) -> int:
        """Owner of /proc/PID: the effective uid, root for non-dumpable processes."""
        proc = self._proc(pid)
        fields = _fields(proc.get("status"))
        if "Uid" not in fields:
            raise FileNotFoundError(errno.ENOENT, "gone")
        if "owner" in proc:
            return int(proc["owner"])
        return 0 if proc.get("nondumpable") else int(fields["Uid"].split()[1])


def _fields(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def stat_line(pid: str, status_text: Any) -> str:
    """The first fields of /proc/PID/stat as the kernel writes them: pid (comm) state ppid ..."""
    fields = _fields(status_text)
    if "Name" not in fields:
        raise FileNotFoundError(errno.ENOENT, "gone")
    return f"{pid} ({fields['Name']}) S {fields['PPid']} {pid} {pid} 0 -1 4194560 125 0 0 0\n"


def status(name: str, ppid: int, uid: int = 0) -> str:
    return f"Name:\t{name}\nPPid:\t{ppid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n"


def stat_from_json(name: str, side: str | None = None) -> dict[str, FakeStat]:
    data = json.loads((PROC / name).read_text())
    out = {}
    for path, value in data.items():
        entry = value[side] if side else value
        major, minor = (int(x, 16) for x in entry["dev"].split(":"))
        out[path] = FakeStat(entry["ino"], os.makedev(major, minor))
    return out


def test_library_kind() -> None:
    assert library_kind("/usr/lib/x86_64-linux-gnu/libssl.so.3") == "libssl"
    assert library_kind("/usr/lib64/libcrypto.so.1.0.2k") == "libcrypto"
    assert library_kind("/usr/lib64/libssl.so.10") == "libssl"
    assert library_kind("/site-packages/psycopg2_binary.libs/libssl-d17a2d72.so.3") == "libssl"
    assert library_kind("/usr/lib/x86_64-linux-gnu/libssl3.so") is None  # NSS
    assert library_kind("/usr/lib/x86_64-linux-gnu/libcrypto.so") == "libcrypto"
    assert library_kind("/usr/lib/libcryptopp.so.8") is None


def test_parse_maps_line_deleted() -> None:
    line = (
        "7fd843800000-7fd8438c5000 r--p 00000000 fe:00 339406"
        "                     /usr/lib/x86_64-linux-gnu/libcrypto.so.3 (deleted)"
    )
    entry = parse_maps_line(line)
    assert entry["deleted"] is True
    assert entry["path"] == "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
    assert entry["inode"] == 339406
    assert entry["dev"] == (0xFE, 0)
    assert entry["offset"] == 0


def test_parse_maps_line_bare_deleted_marker() -> None:
    """Found by the bad-input property test: a marker with no path before it is still the
    marker (split() eats its blank), not a path named "(deleted)"."""
    entry = parse_maps_line("7f164bc00000-7f164bcc5000 r--p 00000000 fe:00 2328849    (deleted)")
    assert (entry["deleted"], entry["path"]) == (True, "")


@pytest.mark.parametrize("line", ["", "garbage", "zz-yy r--p 0 fe:00 1 /x", "1-2 rw 0 0:0 1 /x"])
def test_parse_maps_line_malformed(line: str) -> None:
    with pytest.raises(ParseError):
        parse_maps_line(line)


def test_mappings_of_recorded_stale_python() -> None:
    libs = openssl_mappings((PROC / "debian12-python-stale-maps.txt").read_text())
    by_kind = {lib["kind"]: lib for lib in libs}
    assert set(by_kind) == {"libssl", "libcrypto"}
    assert by_kind["libcrypto"]["deleted"] is True
    assert by_kind["libcrypto"]["inode"] == 2328849
    assert by_kind["libcrypto"]["first_range"] == "7f164bc00000-7f164bcc5000"
    assert by_kind["libssl"]["deleted"] is False
    assert by_kind["libssl"]["inode"] == 2328848


def test_no_openssl_in_bash_maps() -> None:
    assert openssl_mappings((PROC / "debian12-bash-maps.txt").read_text()) == []


def test_scanner_deleted_and_replaced_inode() -> None:
    """Both stale kinds, recorded on this host (deleted copy; bind-mounted replacement)."""
    procs = {
        "7904": {
            "maps": (PROC / "debian12-python-stale-maps.txt").read_text(),
            "status": status("python3", 1),
            "cmdline": "/usr/bin/python3\0-c\0import ssl,time; time.sleep(3000)\0",
            "cgroup": (CGROUP / "debian12-container-cgroup-v1-self.txt").read_text(),
            "links": {"ns/mnt": "mnt:[4026531832]", "exe": "/usr/bin/python3.11"},
            "stat": stat_from_json("debian12-python-stale-stat.json"),
        },
        "99": {"maps": (PROC / "debian12-bash-maps.txt").read_text(), "status": status("bash", 1)},
        "1": {"maps": PermissionError(errno.EACCES, "denied"), "comm": "process_api\n"},
        "5": {"maps": ProcessLookupError(errno.ESRCH, "gone")},
    }
    result = Scanner(FakeReader(procs), self_pid=12345).scan()
    assert result["unreadable"] == [
        {"pid": 1, "comm": "process_api", "error": "maps: permission denied"}
    ]
    (proc,) = result["processes"]
    assert proc["pid"] == 7904 and proc["stale"] is True
    assert proc["cmdline"] == ["/usr/bin/python3", "-c", "import ssl,time; time.sleep(3000)"]
    assert proc["service"] is None and proc["container"] is None
    libs = {lib["kind"]: lib for lib in proc["libraries"]}
    assert (libs["libcrypto"]["stale"], libs["libcrypto"]["stale_reason"]) == (True, "deleted")
    assert (libs["libssl"]["stale"], libs["libssl"]["stale_reason"]) == (True, "inode_mismatch")


def _s_server_procs() -> tuple[dict[str, Any], dict[str, str]]:
    fds = {}
    pid = None
    for line in (PROC / "debian12-s_server-fd-links.txt").read_text().splitlines():
        if line.startswith("== "):
            pid = line[3:].strip()
            fds[pid] = {}
        elif "->" in line and pid:
            left, _sep, target = line.partition(" -> ")
            fds[pid][left.split()[-1]] = target.strip()
    maps = (PROC / "debian12-s_server-after-dpkg-upgrade-maps.txt").read_text()
    procs = {
        pid: {
            "maps": maps,
            "status": status("openssl", 1),
            "fd": links,
            "links": {"ns/net": "net:[4026531840]", "exe": "/usr/bin/openssl (deleted)"},
        }
        for pid, links in fds.items()
    }
    net = {p: (PROC / f"debian12-net-{p}.txt").read_text() for p in ("tcp", "tcp6", "udp", "udp6")}
    return procs, net


def test_scanner_after_real_dpkg_upgrade_with_listening_ports() -> None:
    procs, net = _s_server_procs()
    result = Scanner(FakeReader(procs, net), self_pid=1).scan()
    by_pid = {p["pid"]: p for p in result["processes"]}
    assert set(by_pid) == {8961, 8962}
    for proc in by_pid.values():
        assert proc["stale"] is True
        assert proc["exe"] == "/usr/bin/openssl" and proc["exe_deleted"] is True
        assert {lib["stale_reason"] for lib in proc["libraries"]} == {"deleted"}
    assert by_pid[8961]["listening"] == [{"proto": "tcp", "address": "127.0.0.1", "port": 8443}]
    assert by_pid[8962]["listening"] == [{"proto": "udp6", "address": "::", "port": 4433}]


def test_container_process_is_not_stale_because_host_paths_differ() -> None:
    """Recorded podman haproxy: container inode 1614179 vs host 5595298 for libcrypto."""
    container_stat = stat_from_json("podman-container-haproxy-stat.json", "container")
    procs = {
        "6691": {
            "maps": (PROC / "podman-container-haproxy-maps.txt").read_text(),
            "status": status("haproxy", 11284),
            "cgroup": (CGROUP / "podman-container-haproxy-cgroup.txt").read_text(),
            "links": {"ns/mnt": "mnt:[4026532249]", "exe": "/usr/sbin/haproxy"},
            "stat": {"/": FakeStat(1613873, 40), **container_stat},
        },
        "1": {"maps": "", "links": {"ns/mnt": "mnt:[4026531832]"}, "stat": {"/": FakeStat(2)}},
    }
    result = Scanner(FakeReader(procs), self_pid=1).scan()
    (proc,) = result["processes"]
    assert proc["stale"] is False
    assert proc["container"]["runtime"] == "podman"
    assert proc["container"]["id"].startswith("06378e27d353")
    assert proc["container"]["mnt_ns"] == "mnt:[4026532249]"
    # resolving the same paths on the host would have called it stale:
    host_stat = stat_from_json("podman-container-haproxy-stat.json", "host")
    procs["6691"]["stat"] = {"/": FakeStat(1613873, 40), **host_stat}
    wrong = Scanner(FakeReader(procs), self_pid=1).scan()["processes"][0]
    assert wrong["stale"] is True  # what a host-path comparison would claim


HOST_MNT, CONTAINER_MNT = "mnt:[4026531841]", "mnt:[4026532719]"


def _container_nginx(mnt_ns: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "maps": (PROC / "podman-container-nginx-master-maps.txt").read_text(),
        "status": status("nginx", 11284),
        "cgroup": (CGROUP / "podman-container-nginx-cgroup-v1-hybrid.txt").read_text(),
    }
    if mnt_ns:
        entry["links"] = {"ns/mnt": mnt_ns}
    return entry


def test_container_deleted_mapping_is_stale() -> None:
    procs = {"1": {"links": {"ns/mnt": HOST_MNT}}, "8293": _container_nginx(CONTAINER_MNT)}
    (proc,) = Scanner(FakeReader(procs), self_pid=1).scan()["processes"]
    assert proc["stale"] is True
    assert proc["container"]["runtime"] == "podman"


def test_same_mount_namespace_is_not_another_container() -> None:
    # Scanning from inside the container: every cgroup path names the container, but the
    # process shares the scanner's mount namespace, so it is on "this host".
    procs = {"1": {"links": {"ns/mnt": CONTAINER_MNT}}, "8293": _container_nginx(CONTAINER_MNT)}
    (proc,) = Scanner(FakeReader(procs), self_pid=1).scan()["processes"]
    assert proc["container"] is None
    assert proc["stale"] is True


def test_unknown_mount_namespace_is_not_called_a_container() -> None:
    # The namespace link vanished (process exiting mid-scan): no container claim from cgroup.
    procs = {"1": {"links": {"ns/mnt": HOST_MNT}}, "8293": _container_nginx(None)}
    (proc,) = Scanner(FakeReader(procs), self_pid=1).scan()["processes"]
    assert proc["container"] is None


def test_master_worker_grouping_and_exiting_process() -> None:
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    exe = {"exe": "/usr/sbin/nginx"}
    procs = {
        "100": {"maps": maps, "status": status("nginx", 1), "links": dict(exe)},
        "101": {"maps": maps, "status": status("nginx", 100, 33), "links": dict(exe)},
        "102": {"maps": maps, "status": status("nginx", 100, 33), "links": dict(exe)},
        "103": {"maps": maps},  # exits between maps and status
    }
    result = Scanner(FakeReader(procs), self_pid=1).scan()
    masters = {p["pid"]: p["master_pid"] for p in result["processes"]}
    assert masters == {100: 100, 101: 100, 102: 100}


def test_net_tables_recorded() -> None:
    tcp = parse_net_table((PROC / "debian12-net-tcp.txt").read_text(), "tcp")
    assert tcp[15311] == {"proto": "tcp", "address": "127.0.0.1", "port": 8443}
    assert tcp[539]["port"] == 2024
    assert all(s["proto"] == "tcp" for s in tcp.values())
    udp6 = parse_net_table((PROC / "debian12-net-udp6.txt").read_text(), "udp6")
    assert udp6 == {15316: {"proto": "udp6", "address": "::", "port": 4433}}


def test_cgroup_recorded_files() -> None:
    host = parse_cgroup((CGROUP / "debian12-container-cgroup-v1-self.txt").read_text())
    assert host["service"] is None and host["container_runtime"] is None
    pod = parse_cgroup((CGROUP / "podman-container-nginx-cgroup-v1-hybrid.txt").read_text())
    assert pod["container_runtime"] == "podman"
    assert pod["service"] is None


@pytest.mark.parametrize(
    ("text", "service", "scope", "runtime"),
    [
        ("0::/system.slice/nginx.service\n", "nginx.service", None, None),
        ("0::/init.scope\n", "init.scope", "init.scope", None),
        (
            "0::/system.slice/system-postgresql.slice/postgresql@15-main.service\n",
            "postgresql@15-main.service",
            None,
            None,
        ),
        (
            "12:pids:/system.slice/sshd.service\n3:cpu,cpuacct:/\n"
            "1:name=systemd:/system.slice/sshd.service\n0::/\n",
            "sshd.service",
            None,
            None,
        ),
        (
            "2:name=systemd:/user.slice/user-1000.slice/session-16.scope",
            None,
            "session-16.scope",
            None,
        ),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service\n",
            "pipewire.service",
            None,
            None,
        ),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
            "user@1000.service",
            "init.scope",
            None,
        ),
        (
            "0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
            None,
            "docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
            "docker",
        ),
        ("0::/\n", None, None, None),
        ("", None, None, None),
    ],
)
def test_cgroup_systemd_layouts(
    text: str, service: str | None, scope: str | None, runtime: str | None
) -> None:
    """Documented systemd layouts; not recordable here (systemd is not PID 1 on this machine)."""
    parsed = parse_cgroup(text)
    assert parsed["service"] == service
    assert parsed["container_runtime"] == runtime
    if scope:
        assert parsed["scope"] == scope


def test_user_service_is_noted() -> None:
    parsed = parse_cgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.service")
    assert parsed["user_service"] == "user@1000.service"


MAPS_LINE = st.builds(
    lambda a, b, perms, off, dev, ino, path, deleted: (
        f"{a:x}-{b:x} {perms} {off:08x} {dev} {ino} {path}{' (deleted)' if deleted else ''}"
    ),
    st.integers(0, 2**48),
    st.integers(0, 2**48),
    st.sampled_from(["r--p", "r-xp", "rw-p", "---p"]),
    st.integers(0, 2**32),
    st.sampled_from(["fe:00", "00:28", "08:01", "zz"]),
    st.integers(0, 2**40),
    st.one_of(
        st.sampled_from(
            ["/usr/lib/libssl.so.3", "/lib64/libcrypto.so.1.1", "[heap]", "", "/x/libssl3.so"]
        ),
        st.text(max_size=40),
    ),
    st.booleans(),
)


@settings(max_examples=1000 * SCALE, deadline=None)
@given(st.lists(st.one_of(MAPS_LINE, st.text(max_size=80)), max_size=20))
def test_property_maps(lines: list[str]) -> None:
    for lib in openssl_mappings("\n".join(lines)):
        assert lib["kind"] in ("libssl", "libcrypto")
        assert lib["path"].startswith("/")
    for line in lines:
        with contextlib.suppress(ParseError):
            parse_maps_line(line)


CG_LINE = st.builds(
    lambda h, c, p: f"{h}:{c}:{p}",
    st.sampled_from(["0", "1", "12", "x"]),
    st.sampled_from(["", "name=systemd", "pids", "cpu,cpuacct"]),
    st.lists(
        st.sampled_from(
            [
                "system.slice",
                "a.service",
                "init.scope",
                "user@1000.service",
                "docker-abc.scope",
                "libpod-0123456789abcdef.scope",
                "kubepods",
                "",
                "..",
            ]
        )
        | st.text(max_size=10),
        max_size=6,
    ).map(lambda parts: "/" + "/".join(parts)),
)


@settings(max_examples=1000 * SCALE, deadline=None)
@given(st.lists(st.one_of(CG_LINE, st.text(max_size=60)), max_size=12))
def test_property_cgroup(lines: list[str]) -> None:
    parsed = parse_cgroup("\n".join(lines))
    assert parsed["service"] is None or parsed["service"].endswith((".service", ".scope"))


@settings(max_examples=1000 * SCALE, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["tcp", "tcp6", "udp", "udp6"]))
def test_property_net(text: str, proto: str) -> None:
    for entry in parse_net_table("header\n" + text, proto).values():
        assert 0 <= entry["port"] <= 65535


def test_cgroup_read_only_when_it_can_name_something() -> None:
    """Without systemd, a process in our own mount namespace has no unit and no container to
    find in its cgroup file: the read is skipped. Under systemd it is always read."""
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    cgroup = "0::/system.slice/haproxy.service\n"

    def procs(pid1_comm: str) -> dict[str, Any]:
        return {
            "1": {"maps": "", "comm": pid1_comm + "\n", "links": {"ns/mnt": "mnt:[1]"}},
            "50": {"maps": "", "links": {"ns/mnt": "mnt:[1]"}},
            "60": {
                "maps": maps,
                "status": status("haproxy", 1),
                "cgroup": cgroup,
                "links": {"ns/mnt": "mnt:[1]"},
            },
        }

    plain = Scanner(FakeReader(procs("process_api")), self_pid=50).scan()["processes"][0]
    assert plain["service"] is None and plain["cgroup"] is None
    under_systemd = Scanner(FakeReader(procs("systemd")), self_pid=50).scan()["processes"][0]
    assert under_systemd["service"] == "haproxy.service"
    assert under_systemd["service_source"] == "systemd"


def test_chrooted_process_in_our_namespace_is_checked_from_our_root() -> None:
    """A chrooted process (same mount namespace, other root) mapped its libraries before
    chroot(): the path does not exist under its root, the host path is compared instead."""
    maps = (PROC / "debian12-python-stale-maps.txt").read_text()
    host = stat_from_json("debian12-python-stale-stat.json")

    class ChrootReader(FakeReader):
        def stat_host(self, path: str) -> Any:
            return host[path]

    procs = {
        "1": {"maps": "", "comm": "init\n", "links": {"ns/mnt": "mnt:[1]"}},
        "50": {"maps": "", "links": {"ns/mnt": "mnt:[1]"}},
        "70": {
            "maps": maps,
            "status": status("smtpd", 1),
            "links": {"ns/mnt": "mnt:[1]", "root": "/var/spool/postfix"},
            "stat": {},  # nothing under the chroot
        },
    }
    (proc,) = Scanner(ChrootReader(procs), self_pid=50).scan()["processes"]
    reasons = {lib["kind"]: lib["stale_reason"] for lib in proc["libraries"]}
    assert reasons == {"libcrypto": "deleted", "libssl": "inode_mismatch"}


def test_ipv6_addresses() -> None:
    line = (
        "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0"
    )
    mapped = line.replace("00000000000000000000000001000000", "0000000000000000FFFF00000100007F")
    assert parse_net_table("h\n" + line, "tcp6")[4242]["address"] == "::1"
    assert parse_net_table("h\n" + mapped, "tcp6")[4242]["address"] == "::ffff:127.0.0.1"


# -- the cheap common path ------------------------------------------------------------------

_MAPS_CACHE: dict[bytes, Any] = {}


@settings(max_examples=1000 * SCALE, deadline=None)
@given(st.lists(st.one_of(MAPS_LINE, st.text(max_size=80)), max_size=20))
def test_property_cached_mappings_equal_the_plain_parse(lines: list[str]) -> None:
    """The scanner's path (candidate lines found in the raw bytes, per-line parse cache shared
    across processes) gives exactly what openssl_mappings gives."""
    text = "\n".join(lines)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return  # /proc gives bytes; lone surrogates cannot come from it
    cached = procscan._mappings_cached(procscan._candidate_lines_bytes(data), _MAPS_CACHE)
    assert cached == openssl_mappings(text)


def test_identical_processes_share_parses_but_keep_their_own_ranges() -> None:
    maps = (PROC / "debian12-python-stale-maps.txt").read_text()
    shifted = maps.replace("7f", "7e")  # same files, other addresses (ASLR)
    cache: dict[bytes, Any] = {}
    first = procscan._mappings_cached(procscan._candidate_lines_bytes(maps.encode()), cache)
    size = len(cache)
    second = procscan._mappings_cached(procscan._candidate_lines_bytes(shifted.encode()), cache)
    assert len(cache) == size  # nothing parsed again
    assert first == openssl_mappings(maps) and second == openssl_mappings(shifted)
    assert [lib["first_range"] for lib in first] != [lib["first_range"] for lib in second]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4242 (sleep) S 1 4242 4242 0 -1 4194560\n", (1, 4242)),
        ("77 (a b) (c)) R 12 70 71 0 -1\n", (12, 71)),
        ("77 (x", None),
        ("77 (x) S 1\n", None),
        ("", None),
    ],
)
def test_stat_ppid_session(text: str, expected: Any) -> None:
    assert procscan._stat_ppid_session(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (status("nginx", 1, 33), ("nginx", 1, 33)),
        ("Name:\ta\\nb\\\\c\nPPid:\t7\nUid:\t0\t0\t0\t0\n", ("a\nb\\c", 7, 0)),
        ("Name:\tx\n", ("x", None, None)),
        ("", None),
        ("garbage", None),
    ],
)
def test_status_identity(text: str, expected: Any) -> None:
    assert procscan._status_identity(text.encode()) == expected


def test_status_and_stat_of_a_real_process() -> None:
    """Recorded status and stat of an nginx worker (www-data, parent: the master, pid 23)."""
    status_text = (PROC / "debian12-nginx-worker-status.txt").read_bytes()
    assert procscan._status_identity(status_text) == ("nginx", 23, 33)
    stat_text = (PROC / "debian12-nginx-worker-stat.txt").read_text()
    assert procscan._stat_ppid_session(stat_text) == (23, 23)


def _sleepers(count: int, maps: str, **extra: Any) -> dict[str, dict[str, Any]]:
    return {
        str(1000 + i): {
            "maps": maps,
            "status": status("sleep", 1, 65534),
            "cmdline": "sleep\x001800\x00",
            "links": {
                "ns/mnt": "mnt:[1]",
                "ns/net": "net:[9]",
                "ns/user": "user:[1]",
                "exe": "/usr/bin/sleep",
            },
            "fd": {"0": "/dev/null", "1": "/dev/null", "2": "/dev/null"},
            **extra,
        }
        for i in range(count)
    }


def test_uid_comm_and_parent_from_one_status_read() -> None:
    """The real uid from status whatever the owner of /proc/PID says: a non-dumpable nginx
    worker's entry is root-owned, one in a rootless container's user namespace shows that
    namespace's root. One status read per process, no other identity file."""
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    procs = _sleepers(2, maps)
    procs["1"] = {"maps": "", "links": {"ns/user": "user:[1]", "ns/mnt": "mnt:[1]"}}
    procs["2000"] = {**procs["1000"], "status": status("nginx", 1, 33), "nondumpable": True}
    procs["2001"] = {**procs["1000"], "status": status("nginx", 1, 0)}
    procs["2002"] = {
        **procs["1000"],
        "status": status("nginx", 1, 100032),
        "owner": 100000,  # root of the container's user namespace
        "links": {**procs["1000"]["links"], "ns/user": "user:[2]"},
    }
    reader = FakeReader(procs)
    result = Scanner(reader, self_pid=1, systemd=False).scan()
    uids = {p["pid"]: (p["uid"], p["comm"], p["ppid"]) for p in result["processes"]}
    assert uids == {
        1000: (65534, "sleep", 1),
        1001: (65534, "sleep", 1),
        2000: (33, "nginx", 1),
        2001: (0, "nginx", 1),
        2002: (100032, "nginx", 1),
    }
    status_reads = sorted(parts[0] for parts in reader.reads if parts[1:] == ("status",))
    assert status_reads == ["1000", "1001", "2000", "2001", "2002"]
    assert not [parts for parts in reader.reads if parts[1:] == ("stat",) and parts[0] != "1"]


class NetNamespaces(FakeReader):
    """/proc/PID/net/* answered per network namespace (the ns/net link of the process)."""

    def __init__(self, procs: dict[str, Any], nets: dict[str, dict[str, str]]) -> None:
        super().__init__(procs)
        self.nets = nets
        self.links: list[tuple[str, ...]] = []

    def read_bytes(self, *parts: str) -> bytes:
        if len(parts) == 3 and parts[1] == "net":
            self.reads.append(parts)
            files = self.nets[self._proc(parts[0])["links"]["ns/net"]]
            if parts[2] not in files:
                raise FileNotFoundError(errno.ENOENT, parts[2])
            return files[parts[2]].encode()
        return super().read_bytes(*parts)

    def readlink(self, *parts: str) -> str:
        self.links.append(parts)
        return super().readlink(*parts)


def _sockstat(kind: str) -> dict[str, str]:
    return {
        "sockstat": (PROC / f"debian12-net-sockstat-{kind}.txt").read_text(),
        "sockstat6": (PROC / f"debian12-net-sockstat6-{kind}.txt").read_text(),
    }


def test_sockstat_in_use_recorded() -> None:
    busy = _sockstat("busy")
    assert procscan.sockstat_in_use(busy["sockstat"]) == {"TCP": 1, "UDP": 0}
    assert procscan.sockstat_in_use(busy["sockstat6"]) == {"TCP6": 0, "UDP6": 0}
    empty = _sockstat("empty-netns")
    assert procscan.sockstat_in_use(empty["sockstat"]) == {"TCP": 0, "UDP": 0}
    assert procscan.sockstat_in_use("") is None
    assert procscan.sockstat_in_use("TCP: inuse x\n") is None


def test_only_tables_of_protocols_in_use_are_read() -> None:
    """Recorded sockstat of a namespace with one TCP socket in use (and none of UDP, TCP6,
    UDP6): only /proc/PID/net/tcp is read, the one table that can list it."""
    procs, net = _s_server_procs()
    reader = NetNamespaces(procs, {"net:[4026531840]": {**net, **_sockstat("busy")}})
    result = Scanner(reader, self_pid=1, systemd=False).scan()
    tables = sorted(p[2] for p in reader.reads if p[1] == "net" and "sockstat" not in p[2])
    assert tables == ["tcp"]
    by_pid = {p["pid"]: p for p in result["processes"]}
    assert by_pid[8961]["listening"] == [{"proto": "tcp", "address": "127.0.0.1", "port": 8443}]


def test_socket_tables_only_for_socket_holders_once_per_namespace() -> None:
    """Processes without a socket fd cost no namespace link and no table; the tables of a
    namespace are read once, when the first socket holder is met."""
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    procs, net = _s_server_procs()
    quiet = _sleepers(3, maps)
    nets = {"net:[4026531840]": net, "net:[9]": {}}
    reader = NetNamespaces({**procs, **quiet}, nets)
    result = Scanner(reader, self_pid=1, systemd=False).scan()
    by_pid = {p["pid"]: p for p in result["processes"]}
    assert by_pid[8961]["listening"] == [{"proto": "tcp", "address": "127.0.0.1", "port": 8443}]
    assert by_pid[8962]["listening"] == [{"proto": "udp6", "address": "::", "port": 4433}]
    assert all(by_pid[int(pid)]["listening"] == [] for pid in quiet)
    assert {p[0] for p in reader.links if p[1:] == ("ns", "net")} == set(procs)
    tables = [p for p in reader.reads if p[1] == "net" and "sockstat" not in p[2]]
    assert sorted(p[2] for p in tables) == ["tcp", "tcp6", "udp", "udp6"]


class CountedFds(FakeReader):
    """A kernel that reports the number of open fds as the size of /proc/PID/fd (6.2+)."""

    def fd_count(self, pid: str) -> int:
        return len(self._proc(pid).get("fd", {}))


def test_fd_links_read_without_listing_when_numbered_densely() -> None:
    """Recorded fd table of an nginx worker: 11 fds numbered 0..10 (size of /proc/PID/fd 11):
    read as links 0..10, no listing. A sparse table (a daemon that closed fd 3) is listed."""
    links = {}
    for line in (PROC / "debian12-nginx-worker-fd-links.txt").read_text().splitlines():
        left, sep, target = line.partition(" -> ")
        if sep:
            links[left.split()[-1]] = target.strip()
    assert sorted(links, key=int) == [str(i) for i in range(11)]
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    procs = _sleepers(2, maps)
    procs["1000"]["fd"] = links
    procs["1001"]["fd"] = {k: v for k, v in links.items() if k != "3"}
    net = {p: (PROC / f"debian12-net-{p}.txt").read_text() for p in ("tcp", "tcp6", "udp", "udp6")}
    reader = CountedFds(procs, net)
    Scanner(reader, self_pid=1, systemd=False).scan()
    assert [p[0] for p in reader.reads if p[1:] == ("fd",)] == ["1001"]


def test_deleted_only_processes_need_no_inode_check_and_all_are_found() -> None:
    """2,000-style identical stale processes: every one is reported stale (recall 1.0), and
    with every library deleted the inode check (mount namespace, stat of the path) is not
    needed: the only stat is the process's root directory."""
    maps = (PROC / "debian12-s_server-after-dpkg-upgrade-maps.txt").read_text()
    procs = _sleepers(50, maps)

    class CountingReader(FakeReader):
        def readlink(self, *parts: str) -> str:
            self.reads.append(parts)
            return super().readlink(*parts)

        def stat(self, *parts: str) -> Any:
            assert parts[1:] == ("root",), f"no stat expected: {parts}"
            return FakeStat(2)

    reader = CountingReader(procs)
    result = Scanner(reader, self_pid=1, systemd=False).scan()
    assert len(result["processes"]) == 50
    assert all(p["stale"] for p in result["processes"])
    others = [parts for parts in reader.reads if parts[0] != "1"]  # 1: the scanner itself
    assert not [parts for parts in others if parts[1:] in (("root",), ("ns", "mnt"))]


def test_inode_check_stat_once_per_namespace_and_root() -> None:
    maps = (PROC / "debian12-python-stale-maps.txt").read_text()
    stats = {"/": FakeStat(2), **stat_from_json("debian12-python-stale-stat.json")}
    procs = _sleepers(20, maps, stat=stats)
    calls: list[tuple[str, ...]] = []

    class CountingReader(FakeReader):
        def stat(self, *parts: str) -> Any:
            calls.append(parts)
            return super().stat(*parts)

    result = Scanner(CountingReader(procs), self_pid=1, systemd=False).scan()
    reasons = {
        (lib["kind"], lib["stale_reason"]) for p in result["processes"] for lib in p["libraries"]
    }
    assert reasons == {("libcrypto", "deleted"), ("libssl", "inode_mismatch")}
    assert len([c for c in calls if len(c) > 2]) == 1  # libssl's path, once for all 20


def _tree(maps: str) -> dict[str, dict[str, Any]]:
    """A local-connection module run: login shell 100 (session leader) -> ansible-playbook 200
    -> worker 210 -> sh 220 -> module 300 -> probe 310 (python3 -c 'import ssl'); 210's sibling
    worker 211 for another host; 150: a server the user started from the same shell; 400: a
    service (its own session) that ansible started."""

    def proc(name: str, ppid: int, sid: int, mapped: bool) -> dict[str, Any]:
        return {
            "maps": maps if mapped else "",
            "status": status(name, ppid),
            "stat": {"/": FakeStat(2)},
            "sid": sid,
            "links": {"exe": f"/usr/bin/{name}", "ns/mnt": "mnt:[1]"},
        }

    return {
        "1": {**proc("init", 0, 1, False), "links": {"ns/mnt": "mnt:[1]"}},
        "100": proc("bash", 1, 100, False),
        "150": proc("s_server", 100, 100, True),
        "200": proc("ansible-playbook", 100, 100, True),
        "210": proc("ansible-playbook", 200, 100, True),
        "211": proc("ansible-playbook", 200, 100, True),
        "220": proc("sh", 210, 100, False),
        "300": proc("python3", 220, 100, True),
        "310": proc("python3", 300, 100, True),
        "400": proc("nginx", 1, 400, True),
    }


class SessionReader(FakeReader):
    def read_bytes(self, *parts: str) -> bytes:
        if parts[1:] == ("stat",):
            proc = self._proc(parts[0])
            fields = _fields(proc.get("status"))
            line = f"{parts[0]} ({fields['Name']}) S {fields['PPid']} {proc['sid']} {proc['sid']} 0"
            return line.encode()
        return super().read_bytes(*parts)


def test_own_process_tree_is_not_reported() -> None:
    """The module, what it started, and its ancestors below the session leader with their
    other children are this run's own processes; the user's server in the same session and
    the service are reported."""
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    result = Scanner(SessionReader(_tree(maps)), self_pid=300, systemd=False).scan()
    assert [p["pid"] for p in result["processes"]] == [150, 400]
    assert result["own_excluded"] == [200, 210, 211, 310]
    everything = Scanner(SessionReader(_tree(maps)), self_pid=300, own_tree=False).scan()
    assert [p["pid"] for p in everything["processes"]] == [150, 200, 210, 211, 310, 400]


def test_processes_gone_by_the_end_of_the_scan_are_marked() -> None:
    maps = (PROC / "podman-container-haproxy-maps.txt").read_text()
    procs = _sleepers(3, maps)

    class Vanishing(FakeReader):
        listings = 0

        def listdir(self) -> list[str]:
            self.listings += 1
            if self.listings > 1:  # the second listing, at the end of the scan
                return [p for p in super().listdir() if p != "1001"]
            return super().listdir()

    result = Scanner(Vanishing(procs), self_pid=1, systemd=False).scan()
    assert {p["pid"]: p["exited"] for p in result["processes"]} == {
        1000: False,
        1001: True,
        1002: False,
    }
