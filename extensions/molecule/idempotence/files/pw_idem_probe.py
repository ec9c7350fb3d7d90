# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent probe of the idempotence test host (nothing from the collection).

Prints one JSON object. ``state`` is everything a role could change on this host, compared
before and after each step: the installed OpenSSL packages (dpkg-query), sha256 of dpkg's status
file, of apt's package lists and of every file under the trees the roles touch, and the
long-running processes (the descendants of PID 1, each with its start time from
/proc/<pid>/stat, so a restart shows even when a pid is reused) with the OpenSSL libraries
each maps and whether those were deleted (replaced) underneath it. ``tls`` is the result of a
real handshake with 127.0.0.1:443 (the host's python3 ssl, i.e. the host's libssl); it is
reported, not compared.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess

TREES = [
    "/etc/nginx",
    "/etc/ssl",
    "/var/lib/patchwise-openssl",
    "/var/lib/prometheus",
    "/usr/lib/ssl",
]
FILES = ["/var/lib/dpkg/status", "/etc/ld.so.cache"]
LIBRARIES = "/usr/lib/*/lib{}.so*"
LISTS = "/var/lib/apt/lists"
OPENSSL_LIB = re.compile(r"(/\S*/lib(?:ssl|crypto)\.so[^ ]*)( \(deleted\))?$")


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return digest.hexdigest()


def tree(root: str) -> dict[str, str]:
    found = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            found[path] = ("symlink -> " + os.readlink(path)) if os.path.islink(path) \
                else sha256(path)
    return found


def versions() -> dict[str, str]:
    fmt = "${db:Status-Abbrev}|${source:Package}|${Package}|${Version}\n"
    # a fixed argv, no shell
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,  # noqa: S603, S607
                         check=False, timeout=60, env=dict(os.environ, LC_ALL="C")).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return {r[2]: r[3] for r in rows if len(r) == 4 and r[0] == "ii " and r[1] == "openssl"}


def apt_lists() -> str:
    digest = hashlib.sha256()
    for path in sorted(glob.glob(LISTS + "/*")):
        if os.path.isfile(path) and os.path.basename(path) != "lock":
            digest.update(f"{os.path.basename(path)} {sha256(path)}\n".encode())
    return digest.hexdigest()


def stat_fields(pid: str) -> tuple[int, int, str]:
    """(ppid, start time in clock ticks after boot, comm) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19]), comm


def mapped(pid: str) -> list[str]:
    libs = set()
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = OPENSSL_LIB.search(line.rstrip("\n"))
                if match:
                    libs.add(match.group(1) + (" (deleted)" if match.group(2) else ""))
    except OSError as exc:
        return [f"unreadable: {exc.strerror}"]
    return sorted(libs)


def processes() -> dict[str, dict[str, object]]:
    """Descendants of PID 1 only: `podman exec` sessions (the probe, Ansible's modules) have
    parent pid 0 and are left out with their children."""
    table = {}
    for path in glob.glob("/proc/[0-9]*"):
        pid = os.path.basename(path)
        try:
            table[pid] = stat_fields(pid)
        except (OSError, ValueError):
            continue
    keep = {"1"}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _start, _comm) in table.items():
            if pid not in keep and str(ppid) in keep:
                keep.add(pid)
                grew = True
    return {
        pid: {"comm": table[pid][2], "start": table[pid][1], "libs": mapped(pid)}
        for pid in sorted(keep, key=int)
        if pid in table
    }


def handshake() -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's self-signed certificate
    try:
        with socket.create_connection(("127.0.0.1", 443), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as tls:
            return str(tls.version())
    except OSError as exc:
        return f"failed: {exc}"


def main() -> None:
    files = {}
    for root in TREES:
        files.update(tree(root))
    for path in FILES + glob.glob(LIBRARIES.format("ssl")) + glob.glob(LIBRARIES.format("crypto")):
        files[path] = sha256(path)
    procs = processes()
    print(json.dumps({
        "state": {
            "versions": versions(),
            "apt_lists": apt_lists(),
            "files": files,
            "processes": procs,
        },
        "stale_pids": sorted(int(p) for p, v in procs.items()
                             if any(lib.endswith("(deleted)") for lib in v["libs"])),
        "tls": handshake(),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
