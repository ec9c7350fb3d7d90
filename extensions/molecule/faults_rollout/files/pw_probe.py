# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent probe of a faults_rollout test host (nothing from the collection): prints one
JSON object with the installed OpenSSL package versions (dpkg-query), what `dpkg --audit`
says, the processes that map a deleted libssl/libcrypto (/proc/<pid>/maps), the nginx master
and the pw-tlsd daemon with the OpenSSL libraries each maps, a real TLS exchange with each
service on the host's own 127.0.0.1 (the host's `openssl s_client`), SHA-256 checksums of the
configuration files the faults touch, and the rollback points on the host.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess

PACKAGES = ["libssl3", "openssl"]
PORTS = [443, 8443, 9443]
PIDFILES = {"nginx": "/run/nginx.pid", "pw_tlsd": "/run/pw-tlsd.pid"}
CONFIGS = [
    "/etc/nginx/nginx.conf",
    "/etc/nginx/sites-available/pw-443",
    "/etc/nginx/sites-available/pw-8443",
    "/etc/default/pw-tlsd",
    "/etc/init.d/pw-tlsd",
    "/etc/ssl/openssl.cnf",
]
ROLLBACK_DIR = "/var/lib/patchwise-openssl/rollback"
OPENSSL_LIB = re.compile(r"(/\S*/lib(?:ssl|crypto)\.so[^ ]*)( \(deleted\))?$")


def run(argv: list[str], data: bytes = b"") -> tuple[int, str, str]:
    # fixed argv lists of this file only
    out = subprocess.run(argv, input=data, capture_output=True, timeout=20, check=False,  # noqa: S603
                         env=dict(os.environ, LC_ALL="C"))
    return (out.returncode, out.stdout.decode("utf-8", "replace"),
            out.stderr.decode("utf-8", "replace"))


def versions() -> dict[str, str]:
    _rc, out, _err = run(["dpkg-query", "-W", "-f=${Package} ${Version}\n", *PACKAGES])
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def audit() -> str:
    rc, out, err = run(["dpkg", "--audit"])
    return (out + err).strip() or ("" if rc == 0 else f"rc {rc}")


def mapped(pid: str) -> list[dict[str, object]]:
    libs: dict[str, bool] = {}
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = OPENSSL_LIB.search(line.rstrip("\n"))
                if match:
                    libs[match.group(1)] = libs.get(match.group(1), False) or bool(match.group(2))
    except OSError:
        pass
    return [{"path": path, "deleted": deleted} for path, deleted in sorted(libs.items())]


def comm(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


def daemon(pidfile: str) -> dict[str, object]:
    """The process of a pid file: its pid, whether it runs, the OpenSSL libraries it maps."""
    try:
        with open(pidfile, encoding="utf-8") as handle:
            pid = handle.read().strip()
    except OSError:
        return {"pid": None, "running": False, "libs": []}
    running = pid.isdigit() and os.path.exists(f"/proc/{pid}/maps")
    return {"pid": int(pid) if pid.isdigit() else None, "running": running,
            "libs": mapped(pid) if running else []}


def exchange(port: int) -> str:
    """The negotiated protocol of a request answered with status 200, else why it failed."""
    rc, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", "-brief", "-ign_eof"],
                       b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
    match = re.search(r"^Protocol version: (\S+)$", err, re.M)
    if rc == 0 and match and re.match(r"HTTP/1\.[01] 200 ", out):
        return match.group(1)
    return f"failed: rc {rc}, {out[:40]!r}, {err[-160:]!r}"


def checksum(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def main() -> None:
    stale = {}
    for maps in glob.glob("/proc/[0-9]*/maps"):
        pid = maps.split("/")[2]
        if any(lib["deleted"] for lib in mapped(pid)):
            stale[int(pid)] = comm(pid)
    print(json.dumps({
        "versions": versions(),
        "audit": audit(),
        "stale_pids": sorted(stale),
        "stale": {str(pid): name for pid, name in sorted(stale.items())},
        "nginx": daemon(PIDFILES["nginx"]),
        "pw_tlsd": daemon(PIDFILES["pw_tlsd"]),
        "tls": {str(port): exchange(port) for port in PORTS},
        "configs": {path: checksum(path) for path in CONFIGS},
        "rollback_points": sorted(os.listdir(ROLLBACK_DIR)) if os.path.isdir(ROLLBACK_DIR)
        else [],
    }))


if __name__ == "__main__":
    main()
