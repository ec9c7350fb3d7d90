# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure sshd's accept gap while it re-executes itself on SIGHUP (test helper).

OpenSSH's listener handles SIGHUP in sighup_restart(): close_listen_socks(), then
execv(argv[0]); the new image reads its configuration and host keys and only then binds and
listens again. Between the close and the new listen() the kernel answers a SYN with a reset,
so a client's connect() fails with ECONNREFUSED; a connection that the kernel had completed
but sshd had not yet accepted when it closed the socket is reset (ECONNRESET). Established
sessions are separate processes and are not touched.

A client thread connects to 127.0.0.1:<port> one connection after the other (TCP connect and
close, --pause seconds in between, each attempt timestamped; every accepted connection makes
sshd start a child, so a shorter pause loads the host and stretches the very window it
measures), while the main thread sends --hups SIGHUPs to the listener (pid file), each once
the previous one has written its pid file again and listens, plus --interval seconds. Every
connection goes to 127.0.0.1 (fixed). Bounded: at most --hups signals (each wait at most 15 s);
the client stops after the last one.

Prints JSON: {"hups", "attempts", "refused", "reset", "other_errors": [first 20],
"listener_pid_kept", "per_hup": [{"refused" (refused or reset), "gap_ms"}], "max_gap_ms",
"max_refused"}. gap_ms is the time from the last successful connect before the first failed one
to the first successful connect after the last failed one of that SIGHUP (0 when none failed):
an upper bound of the closed window, at the client's sampling resolution (pause + connect).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import socket
import threading
import time

HOST = "127.0.0.1"
MAX_HUPS = 50
GAP_ERRNOS = (errno.ECONNREFUSED, errno.ECONNRESET)


def read_pid(path: str) -> int:
    with open(path, encoding="ascii") as fh:
        return int(fh.read().split()[0])


def pidfile_id(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def client(port: int, pause: float, stop: threading.Event, log: list) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            with socket.create_connection((HOST, port), timeout=2.0):
                pass
        except OSError as exc:
            log.append((started, exc.errno or -1, type(exc).__name__))
        else:
            log.append((started, 0, ""))
        time.sleep(pause)


def listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def per_hup(log: list, marks: list) -> list:
    """Refusals and gap of each SIGHUP, from the attempts between it and the next one."""
    out = []
    for i, mark in enumerate(marks):
        end = marks[i + 1] if i + 1 < len(marks) else float("inf")
        window = [entry for entry in log if mark <= entry[0] < end]
        refused = [entry[0] for entry in window if entry[1] in GAP_ERRNOS]
        gap = 0.0
        if refused:
            before = [t for t, code, _name in log if code == 0 and t < refused[0]]
            after = [t for t, code, _name in log if code == 0 and t > refused[-1]]
            start = before[-1] if before else refused[0]
            gap = (after[0] if after else refused[-1]) - start
        out.append({"refused": len(refused), "gap_ms": round(gap * 1000, 1)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--pidfile", default="/run/sshd.pid")
    parser.add_argument("--hups", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--pause", type=float, default=0.02)
    args = parser.parse_args()
    hups = max(1, min(args.hups, MAX_HUPS))
    pid = read_pid(args.pidfile)
    log: list = []
    marks: list = []
    stop = threading.Event()
    thread = threading.Thread(target=client, args=(args.port, args.pause, stop, log), daemon=True)
    thread.start()
    time.sleep(args.interval)
    for _hup in range(hups):
        before = pidfile_id(args.pidfile)
        marks.append(time.monotonic())
        os.kill(pid, signal.SIGHUP)
        # The new image writes the pid file again once it listens (OpenSSH 10: a while after):
        # wait for that, so that the next SIGHUP never reaches a listener still restarting.
        deadline = time.monotonic() + 15
        while pidfile_id(args.pidfile) in (None, before) and time.monotonic() < deadline:
            time.sleep(0.02)
        while time.monotonic() < deadline:
            probe = time.monotonic()
            if listening(args.port):
                log.append((probe, 0, ""))  # a success that bounds this SIGHUP's window
                break
            time.sleep(0.02)
        time.sleep(args.interval)
    stop.set()
    thread.join(5)
    log.sort()
    hup_stats = per_hup(log, marks)
    other = [{"t": round(t - log[0][0], 3), "error": name, "errno": code}
             for t, code, name in log if code not in (0, *GAP_ERRNOS)]
    print(json.dumps({
        "hups": hups,
        "attempts": len(log),
        "refused": sum(1 for entry in log if entry[1] == errno.ECONNREFUSED),
        "reset": sum(1 for entry in log if entry[1] == errno.ECONNRESET),
        "other_errors": other[:20],
        "listener_pid_kept": os.path.exists(args.pidfile) and read_pid(args.pidfile) == pid
        and os.path.exists(f"/proc/{pid}"),
        "per_hup": hup_stats,
        "max_gap_ms": max(h["gap_ms"] for h in hup_stats),
        "max_refused": max(h["refused"] for h in hup_stats),
    }))


if __name__ == "__main__":
    main()
