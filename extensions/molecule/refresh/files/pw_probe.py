# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Independent /proc probe (test helper; shares no code with the collection).

Prints JSON: {"at": epoch, "pidfiles": {name: pid or null}, "processes": {pid: {"comm", "ppid",
"cmdline", "started" (epoch), "libs": [maps paths of libssl/libcrypto], "deleted": [those
ending in " (deleted)"]}}} for every process that maps libssl or libcrypto.
"""

from __future__ import annotations

import json
import os
import time

PIDFILES = {
    "nginx": "/run/nginx.pid",
    "haproxy": "/run/haproxy.pid",
    "apache2": "/run/apache2/apache2.pid",
    "sshd": "/run/sshd.pid",
    "pw-legacy-tls": "/run/pw-legacy-tls.pid",
    "unowned": "/run/pw-unowned.pid",
}


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def boot_time() -> float:
    for line in read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def pidfile(path: str) -> int | None:
    try:
        return int(read(path).split()[0])
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    btime = boot_time()
    tick = os.sysconf("SC_CLK_TCK")
    processes = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            maps = read(f"/proc/{pid}/maps")
            stat = read(f"/proc/{pid}/stat")
            cmdline = read(f"/proc/{pid}/cmdline")
            comm = read(f"/proc/{pid}/comm").strip()
        except OSError:
            continue
        libs = set()
        for line in maps.splitlines():
            fields = line.split(None, 5)
            if len(fields) == 6 and ("/libssl.so" in fields[5] or "/libcrypto.so" in fields[5]):
                libs.add(fields[5])
        if not libs:
            continue
        after = stat.rpartition(")")[2].split()
        processes[pid] = {
            "comm": comm,
            "ppid": int(after[1]),
            "cmdline": cmdline.replace("\0", " ").strip(),
            "started": round(btime + int(after[19]) / tick, 2),
            "libs": sorted(libs),
            "deleted": sorted(lib for lib in libs if lib.endswith(" (deleted)")),
        }
    names = {name: pidfile(path) for name, path in PIDFILES.items()}
    print(json.dumps({"at": time.time(), "pidfiles": names, "processes": processes}))


if __name__ == "__main__":
    main()
