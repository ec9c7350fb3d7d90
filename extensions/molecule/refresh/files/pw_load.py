# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded client load against services on this host's own 127.0.0.1 (test helper).

One thread per target opens NEW connections one after the other: for ``tls`` a TLS handshake
plus one HTTP/1.0 request (success = an ``HTTP/`` status line), for ``ssh`` a TCP connect and the
server's ``SSH-`` banner. Every connection goes to 127.0.0.1 (fixed, not an argument). It stops
when --stop-file appears, and in any case after --max connections per target or --seconds of
wall time (at most 600; each socket operation has a 5 s timeout). The pause between two
connections of a target is --pause-tls / --pause-ssh seconds (defaults 0.01 and 0.05). While
the file <drain-dir>/<name> exists the target is skipped, as a load balancer skips a drained
backend (the scenario's drain hooks create and remove it).

Writes <out>.ready once every target answered once, and <out> (JSON) at the end:
{"started", "ended", "targets": {name: {"port", "kind", "ok", "failed", "skipped_drained",
 "failures": [{"t", "error", "last_ok" (the last success before it)}] (first 200), "first_ok",
 "last_ok"}}}
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import threading
import time

HOST = "127.0.0.1"
TIMEOUT = 5.0
PAUSE = {"tls": 0.01, "ssh": 0.05}
MAX_SECONDS = 600.0
KEEP_FAILURES = 200


def tls_once(port: int, context: ssl.SSLContext) -> None:
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        head = conn.recv(64)
        if not head.startswith(b"HTTP/"):
            raise OSError(f"unexpected answer {head[:32]!r}")


def ssh_once(port: int, _context: ssl.SSLContext) -> None:
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as conn:
        banner = conn.recv(64)
        if not banner.startswith(b"SSH-"):
            raise OSError(f"unexpected banner {banner[:32]!r}")


def worker(target: dict, deadline: float, limit: int, drain_dir: str, stop_file: str,
           out: dict, ready: threading.Event, pause: dict) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    once = tls_once if target["kind"] == "tls" else ssh_once
    stats = out[target["name"]]
    drain_flag = os.path.join(drain_dir, target["name"])
    while (time.time() < deadline and stats["ok"] + stats["failed"] < limit
           and not os.path.exists(stop_file)):
        if os.path.exists(drain_flag):
            stats["skipped_drained"] += 1
            time.sleep(0.05)
            continue
        started = time.time()
        try:
            once(target["port"], context)
        except (OSError, ssl.SSLError) as exc:
            stats["failed"] += 1
            if len(stats["failures"]) < KEEP_FAILURES:
                stats["failures"].append({"t": started, "error": f"{type(exc).__name__}: {exc}",
                                          "last_ok": stats["last_ok"]})
        else:
            stats["ok"] += 1
            stats["first_ok"] = stats["first_ok"] or started
            stats["last_ok"] = started
            ready.set()
        time.sleep(pause[target["kind"]])


def parse_target(text: str) -> dict:
    name, port, kind = text.split(":")
    if kind not in PAUSE:
        raise argparse.ArgumentTypeError(f"kind must be one of {', '.join(PAUSE)}")
    return {"name": name, "port": int(port), "kind": kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max", type=int, default=20000, help="connections per target")
    parser.add_argument("--drain-dir", required=True)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--pause-tls", type=float, default=PAUSE["tls"])
    parser.add_argument("--pause-ssh", type=float, default=PAUSE["ssh"])
    parser.add_argument("targets", nargs="+", type=parse_target, help="name:port:tls|ssh")
    args = parser.parse_args()
    seconds = min(args.seconds, MAX_SECONDS)
    pause = {"tls": max(0.0, args.pause_tls), "ssh": max(0.0, args.pause_ssh)}
    started = time.time()
    deadline = started + seconds
    out = {t["name"]: {"port": t["port"], "kind": t["kind"], "ok": 0, "failed": 0,
                       "skipped_drained": 0, "failures": [], "first_ok": None,
                       "last_ok": None} for t in args.targets}
    events = []
    threads = []
    for target in args.targets:
        event = threading.Event()
        thread = threading.Thread(target=worker, daemon=True,
                                  args=(target, deadline, args.max, args.drain_dir,
                                        args.stop_file, out, event, pause))
        thread.start()
        events.append(event)
        threads.append(thread)
    for event in events:
        event.wait(max(0.0, deadline - time.time()))
    with open(args.out + ".ready", "w", encoding="utf-8") as fh:
        fh.write(f"{time.time()}\n")
    for thread in threads:
        thread.join(max(0.0, deadline - time.time()) + 2 * TIMEOUT)
    result = {"started": started, "ended": time.time(), "targets": out}
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
