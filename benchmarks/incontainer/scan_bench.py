# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stale-scan contenders, run INSIDE a benchmark container (stdlib only, Python 3.9+).

    scan_bench.py spawn <count> <seconds> [<program>]
                                            start <count> `sleep <seconds>` as nobody (owned by
                                            no service), each with LD_PRELOAD=libcrypto - or, with
                                            <program>, with every shared library `ldd <program>`
                                            lists (libcrypto among them): the memory map of that
                                            program (e.g. /usr/sbin/sshd: 26 libraries, about 160
                                            maps lines, against about 25); then exit
    scan_bench.py floor                     read every /proc/PID/maps once (the floor)
    scan_bench.py ours <collections dir>    procscan.Scanner, built as facts.gather builds it
    scan_bench.py round <json spec>         one interleaved round of every contender, each in a
                                            fresh process, timed here; prints JSON

Every subcommand prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
NOBODY = 65534


def libraries_of(program: str) -> list[str]:
    """The shared libraries `ldd` resolves for ``program`` (absolute paths, load order)."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    return [
        line.split("=>", 1)[1].split()[0]
        for line in out.splitlines()
        if "=>" in line and line.split("=>", 1)[1].strip().startswith("/")
    ]


def spawn(count: int, seconds: int, like: str | None = None) -> dict[str, Any]:
    preload = libraries_of(like) if like else [LIBCRYPTO]
    if not any("/libcrypto" in lib for lib in preload):
        raise SystemExit(f"{like} does not load libcrypto")
    env = {"LD_PRELOAD": " ".join(preload), "PATH": "/usr/bin:/bin"}
    pids = []
    for _index in range(count):
        proc = subprocess.Popen(  # bounded: every child exits after `seconds`
            ["sleep", str(seconds)],
            env=env,
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pids.append(proc.pid)
    maps_lines = None
    time.sleep(0.5)  # let the last child finish loading its libraries
    try:
        with open(f"/proc/{pids[-1]}/maps", "rb") as handle:
            maps_lines = handle.read().count(b"\n")
    except (OSError, IndexError):
        pass
    return {"spawned": len(pids), "libraries": len(preload), "maps_lines": maps_lines}


def floor() -> dict[str, Any]:
    """The floor: list /proc and read every maps file once. Analysis happens after the clock."""
    start, cpu = time.perf_counter(), time.process_time()
    maps: dict[str, bytes] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/maps", "rb") as handle:
                maps[pid] = handle.read()
        except OSError:
            continue
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    me = str(os.getpid())
    deleted = sorted(
        int(pid)
        for pid, data in maps.items()
        if pid != me
        and any(b"libcrypto" in line and line.endswith(b" (deleted)") for line in data.splitlines())
    )
    mapping = sum(1 for pid, data in maps.items() if pid != me and b"libcrypto" in data)
    comms: dict[int, str] = {}
    for pid in deleted:
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                comms[pid] = handle.read().strip()
        except OSError:
            continue
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "pids_read": len(maps),
        "mapping_libcrypto": mapping,
        "deleted_libcrypto_pids": deleted,
        "comm": comms,
    }


def timed_scan(collections: str) -> tuple[dict[str, Any], float, float]:
    """procscan.Scanner of the collection under ``collections``, built as facts.gather builds it
    (listening sockets and ELF reading of deleted copies included): the result of its scan(),
    its wall and its CPU seconds (in-process, the import not counted)."""
    sys.path.insert(0, collections)
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
        procscan,
    )
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.elf import (
        inspect_file,
    )

    start, cpu = time.perf_counter(), time.process_time()
    scanner = procscan.Scanner(
        procscan.ProcReader("/proc"), listening=True, elf_reader=inspect_file
    )
    result = scanner.scan()
    return result, time.perf_counter() - start, time.process_time() - cpu


def ours(collections: str) -> dict[str, Any]:
    result, seconds, cpu = timed_scan(collections)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "pids_seen": result["pids_seen"],
        "processes": len(result["processes"]),
        "unreadable": len(result["unreadable"]),
        "stale_pids": sorted(p["pid"] for p in result["processes"] if p["stale"]),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall time of a child process and its CPU time (user + system, its own children
    included: needrestart's helpers count)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {
            "wall": time.perf_counter() - start,
            "cpu": None,
            "timeout": True,
            "rc": None,
            "out": "",
        }
    return {
        "wall": time.perf_counter() - start,
        "cpu": _children_cpu() - cpu,
        "timeout": False,
        "rc": proc.returncode,
        "out": proc.stdout,
        "err": proc.stderr[-2000:],
    }


def one_round(spec: dict[str, Any]) -> dict[str, Any]:
    """Run each contender once, in the order given, each in a fresh process."""
    me = os.path.abspath(__file__)
    py = sys.executable
    out: dict[str, Any] = {"load": list(os.getloadavg())}
    for name in spec["order"]:
        if name == "floor":
            res = _timed([py, me, "floor"], 120)
            out[name] = {
                "process_wall": res["wall"],
                "process_cpu": res["cpu"],
                **json.loads(res["out"]),
            }
        elif name == "ours":
            res = _timed([py, me, "ours", spec["collections"]], 300)
            if res["rc"] != 0:
                raise SystemExit(f"ours failed: {res['err']}")
            out[name] = {
                "process_wall": res["wall"],
                "process_cpu": res["cpu"],
                **json.loads(res["out"]),
            }
        elif name == "module":
            env = dict(os.environ, PYTHONPATH=spec["module_pythonpath"])
            res = _timed([py, spec["module"], spec["module_args"]], 300, env)
            if res["rc"] != 0:
                raise SystemExit(f"module failed: {res['out'][-800:]} {res['err']}")
            facts = json.loads(res["out"])["ansible_facts"]["openssl"]
            out[name] = {
                "process_wall": res["wall"],
                "process_cpu": res["cpu"],
                "stale_pids": sorted(p["pid"] for p in facts["processes"] if p["stale"]),
            }
        elif name == "needrestart":
            res = _timed(["needrestart", "-b", "-r", "l"], float(spec["needrestart_timeout"]))
            services = sorted(
                line.split(":", 1)[1].strip()
                for line in res["out"].splitlines()
                if line.startswith("NEEDRESTART-SVC:")
            )
            out[name] = {
                "process_wall": res["wall"],
                "process_cpu": res["cpu"],
                "timeout": res["timeout"],
                "rc": res["rc"],
                "services": services,
                "lines": res["out"].splitlines()[:40],
            }
    return out


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "spawn":
        like = sys.argv[4] if len(sys.argv) > 4 else None
        result = spawn(int(sys.argv[2]), int(sys.argv[3]), like)
    elif cmd == "floor":
        result = floor()
    elif cmd == "ours":
        result = ours(sys.argv[2])
    elif cmd == "round":
        result = one_round(json.loads(sys.argv[2]))
    else:
        raise SystemExit(f"unknown subcommand {cmd}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
