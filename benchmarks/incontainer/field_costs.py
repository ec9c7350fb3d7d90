# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the kernel charges for each /proc read the facts need, per process (stdlib only).

    field_costs.py [repeats]

Runs INSIDE the stale-scan benchmark container (or on any host). For every process whose maps
name libssl or libcrypto, each read below is repeated over all of them, interleaved, and the
CPU time (user + system of this process) per process is reported — the reads only, no parsing,
no Python objects kept. ``maps`` is the floor's own read. The ``required_*`` sums are the reads
a description of every such process needs for the fields openssl_facts reports (identity,
command line, executable, fd links for listening sockets, mount namespace for the inode check),
with the identity read from ``status`` (comm, parent, real uid) or, the cheapest possible,
from ``stat`` (comm and parent only, no uid). Their ratio to ``maps`` is the least a complete
scan can cost relative to the floor, before any parsing. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Callable

_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _read(path: str) -> bytes:
    fd = os.open(path, _FLAGS)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 17)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _fd_links(pid: str) -> None:
    count = os.stat(f"/proc/{pid}/fd").st_size  # Linux 6.2+: number of open fds
    names = [str(n) for n in range(count)] if count else os.listdir(f"/proc/{pid}/fd")
    for name in names:
        try:
            os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue


READS: dict[str, Callable[[str], object]] = {
    "maps": lambda pid: _read(f"/proc/{pid}/maps"),
    "status": lambda pid: _read(f"/proc/{pid}/status"),
    "stat": lambda pid: _read(f"/proc/{pid}/stat"),
    "cmdline": lambda pid: _read(f"/proc/{pid}/cmdline"),
    "exe": lambda pid: os.readlink(f"/proc/{pid}/exe"),
    "fd_links": _fd_links,
    "mnt_ns": lambda pid: os.readlink(f"/proc/{pid}/ns/mnt"),
    "root_stat": lambda pid: os.stat(f"/proc/{pid}/root"),
}
REQUIRED = ("maps", "cmdline", "exe", "fd_links", "mnt_ns")


def _mapping_openssl() -> list[str]:
    me = str(os.getpid())
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            data = _read(f"/proc/{pid}/maps")
        except OSError:
            continue
        if b"/libssl" in data or b"/libcrypto" in data:
            pids.append(pid)
    return pids


def _cpu_per_process(read: Callable[[str], object], pids: list[str]) -> float:
    start = time.process_time()
    for pid in pids:
        try:
            read(pid)
        except OSError:
            continue
    return (time.process_time() - start) / len(pids) * 1e6


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    pids = _mapping_openssl()
    if not pids:
        print(json.dumps({"processes": 0}))
        return
    samples: dict[str, list[float]] = {name: [] for name in READS}
    for rnd in range(repeats):
        names = list(READS)
        shift = rnd % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_cpu_per_process(READS[name], pids))
    us = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    with_status = sum(us[n] for n in REQUIRED) + us["status"]
    with_stat = sum(us[n] for n in REQUIRED) + us["stat"]
    print(
        json.dumps(
            {
                "processes": len(pids),
                "repeats": repeats,
                "cpu_us_per_process": us,
                "required_with_status_us": round(with_status, 2),
                "required_with_stat_us": round(with_stat, 2),
                "required_with_status_over_maps": round(with_status / us["maps"], 3),
                "required_with_stat_over_maps": round(with_stat / us["maps"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
