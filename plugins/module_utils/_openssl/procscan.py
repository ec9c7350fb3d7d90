# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pass over /proc: which processes map libssl/libcrypto, and is that copy stale?

Cost model: every ``/proc/PID/maps`` is read exactly once and tested with two substring checks
on the raw bytes; everything else is done only for the processes that map an OpenSSL library,
and as little as the result needs: ``status`` (comm, ppid and the real uid in one read),
``cmdline``, ``exe``, one ``stat`` of the root directory; the cgroup file only where it can
name a systemd unit or a container; the mount namespace only for processes with another root,
a container cgroup or a library that is not deleted; the fd links (without listing the fd
directory where the kernel reports the fd count) and, for socket holders only, the network
namespace. Results shared by identical processes are computed once: the parse of each maps
line (less its address), the ``stat`` of a mapped path per (mount namespace, root), the socket
table per network namespace, the parse of each cgroup text, user names.

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
# /proc files the kernel hands over whole in one read when the buffer is large enough (one
# seq_file record, or cmdline's page loop): a short read is the end, no read to confirm it.
# Not maps or the socket tables: their reads stop at a page of records.
_ONE_READ = frozenset(("status", "cmdline", "stat", "comm", "cgroup"))
TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"
# fd tables up to this size are read as links 0..n-1 when the kernel reports the count
DENSE_FDS = 64
# bound of every parent-chain walk
MAX_DEPTH = 64


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
    # the kernel appends " (deleted)" to the path; split() ate the blank of a bare marker
    deleted = path.endswith(DELETED) or path == DELETED.lstrip()
    if deleted:
        path = path[: -len(DELETED)] if path.endswith(DELETED) else ""
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
            if len(port_hex) != 4:  # the kernel prints a port as exactly 4 hex digits
                continue
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
            if not chunk or (len(chunk) < _READ_SIZE and parts[-1] in _ONE_READ):
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

    def fd_count(self, pid: str) -> int:
        """Open fds of a process: the size of ``/proc/PID/fd`` (Linux 6.2 and later; 0 on older
        kernels)."""
        return os.stat(f"{self.root}/{pid}/fd").st_size

    def list_fds(self, pid: str) -> list[str]:
        return os.listdir(f"{self.root}/{pid}/fd")


_HEX_RANGE = re.compile(rb"[0-9a-f]+-[0-9a-f]+")
_MISSING = object()


def _line_info(raw: bytes) -> tuple[str, tuple[Any, ...] | None] | None:
    """(address range, info or None) of one raw maps line, parsed with :func:`parse_maps_line`
    (None: malformed)."""
    try:
        entry = parse_maps_line(raw.decode("utf-8", "replace"))
    except ParseError:
        return None
    kind = library_kind(entry["path"])
    if kind is None or not entry["path"].startswith("/"):
        return entry["range"], None
    return entry["range"], (
        entry["path"],
        kind,
        entry["inode"],
        entry["dev"],
        entry["deleted"],
        entry["offset"] == 0,
    )


def _mapping_of_line(
    raw: bytes, cache: dict[bytes, tuple[Any, ...] | None]
) -> tuple[str, tuple[Any, ...]] | None:
    """(address range, (path, kind, inode, dev, deleted, offset is zero)) of one raw maps line
    naming an OpenSSL library, or None; the same answer as :func:`parse_maps_line` plus
    :func:`library_kind`. Identical processes map the same files at the same offsets, only the
    addresses differ: behind a well-formed address the parse of the rest of the line is
    cached, keyed by its raw bytes (nothing decoded again)."""
    space = raw.find(b" ")
    if space <= 0 or not _HEX_RANGE.fullmatch(raw, 0, space):
        parsed = _line_info(raw)
        if parsed is None or parsed[1] is None:
            return None
        return parsed[0], parsed[1]
    rest = raw[space:]
    info = cache.get(rest, _MISSING)
    if info is _MISSING:
        parsed = _line_info(raw)
        info = parsed[1] if parsed is not None else None
        cache[rest] = info
    if info is None:
        return None
    return raw[:space].decode("ascii"), info


def _mappings_cached(
    lines: list[bytes], cache: dict[bytes, tuple[Any, ...] | None]
) -> list[dict[str, Any]]:
    """:func:`openssl_mappings` over raw candidate lines, with the per-line parse cache."""
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


def _candidate_lines_bytes(data: bytes) -> list[bytes]:
    """Raw lines of a maps text naming ``/libssl`` or ``/libcrypto``, in file order."""
    spans: set[tuple[int, int]] = set()
    size = len(data)
    for anchor in (b"/libssl", b"/libcrypto"):
        pos = data.find(anchor)
        while pos != -1:
            end = data.find(b"\n", pos)
            if end == -1:
                end = size
            spans.add((data.rfind(b"\n", 0, pos) + 1, end))
            pos = data.find(anchor, end)
    return [data[start:end] for start, end in sorted(spans)]


def _stat_ppid_session(text: str) -> tuple[int, int] | None:
    """(ppid, session id) of a ``/proc/PID/stat`` text; comm may hold spaces and parentheses."""
    end = text.rfind(")")
    if end == -1:
        return None
    rest = text[end + 2 :].split(None, 4)
    if len(rest) < 4 or not (rest[1] + rest[3]).isascii() or not rest[1].isdigit():
        return None
    if not rest[3].isdigit() or len(rest[1]) > 10 or len(rest[3]) > 10:  # pids: 10 digits at most
        return None
    return int(rest[1]), int(rest[3])


def _unescape_name(raw: bytes) -> bytes:
    """``status`` prints a newline in comm as ``\\n`` and a backslash as ``\\\\``."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        char = raw[pos : pos + 1]
        if char == b"\\" and raw[pos + 1 : pos + 2] in (b"n", b"\\"):
            out += b"\n" if raw[pos + 1 : pos + 2] == b"n" else b"\\"
            pos += 2
            continue
        out += char
        pos += 1
    return bytes(out)


def _status_number(data: bytes, key: bytes) -> int | None:
    """First number after ``key`` (``b"\\nPPid:"``) in a ``/proc/PID/status`` text."""
    pos = data.find(key)
    if pos == -1:
        return None
    start = pos + len(key)
    end = data.find(b"\n", start)
    fields = data[start : end if end != -1 else None].split()
    # ids have 10 digits at most (int() refuses thousands)
    return int(fields[0]) if fields and fields[0].isdigit() and len(fields[0]) <= 10 else None


def _status_identity(data: bytes) -> tuple[str, int | None, int | None] | None:
    """(comm, ppid, real uid) from a ``/proc/PID/status`` text, looked up in the raw bytes.

    ``status`` gives the real uid whatever the process did (a non-dumpable process, e.g. an
    nginx worker after ``setuid``, has a root-owned ``/proc/PID``; one in a rootless
    container's user namespace shows that namespace's root as owner). None when the text names
    no process (it exited)."""
    if not data.startswith(b"Name:"):
        return None
    end = data.find(b"\n")
    name = data[5 : end if end != -1 else None]
    if name[:1] == b"\t":
        name = name[1:]
    if b"\\" in name:
        name = _unescape_name(name)
    return (
        name.decode("utf-8", "replace"),
        _status_number(data, b"\nPPid:"),
        _status_number(data, b"\nUid:"),
    )


def _user_name(uid: int, cache: dict[int, str | None]) -> str | None:
    if uid not in cache:
        try:
            import pwd

            cache[uid] = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            cache[uid] = None
    return cache[uid]


class Scanner:
    """Scan /proc once. ``scan()`` returns processes, unreadable processes and warnings.

    The scanning process itself is never reported, nor — with ``own_tree`` (the default) — the
    rest of the process tree it belongs to: the processes it started (interpreter probes,
    package queries, ``openssl`` runs), and its ancestors within its session below the session
    leader (``sh -c``, ``sudo`` of become, on the local connection the Ansible worker and
    ``ansible-playbook`` itself) with their other descendants. Those are short-lived, belong to
    this run, and must not be planned for a restart. Processes that exited before the scan
    finished are kept with ``exited: true``.
    """

    def __init__(
        self,
        reader: ProcReader | None = None,
        listening: bool = True,
        self_pid: int | None = None,
        elf_reader: Callable[[str], dict[str, Any]] | None = None,
        systemd: bool | None = None,
        own_tree: bool = True,
    ) -> None:
        self.reader = reader or ProcReader()
        self.listening = listening
        self.self_pid = str(self_pid if self_pid is not None else os.getpid())
        self.elf_reader = elf_reader
        self.systemd = systemd
        self.own_tree = own_tree
        self.warnings: list[str] = []
        self.unreadable: list[dict[str, Any]] = []
        self.own_excluded: list[int] = []
        self._stat_cache: dict[tuple[str, tuple[int, int], str], tuple[int, int] | str] = {}
        self._net_cache: dict[str, dict[int, dict[str, Any]]] = {}
        self._uid_cache: dict[int, str | None] = {}
        self._root_ident: tuple[int, int] | None = None
        self._root_known = False
        self._ranges: dict[int, tuple[Any, str | None]] = {}
        self._check_errors: list[str] = []
        self._self_mnt: str | None = None
        self._line_cache: dict[bytes, tuple[Any, ...] | None] = {}
        self._cgroup_cache: dict[str, dict[str, Any]] = {}
        self.pids_seen = 0

    # -- phase 1: the cheap pass ---------------------------------------------------------
    def _pids(self) -> list[str]:
        try:
            entries = self.reader.listdir()
        except OSError as exc:
            self.warnings.append(f"cannot list {self.reader.root}: {exc.strerror or exc}")
            return []
        return [pid for pid in entries if pid.isdigit()]

    def _examine(self, pids: list[str], own: set[int], out: list[dict[str, Any]]) -> None:
        """Every ``maps`` of ``pids`` read once; the processes naming ``/libssl`` or
        ``/libcrypto`` there are described (phase 2) and appended to ``out``. (Reading /proc
        in several threads was measured and dropped: on a busy host the threads wait for each
        other and for the interpreter lock, and cost more CPU.)"""
        read = self.reader.read_bytes
        for pid in pids:
            try:
                data = read(pid, "maps")
            except OSError as exc:
                if exc.errno in _DENIED:
                    self._unreadable(pid, "maps: permission denied")
                elif exc.errno not in _GONE:
                    self._unreadable(pid, f"maps: {exc.strerror or exc}")
                continue
            if b"/libssl" not in data and b"/libcrypto" not in data:
                continue
            if int(pid) in own:
                if pid != self.self_pid:
                    self.own_excluded.append(int(pid))
                continue
            proc = self._describe(pid, data)
            if proc is not None:
                out.append(proc)

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
        """(device, inode) of our own root directory."""
        if not self._root_known:
            self._root_known = True
            self._root_ident = self._root_of(self.self_pid)
            if self._root_ident is None:
                try:
                    st = os.stat("/")
                    self._root_ident = (st.st_dev, st.st_ino)
                except OSError:
                    self._root_ident = None
        return self._root_ident

    def _root_of(self, pid: str) -> tuple[int, int] | None:
        """(device, inode) of the root directory of a process (one ``stat``)."""
        try:
            st = self.reader.stat(pid, "root")
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _own_mnt(self) -> str:
        if self._self_mnt is None:
            self._self_mnt = self._safe(self.reader.readlink, self.self_pid, "ns", "mnt") or ""
        return self._self_mnt

    def _under_systemd(self) -> bool:
        if self.systemd is None:
            comm = self._safe(self.reader.read_text, "1", "comm")
            self.systemd = (comm or "").strip() == "systemd"
        return self.systemd

    def _stale(
        self, pid: str, lib: dict[str, Any], mnt_ns: str | None, root: tuple[int, int] | None
    ) -> tuple[bool, str | None, str | None]:
        if lib["deleted"]:
            return True, "deleted", None
        # the same path names the same file for every process of one mount namespace with
        # the same root directory (chrooted processes share our namespace, not our root)
        key = (mnt_ns, root, lib["path"]) if mnt_ns and root else None
        cached = self._stat_cache.get(key) if key else None
        if cached is None:
            cached = self._stat_mapped_path(pid, lib["path"], mnt_ns)
            if key:
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
        if mnt_ns and mnt_ns == self._own_mnt():
            try:
                st = self.reader.stat_host(path)
                return (st.st_ino, st.st_dev)
            except OSError:
                pass
        return error

    def _sockets(self, pid: str) -> list[dict[str, Any]]:
        """Listening TCP/UDP sockets of a process: its socket fds matched against the socket
        tables of its network namespace. The namespace link is read and the tables are parsed
        (once per namespace, a protocol only when sockstat counts a socket of it) only for
        processes that hold a socket at all."""
        inodes = self._socket_inodes(pid)
        if not inodes:
            return []
        net_ns = self._safe(self.reader.readlink, pid, "ns", "net") or f"pid:{pid}"
        table = self._net_table(pid, net_ns)
        found = [table[i] for i in inodes if i in table]
        found.sort(key=lambda s: (s["proto"], s["port"], s["address"]))
        return [dict(s) for s in found]

    def _fd_targets(self, pid: str) -> list[str]:
        """Targets of every fd link. Where the kernel reports the number of open fds as the
        size of ``/proc/PID/fd`` (Linux 6.2 and later) and they are 0..n-1 — most processes —
        the links are read without listing the directory; otherwise it is listed."""
        readlink = self.reader.readlink
        try:
            count = self.reader.fd_count(pid)
        except OSError:
            count = 0
        if 0 < count <= DENSE_FDS:
            targets = []
            try:
                for fd in range(count):
                    targets.append(readlink(pid, "fd", str(fd)))
                return targets
            except OSError:
                pass  # not numbered 0..n-1 (or changed meanwhile): list them
        try:
            fds = self.reader.list_fds(pid)
        except OSError:
            return []
        targets = []
        for fd in fds:
            try:
                targets.append(readlink(pid, "fd", fd))
            except OSError:
                continue
        return targets

    def _socket_inodes(self, pid: str) -> set[int]:
        inodes = set()
        for target in self._fd_targets(pid):
            if target.startswith("socket:["):
                try:
                    inodes.add(int(target[8:-1]))
                except ValueError:
                    continue
        return inodes

    def _in_use(self, pid: str) -> dict[str, int]:
        """Sockets in use per protocol in the network namespace of ``pid`` (sockstat, a
        counter read); a protocol missing here is read from its table anyway."""
        counts: dict[str, int] = {}
        for name in ("sockstat", "sockstat6"):
            try:
                found = sockstat_in_use(self.reader.read_text(pid, "net", name))
            except OSError:
                continue
            counts.update(found or {})
        return counts

    def _net_table(self, pid: str, net_ns: str) -> dict[int, dict[str, Any]]:
        if net_ns not in self._net_cache:
            table: dict[int, dict[str, Any]] = {}
            # /proc/PID/net/tcp and tcp6 walk the kernel's whole established-connection hash
            # table (milliseconds each, whatever the namespace holds): not read for a protocol
            # with no socket in use
            in_use = self._in_use(pid)
            for proto in ("tcp", "tcp6", "udp", "udp6"):
                if in_use.get(proto.upper()) == 0:
                    continue
                try:
                    text = self.reader.read_text(pid, "net", proto)
                except OSError:
                    continue
                table.update(parse_net_table(text, proto))
            self._net_cache[net_ns] = table
        return self._net_cache[net_ns]

    def _cgroup(self, text: str | None) -> dict[str, Any]:
        """The parse of a cgroup text, shared by every process with that text (read only)."""
        text = text or ""
        parsed = self._cgroup_cache.get(text)
        if parsed is None:
            parsed = parse_cgroup(text)
            self._cgroup_cache[text] = parsed
        return parsed

    def _placement(
        self, pid: str, libs: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any] | None, str | None, tuple[int, int] | None]:
        """(cgroup, container, mount namespace, root identity) of a process.

        The root directory is one ``stat``. The cgroup file can name a unit only under systemd,
        and a container only for a process of another mount namespace with another root: it is
        read in those cases. The mount namespace link is read when the root is not ours, when
        the cgroup names a container runtime, or for the inode check of a library that is not
        deleted (the ``stat`` of a path is shared per mount namespace and root)."""
        root = self._root_of(pid)
        ours = self._root_identity()
        other_root = root is not None and ours is not None and root != ours
        text = self._safe(self.reader.read_text, pid, "cgroup") if self._under_systemd() else None
        cgroup = self._cgroup(text)
        mnt_ns = None
        if (
            root is None
            or other_root
            or cgroup["container_runtime"]
            or any(not lib["deleted"] for lib in libs)
        ):
            mnt_ns = self._safe(self.reader.readlink, pid, "ns", "mnt")
        self_mnt = self._own_mnt() if mnt_ns else None
        # Only a process whose mount namespace is known and differs from ours can be in another
        # container: inside a container every cgroup path names that container, and a process
        # that exits mid-scan leaves no namespace to compare (it is not "in a container").
        if not (mnt_ns and self_mnt and mnt_ns != self_mnt):
            return cgroup, None, mnt_ns, root
        if text is None and (other_root or root is None):
            cgroup = self._cgroup(self._safe(self.reader.read_text, pid, "cgroup"))
        if cgroup["container_runtime"] or other_root:
            container = {
                "id": cgroup["container_id"],
                "runtime": cgroup["container_runtime"],
                "mnt_ns": mnt_ns,
            }
            return cgroup, container, mnt_ns, root
        return cgroup, None, mnt_ns, root

    def _describe(self, pid: str, maps: bytes) -> dict[str, Any] | None:
        libs = _mappings_cached(_candidate_lines_bytes(maps), self._line_cache)
        if not libs:
            return None
        status = self._safe(self.reader.read_bytes, pid, "status")
        identity = _status_identity(status) if status else None
        if identity is None:
            # process exited between reading maps and status
            return None
        comm, ppid, uid = identity
        cmdline_raw = self._safe(self.reader.read_bytes, pid, "cmdline") or b""
        cmdline = [a.decode("utf-8", "replace") for a in cmdline_raw.split(b"\x00") if a]
        exe = self._safe(self.reader.readlink, pid, "exe")
        cgroup, container, mnt_ns, root = self._placement(pid, libs)
        process = {
            "pid": int(pid),
            "ppid": ppid,
            "uid": uid,
            "user": None,  # resolved after the scan, once per uid
            "exe": exe[: -len(DELETED)] if exe and exe.endswith(DELETED) else exe,
            "exe_deleted": bool(exe and exe.endswith(DELETED)),
            "comm": comm,
            "cmdline": cmdline,
            "cgroup": cgroup["path"],
            "container": container,
            "service": cgroup["service"],
            "service_source": "systemd" if cgroup["service"] else "none",
            "user_service": cgroup["user_service"],
            "master_pid": None,
            "listening": self._sockets(pid) if self.listening else [],
            "libraries": [],
            "stale": False,
            "exited": False,
        }
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

    # -- this run's own processes ----------------------------------------------------------
    def _parent_and_session(self, pid: str) -> tuple[int, int] | None:
        text = self._safe(self.reader.read_text, pid, "stat")
        return _stat_ppid_session(text) if text else None

    def _own_ancestors(self) -> set[int]:
        """Our ancestors in our own session, below its leader: ``sh -c`` and ``sudo`` of the
        module run, on the local connection the Ansible worker and ``ansible-playbook``. The
        leader (a login shell, sshd's per-command child, a service's main process) and
        anything above it are not ours."""
        first = self._parent_and_session(self.self_pid)
        if first is None:
            return set()
        pid, session = first
        found: set[int] = set()
        while pid > 1 and pid != session and len(found) < MAX_DEPTH:
            fields = self._parent_and_session(str(pid))
            if fields is None or fields[1] != session:
                break
            found.add(pid)
            pid = fields[0]
        return found

    def _without_own_tree(
        self, processes: list[dict[str, Any]], own: set[int]
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """(kept, dropped pids): the processes of ``own`` and their descendants are dropped
        (parents followed through ``stat`` where a parent maps no OpenSSL itself)."""
        by_pid = {p["pid"]: p for p in processes}
        verdict: dict[int, bool] = dict.fromkeys(own, True)

        def parent_of(pid: int) -> int | None:
            proc = by_pid.get(pid)
            if proc is not None:
                return proc["ppid"]
            fields = self._parent_and_session(str(pid))
            return fields[0] if fields else None

        for proc in processes:
            chain: list[int] = []
            pid: int | None = proc["pid"]
            result = False
            while pid is not None and len(chain) < MAX_DEPTH:
                if pid in verdict:
                    result = verdict[pid]
                    break
                chain.append(pid)
                pid = parent_of(pid)
                if pid is None or pid <= 1:
                    break
            for member in chain:
                verdict[member] = result
        kept = [p for p in processes if not verdict.get(p["pid"])]
        return kept, [p["pid"] for p in processes if verdict.get(p["pid"])]

    def _mark_exited(self, processes: list[dict[str, Any]]) -> None:
        """``exited: true`` for a process that is gone by the end of the scan (one listing)."""
        try:
            alive = set(self.reader.listdir())
        except OSError:
            return
        for proc in processes:
            proc["exited"] = str(proc["pid"]) not in alive

    def scan(self) -> dict[str, Any]:
        own = self._own_ancestors() if self.own_tree else set()
        own.add(int(self.self_pid))
        pids = self._pids()
        self.pids_seen = len(pids)
        processes: list[dict[str, Any]] = []
        self._examine(pids, own, processes)
        processes.sort(key=lambda p: p["pid"])
        if self.own_tree:
            processes, dropped = self._without_own_tree(processes, own)
            self.own_excluded = sorted(self.own_excluded + dropped)
        for proc in processes:
            if proc["uid"] is not None:
                proc["user"] = _user_name(proc["uid"], self._uid_cache)
        self._group_masters(processes)
        self._content_of_mapped(processes)
        self._ranges.clear()
        if self._check_errors:
            self.warnings.append(
                f"inode check skipped for {len(self._check_errors)} mapped librar(y/ies), "
                f"first: {min(self._check_errors, key=lambda e: int(e.split(' ', 1)[0]))}"
            )
        self._mark_exited(processes)
        return {
            "processes": processes,
            "unreadable": sorted(self.unreadable, key=lambda u: u["pid"]),
            "warnings": self.warnings,
            "pids_seen": self.pids_seen,
            "own_excluded": sorted(self.own_excluded),
        }
