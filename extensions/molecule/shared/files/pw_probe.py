# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent probe of a molecule test host (nothing from the collection; stdlib only): prints
one JSON object. Always: the installed OpenSSL package versions (dpkg-query) and the processes
that map a deleted libssl/libcrypto (/proc/<pid>/maps: `stale_pids` and `stale`, pid -> comm).
The options add what a scenario checks (each adds one key unless it says otherwise):

  --states              `states`: each package's dpkg state (`ii`, `iF`, ...)
  --audit               `audit`: what `dpkg --audit` says ('' when it is clean)
  --daemon NAME=PIDFILE `NAME`: {pid, running, libs (the OpenSSL libraries it maps)}
  --port PORT           `tls[PORT]`: a real HTTPS request for /healthz on the host's own
                        127.0.0.1:PORT with the host's `openssl s_client`: the negotiated
                        protocol when nginx answers `HTTP/1.1 200`, else why it failed
  --www-port PORT       the same for an `openssl s_server -www` daemon (answers `HTTP/1.0 200`)
  --config PATH         `configs[PATH]`: the file's SHA-256 (null when it cannot be read)
  --rollback-details    `rollback_points` as {point: {versions, sha256 of its manifest, files,
                        restores}} and `rollback_other` (entries without a manifest); without
                        it `rollback_points` is the sorted list of the rollback directory
  --load PATH           `load`: the JSON the load client writes to PATH (null if none)
  --busy                `busy`: the apt/dpkg processes still running
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import subprocess

PACKAGES = ["libssl3", "openssl"]
ROLLBACK_DIR = "/var/lib/patchwise-openssl/rollback"
OPENSSL_LIB = re.compile(r"(/\S*/lib(?:ssl|crypto)\.so[^ ]*)( \(deleted\))?$")
NGINX_OK = "HTTP/1.1 200"
WWW_OK = "HTTP/1.0 200"


def run(argv: list[str], data: bytes = b"") -> tuple[int, str, str]:
    # argv lists of this file only (ports are integers)
    out = subprocess.run(argv, input=data, capture_output=True, timeout=20, check=False,  # noqa: S603
                         env=dict(os.environ, LC_ALL="C"))
    return (out.returncode, out.stdout.decode("utf-8", "replace"),
            out.stderr.decode("utf-8", "replace"))


def packages() -> tuple[dict[str, str], dict[str, str]]:
    """Version and dpkg state (abbreviated) of each package dpkg knows."""
    _rc, out, _err = run(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n",
                          *PACKAGES])
    versions, states = {}, {}
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) == 3:
            versions[fields[0]], states[fields[0]] = fields[1], fields[2].strip()
    return versions, states


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


def exchange(port: int, status: str) -> str:
    """The negotiated protocol of a request answered with `status`, else why it failed."""
    rc, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                        "-servername", "localhost", "-brief", "-ign_eof"],
                       b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
    match = re.search(r"^Protocol version: (\S+)$", err, re.M)
    if rc == 0 and match and out.startswith(status + " "):
        return match.group(1)
    return f"failed: rc {rc}, {out[:40]!r}, {err[-160:]!r}"


def sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def rollback_details() -> tuple[dict[str, dict[str, object]], list[str]]:
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


def load(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def busy() -> list[str]:
    names = []
    for path in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(path, encoding="utf-8") as handle:
                name = handle.read().strip()
        except OSError:
            continue
        if name in ("apt-get", "apt", "dpkg", "http", "file"):
            names.append(name)
    return sorted(names)


def stale() -> dict[int, str]:
    found = {}
    for maps in glob.glob("/proc/[0-9]*/maps"):
        pid = maps.split("/")[2]
        if any(lib["deleted"] for lib in mapped(pid)):
            found[int(pid)] = comm(pid)
    return found


def daemon_arg(text: str) -> tuple[str, str]:
    name, sep, pidfile = text.partition("=")
    if not (sep and name and pidfile):
        raise argparse.ArgumentTypeError(f"NAME=PIDFILE expected, got {text!r}")
    return name, pidfile


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--states", action="store_true")
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--daemon", type=daemon_arg, action="append", default=[])
    parser.add_argument("--port", type=int, action="append", default=[])
    parser.add_argument("--www-port", type=int, action="append", default=[])
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--rollback-details", action="store_true")
    parser.add_argument("--load")
    parser.add_argument("--busy", action="store_true")
    return parser.parse_args(argv)


def probe(args: argparse.Namespace) -> dict[str, object]:
    versions, states = packages()
    found = stale()
    result: dict[str, object] = {"versions": versions}
    if args.states:
        result["states"] = states
    if args.audit:
        result["audit"] = audit()
    result["stale_pids"] = sorted(found)
    result["stale"] = {str(pid): name for pid, name in sorted(found.items())}
    for name, pidfile in args.daemon:
        result[name] = daemon(pidfile)
    ports = [(port, NGINX_OK) for port in args.port] + [(port, WWW_OK) for port in args.www_port]
    if ports:
        result["tls"] = {str(port): exchange(port, status) for port, status in ports}
    if args.config:
        result["configs"] = {path: sha256(path) for path in args.config}
    if args.rollback_details:
        result["rollback_points"], result["rollback_other"] = rollback_details()
    else:
        result["rollback_points"] = (sorted(os.listdir(ROLLBACK_DIR))
                                     if os.path.isdir(ROLLBACK_DIR) else [])
    if args.load:
        result["load"] = load(args.load)
    if args.busy:
        result["busy"] = busy()
    return result


def main() -> None:
    print(json.dumps(probe(parse())))


if __name__ == "__main__":
    main()
