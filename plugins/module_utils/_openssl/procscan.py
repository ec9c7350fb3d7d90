# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pass over /proc: which processes map libssl/libcrypto, and is that copy stale?

Cost model: every ``/proc/PID/maps`` is read exactly once and tested with two substring checks;
everything else is done only for the processes that map an OpenSSL library, and as little as
the result needs: ``/proc/PID/stat`` (comm, ppid) and the owner of ``/proc/PID`` instead of
``status`` (read only for root-owned entries, which may be non-dumpable processes of another
user, and for processes of other user namespaces), ``cmdline``, ``exe``, the mount namespace,
the root link only when a library is not deleted, the fd links only in network namespaces that
have a listening socket at all. Results shared by identical processes are computed once: the
parse of each maps line (less its address), the ``stat`` of a mapped path per (mount
namespace, root), the socket table per network namespace, the parse of each cgroup text, user
names.

Stale means either

* the maps line ends in `` (deleted)`` (the file was unlinked, e.g. replaced by dpkg/rpm), or
* the inode in the maps line differs from ``stat`` of the same path resolved through
  ``/proc/PID/root`` (the process's own root, so container processes are compared with their
  own file system, never with the host's). Only the inode is compared: on overlay file systems
  maps shows the device of the underlying layer while ``stat`` shows the overlay device.

Processes exit mid-scan: ENOENT/ESRCH are skipped silently. EACCES/EPERM are reported in
``unreadable``. Nothing here raises for I/O reasons.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError

LIB_NAME_RE = re.compile(r"^lib(?P<kind>ssl|crypto)(?:-[0-9a-f]{8})?\.so(?:\.\d[0-9A-Za-z.]*)?$")
DELETED = " (deleted)"
_GONE = (errno.ENOENT, errno.ESRCH)
_DENIED = (errno.EACCES, errno.EPERM)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_READ_SIZE = 1 << 17
TCP_LISTEN = "0A"
# processes of one network namespace whose fds are listed before its socket tables are read
NET_TABLE_AFTER = 8
UDP_UNCONNECTED = "07"


def library_kind(path: str) -> str | None:
    """Return "libssl"/"libcrypto" when the basename is an OpenSSL shared library (not NSS's
    ``libssl3.so``)."""
    base = path.rsplit("/", 1)[-1]
    match = LIB_NAME_RE.match(base)
    return "lib" + match.group("kind") if match else None


def parse_maps_line(line: str) -> dict[str, Any]:
    """Parse one /proc/PID/maps line. Raises :class:`ParseError` on malformed input."""
    parts = line.split(None, 5)
    if len(parts) < 5:
        raise ParseError(f"short maps line: {line[:80]!r}")
    addr, perms, offset, dev, inode = parts[:5]
    path = parts[5].rstrip("\n") if len(parts) == 6 else ""
    start, sep, end = addr.partition("-")
    try:
        start_i, end_i = int(start, 16), int(end, 16)
        offset_i = int(offset, 16)
        inode_i = int(inode)
        major, _sep, minor = dev.partition(":")
        dev_t = (int(major, 16), int(minor, 16))
    except ValueError as exc:
        raise ParseError(f"malformed maps line: {line[:80]!r}") from exc
    if not sep or len(perms) != 4:
        raise ParseError(f"malformed maps line: {line[:80]!r}")
    deleted = path.endswith(DELETED)
    if deleted:
        path = path[: -len(DELETED)]
    return {
        "start": start_i,
        "end": end_i,
        "range": addr,
        "perms": perms,
        "offset": offset_i,
        "dev": dev_t,
        "inode": inode_i,
        "path": path,
        "deleted": deleted,
    }


def _candidate_lines(maps_text: str) -> list[str]:
    """Lines naming libssl/libcrypto, found with str.find instead of splitting every line."""
    starts: set[int] = set()
    for anchor in ("/libssl", "/libcrypto"):
        pos = maps_text.find(anchor)
        while pos != -1:
            starts.add(maps_text.rfind("\n", 0, pos) + 1)
            pos = maps_text.find(anchor, pos + 1)
    lines = []
    for start in sorted(starts):
        end = maps_text.find("\n", start)
        lines.append(maps_text[start:] if end == -1 else maps_text[start:end])
    return lines


def openssl_mappings(maps_text: str) -> list[dict[str, Any]]:
    """Return one entry per mapped OpenSSL library file (path + inode) from a maps text."""
    found: dict[tuple[str, int, tuple[int, int]], dict[str, Any]] = {}
    for line in _candidate_lines(maps_text):
        try:
            entry = parse_maps_line(line)
        except ParseError:
            continue
        kind = library_kind(entry["path"])
        if kind is None or not entry["path"].startswith("/"):
            continue
        key = (entry["path"], entry["inode"], entry["dev"])
        lib = found.get(key)
        if lib is None:
            lib = {
                "path": entry["path"],
                "kind": kind,
                "inode": entry["inode"],
                "dev": entry["dev"],
                "deleted": entry["deleted"],
                "first_range": None,
            }
            found[key] = lib
        if entry["offset"] == 0 and lib["first_range"] is None:
            lib["first_range"] = entry["range"]
    return list(found.values())


def parse_cgroup(text: str) -> dict[str, Any]:
    """Map a /proc/PID/cgroup text (v1 or v2) to the systemd unit and container runtime.

    Returns ``{path, service, scope, user_service, container_runtime, container_id}``.
    """
    result: dict[str, Any] = {
        "path": None,
        "service": None,
        "scope": None,
        "user_service": None,
        "container_runtime": None,
        "container_id": None,
    }
    chosen = None
    fallback = None
    for line in text.splitlines()[:256]:
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        unified = hierarchy == "0" and controllers == "" and path not in ("", "/")
        if unified or (controllers == "name=systemd" and chosen is None):
            chosen = path
        elif fallback is None and path not in ("", "/"):
            fallback = path
    path = chosen or fallback
    if not path:
        return result
    result["path"] = path
    _container_from_cgroup(path, result)
    components = [c for c in path.split("/") if c]
    for comp in components:
        if re.match(r"^user@\d+\.service$", comp):
            result["user_service"] = comp
    for comp in reversed(components):
        if comp.endswith(".service") and not re.match(r"^user@\d+\.service$", comp):
            result["service"] = comp
            break
        if comp.endswith(".scope"):
            result["scope"] = comp
            if comp == "init.scope":
                # PID 1, or a user's systemd manager when under user@UID.service
                result["service"] = result["user_service"] or "init.scope"
            break
    return result


_CONTAINER_PATTERNS = (
    ("docker", re.compile(r"(?:^|/)docker[-/](?P<id>[0-9a-f]{12,64})(?:\.scope)?$")),
    ("podman", re.compile(r"(?:^|/)libpod-(?:conmon-)?(?P<id>[0-9a-f]{12,64})(?:\.scope)?")),
    ("containerd", re.compile(r"cri-containerd-(?P<id>[0-9a-f]{12,64})\.scope")),
    ("crio", re.compile(r"crio-(?:conmon-)?(?P<id>[0-9a-f]{12,64})\.scope")),
    ("kubernetes", re.compile(r"/kubepods[^/]*/(?:.*/)?(?:pod[^/]+/)(?P<id>[0-9a-f]{12,64})$")),
    ("lxc", re.compile(r"(?:^|/)lxc(?:\.payload)?[./](?P<id>[^/]+)")),
    ("machine", re.compile(r"/machine\.slice/(?P<id>[^/]+\.scope)")),
)


def _container_from_cgroup(path: str, result: dict[str, Any]) -> None:
    for runtime, pattern in _CONTAINER_PATTERNS:
        match = pattern.search(path)
        if match:
            result["container_runtime"] = runtime
            result["container_id"] = match.group("id")
            return


def _hex_ip(text: str) -> str:
    """Decode the address column of /proc/net/tcp{,6} (host byte order, 32-bit words)."""
    if len(text) == 8:
        raw = bytes.fromhex(text)[::-1]
        return ".".join(str(b) for b in raw)
    if len(text) == 32:
        words = [bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, 32, 8)]
        raw = b"".join(words)
        groups = [raw[i : i + 2].hex() for i in range(0, 16, 2)]
        return _compress_ipv6(groups)
    raise ParseError(f"bad address {text!r}")


def _compress_ipv6(groups: list[str]) -> str:
    if groups[:6] == ["0000"] * 5 + ["ffff"]:
        raw = bytes.fromhex("".join(groups[6:]))
        return "::ffff:" + ".".join(str(b) for b in raw)
    trimmed = [g.lstrip("0") or "0" for g in groups]
    best_start, best_len = -1, 0
    i = 0
    while i < 8:
        if trimmed[i] == "0":
            j = i
            while j < 8 and trimmed[j] == "0":
                j += 1
            if j - i > best_len and j - i > 1:
                best_start, best_len = i, j - i
            i = j
        else:
            i += 1
    if best_start < 0:
        return ":".join(trimmed)
    head = ":".join(trimmed[:best_start])
    tail = ":".join(trimmed[best_start + best_len :])
    return f"{head}::{tail}"


def parse_net_table(text: str, proto: str) -> dict[int, dict[str, Any]]:
    """Parse /proc/net/{tcp,tcp6,udp,udp6}; return listening sockets by inode.

    TCP: state LISTEN (0A). UDP: state 07 with remote address all zero (unconnected bound).
    Malformed lines are skipped.
    """
    sockets: dict[int, dict[str, Any]] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        if proto.startswith("tcp") and state != TCP_LISTEN:
            continue
        if proto.startswith("udp") and (
            state != UDP_UNCONNECTED or set(remote.replace(":", "")) != {"0"}
        ):
            continue
        try:
            addr_hex, _sep, port_hex = local.partition(":")
            entry = {"proto": proto, "address": _hex_ip(addr_hex), "port": int(port_hex, 16)}
            sockets[int(inode)] = entry
        except (ParseError, ValueError):
            continue
    return sockets


def sockstat_in_use(text: str) -> dict[str, int] | None:
    """``inuse`` counts of TCP/UDP (v4 or v6) from /proc/net/sockstat{,6}; None when the text
    names neither (unknown layout: the caller must assume sockets exist)."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        proto, sep, rest = line.partition(":")
        if not sep or proto not in ("TCP", "UDP", "TCP6", "UDP6"):
            continue
        fields = rest.split()
        try:
            counts[proto] = int(fields[fields.index("inuse") + 1])
        except (ValueError, IndexError):
            return None
    return counts or None


class ProcReader:
    """Thin, injectable file-system access to /proc (unit tests pass a fake root)."""

    def __init__(self, root: str = "/proc") -> None:
        self.root = root

    def path(self, *parts: str) -> str:
        return f"{self.root}/{'/'.join(parts)}"

    def listdir(self) -> list[str]:
        return os.listdir(self.root)

    def read_bytes(self, *parts: str) -> bytes:
        # os.read instead of open(): no buffered file object per file (a large share of the
        # cost of reading thousands of small /proc files)
        fd = os.open(f"{self.root}/{'/'.join(parts)}", os.O_RDONLY | _O_CLOEXEC)
        try:
            chunk = os.read(fd, _READ_SIZE)
            if not chunk:
                return chunk
            chunks = [chunk]
            while True:
                chunk = os.read(fd, _READ_SIZE)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        finally:
            os.close(fd)

    def read_text(self, *parts: str) -> str:
        return self.read_bytes(*parts).decode("utf-8", "replace")

    def readlink(self, *parts: str) -> str:
        return os.readlink(f"{self.root}/{'/'.join(parts)}")

    def stat(self, *parts: str) -> os.stat_result:
        return os.stat(f"{self.root}/{'/'.join(parts)}")

    def stat_host(self, path: str) -> os.stat_result:
        return os.stat(path)

    def owner(self, pid: str) -> int:
        """Owner of ``/proc/PID``: the effective uid of a dumpable process, root otherwise."""
        return os.stat(f"{self.root}/{pid}").st_uid

    def list_fds(self, pid: str) -> list[str]:
        return os.listdir(f"{self.root}/{pid}/fd")


def _stat_fields(text: str) -> tuple[str, int | None] | None:
    """(comm, ppid) of a ``/proc/PID/stat`` text; comm may hold spaces and parentheses."""
    start, end = text.find("("), text.rfind(")")
    if start == -1 or end < start:
        return None
    rest = text[end + 2 :].split(None, 2)
    ppid = int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else None
    return text[start + 1 : end], ppid


def _mapping_of_line(
    line: str, cache: dict[str, tuple[Any, ...] | None]
) -> tuple[str, tuple[Any, ...]] | None:
    """(address range, (path, kind, inode, dev, deleted, offset is zero)) of one maps line
    naming an OpenSSL library, or None; the same answer as :func:`parse_maps_line` plus
    :func:`library_kind`. The parse of everything after the address is cached: identical
    processes map the same files at the same offsets, only the addresses differ."""
    parts = line.split(None, 1)
    if len(parts) != 2:
        return None
    addr, rest = parts
    if rest in cache:
        info = cache[rest]
        if info is None:
            return None
        start, sep, end = addr.partition("-")
        try:
            int(start, 16), int(end, 16)
        except ValueError:
            return None
        return (addr, info) if sep else None
    try:
        entry = parse_maps_line(line)
    except ParseError:
        # a malformed address says nothing about the rest of the line: not cached
        return None
    kind = library_kind(entry["path"])
    info = None
    if kind is not None and entry["path"].startswith("/"):
        info = (
            entry["path"],
            kind,
            entry["inode"],
            entry["dev"],
            entry["deleted"],
            entry["offset"] == 0,
        )
    cache[rest] = info
    return (addr, info) if info is not None else None


def _mappings_cached(
    lines: list[str], cache: dict[str, tuple[Any, ...] | None]
) -> list[dict[str, Any]]:
    """:func:`openssl_mappings` over candidate lines, with the per-line parse cache."""
    found: dict[tuple[str, int, tuple[int, int]], dict[str, Any]] = {}
    for line in lines:
        mapped = _mapping_of_line(line, cache)
        if mapped is None:
            continue
        addr, (path, kind, inode, dev, deleted, at_zero) = mapped
        key = (path, inode, dev)
        lib = found.get(key)
        if lib is None:
            lib = {
                "path": path,
                "kind": kind,
                "inode": inode,
                "dev": dev,
                "deleted": deleted,
                "first_range": None,
            }
            found[key] = lib
        if at_zero and lib["first_range"] is None:
            lib["first_range"] = addr
    return list(found.values())


def _candidate_lines_bytes(data: bytes) -> list[str]:
    """Lines of a maps text naming libssl/libcrypto, found in the raw bytes; only those lines
    are decoded."""
    starts: set[int] = set()
    for anchor in (b"/libssl", b"/libcrypto"):
        pos = data.find(anchor)
        while pos != -1:
            starts.add(data.rfind(b"\n", 0, pos) + 1)
            pos = data.find(anchor, pos + 1)
    lines = []
    for start in sorted(starts):
        end = data.find(b"\n", start)
        raw = data[start:] if end == -1 else data[start:end]
        lines.append(raw.decode("utf-8", "replace"))
    return lines


def _status_fields(text: str) -> dict[str, str]:
    """Name, PPid and Uid of a /proc/PID/status text (looked up, not split line by line)."""
    fields = {}
    for key in ("Name", "PPid", "Uid"):
        pos = text.find(key + ":")
        if pos == -1 or (pos and text[pos - 1] != "\n"):
            continue
        end = text.find("\n", pos)
        fields[key] = text[pos + len(key) + 1 : end if end != -1 else None].strip()
    return fields


def _user_name(uid: int, cache: dict[int, str | None]) -> str | None:
    if uid not in cache:
        try:
            import pwd

            cache[uid] = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            cache[uid] = None
    return cache[uid]


class Scanner:
    """Scan /proc once. ``scan()`` returns processes, unreadable processes and warnings."""

    def __init__(
        self,
        reader: ProcReader | None = None,
        listening: bool = True,
        self_pid: int | None = None,
        elf_reader: Callable[[str], dict[str, Any]] | None = None,
        systemd: bool | None = None,
    ) -> None:
        self.reader = reader or ProcReader()
        self.listening = listening
        self.self_pid = str(self_pid if self_pid is not None else os.getpid())
        self.elf_reader = elf_reader
        self.systemd = systemd
        self.warnings: list[str] = []
        self.unreadable: list[dict[str, Any]] = []
        self._stat_cache: dict[tuple[str, str, str], tuple[int, int] | str] = {}
        self._net_cache: dict[str, dict[int, dict[str, Any]]] = {}
        self._net_busy: dict[str, bool] = {}
        self._net_seen: dict[str, int] = {}
        self._uid_cache: dict[int, str | None] = {}
        self._root_ident: tuple[int, int] | None = None
        self._ranges: dict[int, tuple[Any, str | None]] = {}
        self._check_errors: list[str] = []
        self._self_mnt: str | None = None
        self._self_user_ns: str | None = None
        self._line_cache: dict[str, tuple[Any, ...] | None] = {}
        self._cgroup_cache: dict[str, dict[str, Any]] = {}
        self._other_root: dict[tuple[str, str], bool] = {}
        self.pids_seen = 0

    # -- phase 1: the cheap pass ---------------------------------------------------------
    def _candidates(self) -> list[tuple[str, bytes]]:
        hits = []
        try:
            entries = self.reader.listdir()
        except OSError as exc:
            self.warnings.append(f"cannot list {self.reader.root}: {exc.strerror or exc}")
            return hits
        for pid in entries:
            if not pid.isdigit():
                continue
            self.pids_seen += 1
            try:
                data = self.reader.read_bytes(pid, "maps")
            except OSError as exc:
                if exc.errno in _DENIED:
                    self._unreadable(pid, "maps: permission denied")
                elif exc.errno not in _GONE:
                    self._unreadable(pid, f"maps: {exc.strerror or exc}")
                continue
            if b"libssl" in data or b"libcrypto" in data:
                hits.append((pid, data))
        return hits

    def _unreadable(self, pid: str, error: str) -> None:
        comm = self._safe(self.reader.read_text, pid, "comm")
        comm = comm.strip() if comm else None
        self.unreadable.append({"pid": int(pid), "comm": comm, "error": error})

    # -- phase 2: details for the few ----------------------------------------------------
    def _safe(self, func: Callable[..., Any], *args: str) -> Any:
        try:
            return func(*args)
        except OSError:
            return None

    def _root_identity(self) -> tuple[int, int] | None:
        if self._root_ident is None:
            try:
                st = self.reader.stat(self.self_pid, "root")
                self._root_ident = (st.st_dev, st.st_ino)
            except OSError:
                try:
                    st = os.stat("/")
                    self._root_ident = (st.st_dev, st.st_ino)
                except OSError:
                    self._root_ident = None
        return self._root_ident

    def _wants_cgroup(self, mnt_ns: str | None) -> bool:
        """The cgroup file names a systemd unit only under systemd, and a container only for
        processes in another mount namespace: skip the read otherwise (it is a large share of
        the per-process cost)."""
        if self.systemd is None:
            comm = self._safe(self.reader.read_text, "1", "comm")
            self.systemd = (comm or "").strip() == "systemd"
        if self.systemd:
            return True
        if self._self_mnt is None:
            self._self_mnt = self._safe(self.reader.readlink, self.self_pid, "ns", "mnt") or ""
        return not mnt_ns or not self._self_mnt or mnt_ns != self._self_mnt

    def _container(
        self, pid: str, mnt_ns: str | None, cgroup: dict[str, Any]
    ) -> dict[str, Any] | None:
        if self._self_mnt is None:
            self._self_mnt = self._safe(self.reader.readlink, self.self_pid, "ns", "mnt") or ""
        # Only a process whose mount namespace is known and differs from ours can be in another
        # container: inside a container every cgroup path names that container, and a process
        # that exits mid-scan leaves no namespace to compare (it is not "in a container").
        if not (mnt_ns and self._self_mnt and mnt_ns != self._self_mnt):
            return None
        other_root = self._has_other_root(pid, mnt_ns)
        if cgroup.get("container_runtime") or other_root:
            return {
                "id": cgroup.get("container_id"),
                "runtime": cgroup.get("container_runtime"),
                "mnt_ns": mnt_ns,
            }
        return None

    def _has_other_root(self, pid: str, mnt_ns: str) -> bool:
        """Whether the root of a process in another mount namespace is another directory than
        ours; the same for every process of that namespace with the same root link."""
        root = self._safe(self.reader.readlink, pid, "root")
        key = (mnt_ns, root) if root else None
        if key is not None and key in self._other_root:
            return self._other_root[key]
        try:
            st = self.reader.stat(pid, "root")
            other = (st.st_dev, st.st_ino) != self._root_identity()
        except OSError:
            return False
        if key is not None:
            self._other_root[key] = other
        return other

    def _stale(
        self, pid: str, lib: dict[str, Any], mnt_ns: str | None, root: str | None
    ) -> tuple[bool, str | None, str | None]:
        if lib["deleted"]:
            return True, "deleted", None
        # chrooted processes share our mount namespace but not our root: key on both
        key = (mnt_ns or pid, root or pid, lib["path"])
        cached = self._stat_cache.get(key)
        if cached is None:
            cached = self._stat_mapped_path(pid, lib["path"], mnt_ns)
            if mnt_ns and root:
                self._stat_cache[key] = cached
        if isinstance(cached, str):
            return False, None, cached
        if cached[0] != lib["inode"]:
            return True, "inode_mismatch", None
        return False, None, None

    def _stat_mapped_path(self, pid: str, path: str, mnt_ns: str | None) -> tuple[int, int] | str:
        """stat the mapped path as the process sees it (through /proc/PID/root). A chrooted
        process of our own mount namespace mapped its libraries before chroot(): the maps
        path is then valid from our root, not from its root, and is stat'ed directly."""
        try:
            st = self.reader.stat(pid, "root", path.lstrip("/"))
            return (st.st_ino, st.st_dev)
        except OSError as exc:
            error = f"stat failed: {exc.strerror or exc}"
        if self._self_mnt is None:
            self._self_mnt = self._safe(self.reader.readlink, self.self_pid, "ns", "mnt") or ""
        if mnt_ns and mnt_ns == self._self_mnt:
            try:
                st = self.reader.stat_host(path)
                return (st.st_ino, st.st_dev)
            except OSError:
                pass
        return error

    def _sockets(self, pid: str) -> list[dict[str, Any]]:
        """Listening sockets of a process, cheapest test first, per network namespace:

        1. ``/proc/PID/net/sockstat{,6}`` (a counter read): a namespace without any TCP or UDP
           socket in use has no listening socket; its processes' fds are never listed.
        2. The socket tables (``/proc/PID/net/tcp`` walks the whole hash table, milliseconds
           per read on a busy host) are read once per namespace, when a process holding a
           socket is met or once the namespace has many processes mapping OpenSSL. A table
           without listening sockets spares the fd listing of every later process there.
        """
        net_ns = self._safe(self.reader.readlink, pid, "ns", "net") or f"pid:{pid}"
        table = self._net_cache.get(net_ns)
        if table is not None and not table:
            return []
        if table is None:
            if not self._may_listen(pid, net_ns):
                self._net_cache[net_ns] = {}
                return []
            seen = self._net_seen.get(net_ns, 0) + 1
            self._net_seen[net_ns] = seen
            if seen >= NET_TABLE_AFTER:
                table = self._net_table(pid, net_ns)
                if not table:
                    return []
        inodes = self._socket_inodes(pid)
        if not inodes:
            return []
        if table is None:
            table = self._net_table(pid, net_ns)
        found = [table[i] for i in inodes if i in table]
        found.sort(key=lambda s: (s["proto"], s["port"], s["address"]))
        return [dict(s) for s in found]

    def _socket_inodes(self, pid: str) -> set[int]:
        try:
            fds = self.reader.list_fds(pid)
        except OSError:
            return set()
        readlink = self.reader.readlink
        inodes = set()
        for fd in fds:
            try:
                target = readlink(pid, "fd", fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                try:
                    inodes.add(int(target[8:-1]))
                except ValueError:
                    continue
        return inodes

    def _may_listen(self, pid: str, net_ns: str) -> bool:
        """False only when sockstat says no TCP/UDP socket of the namespace is in use."""
        busy = self._net_busy.get(net_ns)
        if busy is None:
            busy = False
            for name, required in (("sockstat", True), ("sockstat6", False)):
                try:
                    text = self.reader.read_text(pid, "net", name)
                except OSError as exc:
                    if required or exc.errno not in _GONE:
                        busy = True
                    continue
                counts = sockstat_in_use(text)
                busy = busy or counts is None or any(counts.values())
            self._net_busy[net_ns] = busy
        return busy

    def _net_table(self, pid: str, net_ns: str) -> dict[int, dict[str, Any]]:
        if net_ns not in self._net_cache:
            table: dict[int, dict[str, Any]] = {}
            for proto in ("tcp", "tcp6", "udp", "udp6"):
                try:
                    text = self.reader.read_text(pid, "net", proto)
                except OSError:
                    continue
                table.update(parse_net_table(text, proto))
            self._net_cache[net_ns] = table
        return self._net_cache[net_ns]

    def _identity(self, pid: str) -> tuple[str | None, int | None, int | None] | None:
        """(comm, ppid, uid) from ``/proc/PID/stat`` and the owner of ``/proc/PID``.

        The owner is the process's uid only for a dumpable process of our user namespace. A
        non-dumpable process (after setuid, e.g. nginx workers) shows the root of its user
        namespace instead: 0 in ours, the mapped root uid in a rootless container's. So
        ``status`` is read for the real uid when the owner is 0 or the process is in another
        (or an unknown) user namespace. None: the process is gone."""
        stat_text = self._safe(self.reader.read_text, pid, "stat")
        fields = _stat_fields(stat_text) if stat_text else None
        if fields is None:
            return None
        comm, ppid = fields
        uid = self._safe(self.reader.owner, pid)
        if uid == 0 or uid is None or not self._same_user_ns(pid):
            status = _status_fields(self._safe(self.reader.read_text, pid, "status") or "")
            if not status:
                return None
            try:
                uid = int(status.get("Uid", "").split()[0])
            except (ValueError, IndexError):
                uid = None
        return comm, ppid, uid

    def _same_user_ns(self, pid: str) -> bool:
        if self._self_user_ns is None:
            self._self_user_ns = self._safe(self.reader.readlink, self.self_pid, "ns", "user") or ""
        user_ns = self._safe(self.reader.readlink, pid, "ns", "user")
        return bool(user_ns and user_ns == self._self_user_ns)

    def _cgroup(self, text: str | None) -> dict[str, Any]:
        text = text or ""
        parsed = self._cgroup_cache.get(text)
        if parsed is None:
            parsed = parse_cgroup(text)
            self._cgroup_cache[text] = parsed
        return dict(parsed)

    def _describe(self, pid: str, maps: bytes) -> dict[str, Any] | None:
        libs = _mappings_cached(_candidate_lines_bytes(maps), self._line_cache)
        if not libs:
            return None
        identity = self._identity(pid)
        if identity is None:
            # process exited between reading maps and stat
            return None
        comm, ppid, uid = identity
        cmdline_raw = self._safe(self.reader.read_bytes, pid, "cmdline") or b""
        cmdline = [a.decode("utf-8", "replace") for a in cmdline_raw.split(b"\x00") if a]
        mnt_ns = self._safe(self.reader.readlink, pid, "ns", "mnt")
        cgroup = self._cgroup(
            self._safe(self.reader.read_text, pid, "cgroup") if self._wants_cgroup(mnt_ns) else None
        )
        exe = self._safe(self.reader.readlink, pid, "exe")
        process = {
            "pid": int(pid),
            "ppid": ppid,
            "uid": uid,
            "user": _user_name(uid, self._uid_cache) if uid is not None else None,
            "exe": exe[: -len(DELETED)] if exe and exe.endswith(DELETED) else exe,
            "exe_deleted": bool(exe and exe.endswith(DELETED)),
            "comm": comm,
            "cmdline": cmdline,
            "cgroup": cgroup["path"],
            "container": self._container(pid, mnt_ns, cgroup),
            "service": cgroup["service"],
            "service_source": "systemd" if cgroup["service"] else "none",
            "user_service": cgroup["user_service"],
            "master_pid": None,
            "listening": self._sockets(pid) if self.listening else [],
            "libraries": [],
            "stale": False,
        }
        # the root link matters only for the inode check of libraries that are not deleted
        root = (
            self._safe(self.reader.readlink, pid, "root")
            if any(not lib["deleted"] for lib in libs)
            else None
        )
        for lib in libs:
            stale, reason, check_error = self._stale(pid, lib, mnt_ns, root)
            entry = {
                "path": lib["path"],
                "kind": lib["kind"],
                "inode": lib["inode"],
                "deleted": lib["deleted"],
                "stale": stale,
                "stale_reason": reason,
                "build_id": None,
                "version_text": None,
                "package_version": None,
            }
            if check_error:
                self._check_errors.append(f"{pid} {lib['path']}: {check_error}")
            # where the file's first page is mapped, for reading a deleted copy; not returned
            self._ranges[id(entry)] = (lib["dev"], lib["first_range"])
            process["libraries"].append(entry)
            process["stale"] = process["stale"] or stale
        return process

    def _content_of_mapped(self, processes: list[dict[str, Any]]) -> None:
        """Build-id/version of deleted copies via /proc/PID/map_files (needs CAP_SYS_ADMIN).

        Each deleted file (device, inode) is read once; when a process exits before its turn,
        the next process mapping the same file is tried (at most three attempts).
        """
        if self.elf_reader is None:
            return
        cache: dict[tuple[Any, int], dict[str, Any]] = {}
        attempts: dict[tuple[Any, int], int] = {}
        unknown = 0
        for proc in processes:
            for lib in proc["libraries"]:
                dev, first_range = self._ranges.get(id(lib), (None, None))
                if not lib["deleted"] or not first_range:
                    continue
                key = (dev, lib["inode"])
                if key not in cache and attempts.get(key, 0) < 3:
                    attempts[key] = attempts.get(key, 0) + 1
                    info = self.elf_reader(
                        self.reader.path(str(proc["pid"]), "map_files", first_range)
                    )
                    if not info.get("error"):
                        cache[key] = info
                info = cache.get(key)
                if info is None:
                    unknown += 1
                    continue
                lib["build_id"] = info.get("build_id")
                texts = info.get("version_texts") or []
                lib["version_text"] = texts[0] if texts else None
        if unknown:
            self.warnings.append(
                f"content of {unknown} deleted library mapping(s) not readable through "
                "/proc/PID/map_files (needs root with CAP_SYS_ADMIN); their build-id is unknown"
            )

    @staticmethod
    def _group_masters(processes: list[dict[str, Any]]) -> None:
        by_pid = {p["pid"]: p for p in processes}
        for proc in processes:
            master = proc
            seen = {proc["pid"]}
            parent = by_pid.get(proc["ppid"])
            while parent is not None and parent["exe"] == proc["exe"] and parent["pid"] not in seen:
                master = parent
                seen.add(parent["pid"])
                parent = by_pid.get(parent["ppid"])
            proc["master_pid"] = master["pid"]

    def scan(self) -> dict[str, Any]:
        processes = []
        for pid, maps in self._candidates():
            if pid == self.self_pid:
                continue
            proc = self._describe(pid, maps)
            if proc is not None:
                processes.append(proc)
        self._group_masters(processes)
        self._content_of_mapped(processes)
        self._ranges.clear()
        if self._check_errors:
            self.warnings.append(
                f"inode check skipped for {len(self._check_errors)} mapped librar(y/ies), "
                f"first: {self._check_errors[0]}"
            )
        processes.sort(key=lambda p: p["pid"])
        return {
            "processes": processes,
            "unreadable": sorted(self.unreadable, key=lambda u: u["pid"]),
            "warnings": self.warnings,
            "pids_seen": self.pids_seen,
        }
