# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent probe of a fault-test host (nothing from the collection): prints one JSON
object with the OpenSSL packages' versions and dpkg states (dpkg-query), `dpkg --audit`, the
processes that map a deleted libssl/libcrypto (/proc/<pid>/maps), the nginx master and the
libraries it maps, an `openssl s_client` handshake with 127.0.0.1:443 (the host's own loopback),
the sha256 of the configuration files, the rollback points on the host (their manifests'
versions and the sha256 of each manifest), anything else in the rollback directory, and
whether an apt or dpkg process is running.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import subprocess

PACKAGES = ["libssl3", "openssl"]
ROLLBACK_DIR = "/var/lib/patchwise-openssl/rollback"
CONFIGS = ["/etc/ssl/openssl.cnf", "/etc/nginx/nginx.conf", "/etc/nginx/sites-enabled/pw-443"]
OPENSSL_LIB = re.compile(r"(/\S*/lib(?:ssl|crypto)\.so[^ ]*)( \(deleted\))?$")


def run(argv: list[str], data: bytes = b"") -> tuple[int, str, str]:
    # fixed argv lists of this file only
    out = subprocess.run(argv, input=data, capture_output=True, timeout=20, check=False,  # noqa: S603
                         env=dict(os.environ, LC_ALL="C"))
    return (out.returncode, out.stdout.decode("utf-8", "replace"),
            out.stderr.decode("utf-8", "replace"))


def packages() -> tuple[dict[str, str], dict[str, str]]:
    _rc, out, _err = run(["dpkg-query", "-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n",
                          *PACKAGES])
    versions, states = {}, {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3:
            versions[fields[0]], states[fields[0]] = fields[1], fields[2]
    return versions, states


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


def handshake() -> str:
    """The negotiated protocol of a full HTTPS request answered 200, else why it failed."""
    rc, out, err = run(["openssl", "s_client", "-connect", "127.0.0.1:443",
                        "-servername", "localhost", "-brief", "-ign_eof"],
                       b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
    match = re.search(r"^Protocol version: (\S+)$", err, re.M)
    if rc == 0 and match and out.startswith("HTTP/1.1 200"):
        return match.group(1)
    return f"failed: rc {rc}, {out[:40]!r}, {err[-160:]!r}"


def sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def rollback_points() -> tuple[dict[str, dict[str, object]], list[str]]:
    points: dict[str, dict[str, object]] = {}
    other: list[str] = []
    if not os.path.isdir(ROLLBACK_DIR):
        return points, other
    for entry in sorted(os.listdir(ROLLBACK_DIR)):
        path = os.path.join(ROLLBACK_DIR, entry, "manifest.json")
        if not os.path.isfile(path):
            other.append(entry)
            continue
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        points[entry] = {
            "versions": {p["name"]: p["version"] for p in manifest.get("packages", [])},
            "sha256": sha256(path),
            "files": sorted(os.listdir(os.path.join(ROLLBACK_DIR, entry))),
            "restores": len(manifest.get("restores") or []),
        }
    return points, other


def busy() -> list[str]:
    names = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm, encoding="utf-8") as handle:
                name = handle.read().strip()
        except OSError:
            continue
        if name in ("apt-get", "apt", "dpkg", "http", "file"):
            names.append(name)
    return sorted(names)


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
    versions, states = packages()
    audit_rc, audit_out, audit_err = run(["dpkg", "--audit"])
    points, other = rollback_points()
    print(json.dumps({
        "versions": versions,
        "states": states,
        "audit": (audit_out + audit_err).strip() or ("" if audit_rc == 0 else f"rc {audit_rc}"),
        "stale_pids": sorted(stale),
        "nginx_master": int(master) if master.isdigit() else None,
        "nginx_libs": mapped(master) if master.isdigit() else [],
        "tls": handshake(),
        "configs": {path: sha256(path) for path in CONFIGS},
        "rollback_points": points,
        "rollback_other": other,
        "busy": busy(),
    }))


if __name__ == "__main__":
    main()
