# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent probe of a rollout test host (nothing from the collection): prints one JSON
object with the installed OpenSSL package versions (dpkg-query), the processes that map a
deleted libssl/libcrypto (/proc/<pid>/maps), the nginx master and the OpenSSL libraries it
maps, a real TLS handshake with each site on the host's own 127.0.0.1 (the host's openssl),
the rollback points on the host and the load client's counters.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess

PACKAGES = ["libssl3", "openssl"]
PORTS = [443, 8443]
ROLLBACK_DIR = "/var/lib/patchwise-openssl/rollback"
LOAD = "/run/pw-tls-load.json"
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


def handshake(port: int) -> str:
    """The negotiated protocol of a full HTTPS request answered 200, else why it failed."""
    rc, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", "-brief", "-ign_eof"],
                       b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
    match = re.search(r"^Protocol version: (\S+)$", err, re.M)
    if rc == 0 and match and out.startswith("HTTP/1.1 200"):
        return match.group(1)
    return f"failed: rc {rc}, {out[:40]!r}, {err[-120:]!r}"


def main() -> None:
    stale = []
    for maps in glob.glob("/proc/[0-9]*/maps"):
        pid = maps.split("/")[2]
        if any(lib["deleted"] for lib in mapped(pid)):
            stale.append(int(pid))
    try:
        with open("/run/nginx.pid", encoding="utf-8") as handle:
            master = handle.read().strip()
    except OSError:
        master = ""
    try:
        with open(LOAD, encoding="utf-8") as handle:
            load = json.load(handle)
    except (OSError, ValueError):
        load = None
    print(json.dumps({
        "versions": versions(),
        "stale_pids": sorted(stale),
        "nginx_master": int(master) if master.isdigit() else None,
        "nginx_libs": mapped(master) if master.isdigit() else [],
        "tls": {str(port): handshake(port) for port in PORTS},
        "rollback_points": sorted(os.listdir(ROLLBACK_DIR)) if os.path.isdir(ROLLBACK_DIR)
        else [],
        "load": load,
    }))


if __name__ == "__main__":
    main()
