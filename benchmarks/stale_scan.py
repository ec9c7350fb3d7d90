# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 2: stale-mapping scan on a host with 2,000 processes: needrestart vs ours vs the floor.

One Debian 12 container (the benchmark image: nginx, haproxy, sshd, needrestart from Debian)
with SYS_PTRACE, a pids limit and nproc/nofile ulimits within this machine's hard limits. In
it: nginx, haproxy and sshd running, plus 2,000 `sleep` processes run as nobody (they map
libcrypto and belong to no service; each exits on its own after a bounded time), in two
populations, each in its own container:
  minimal      LD_PRELOAD=libcrypto.so.3: about 25 maps lines per process, the least a process
               mapping libcrypto can have - the worst case for ours / floor, since the floor
               reads only the maps while a description also needs each process's identity,
               command line, executable, fds and mount namespace
  sshd-like    LD_PRELOAD of every library `ldd /usr/sbin/sshd` lists (26): about 160 maps
               lines, the memory map of a real OpenSSL-using daemon
Before the contenders run, field_costs.py measures in the same container what each /proc read
costs per process (the reads alone): the reads a complete description needs, divided by the
maps read, is the least any complete scan can cost relative to the floor.

Contenders, each in a fresh process inside the container, order rotated every round:
  floor        python3 loop reading every /proc/PID/maps once (analysis after the clock)
  ours         procscan.Scanner built as facts.gather builds it (in-process time of scan())
  module       the whole openssl_facts module process (python3 plugins/modules/openssl_facts.py)
  needrestart  `needrestart -b -r l` (Debian 12's package), bounded by a timeout

Wall and CPU time (user + system) of each: on a loaded machine the wall times depend on the
share of a CPU each process gets, the CPU times on the work done.

Phase 1: nothing stale. Phase 2: libssl3/openssl upgraded from the local repository (the
re-versioned Debian debs), so every process that mapped libcrypto maps a deleted file. Ground
truth = the pids whose maps show a deleted libcrypto, from the floor's own read.
"""

from __future__ import annotations

import json
import os
import resource
from typing import Any

import _bench
from _bench import Row

NAME = "stale_scan"
SLEEP_SECONDS = 1800  # bound of every spawned process
NEEDRESTART_TIMEOUT = 240.0
SERVICES = ("nginx", "haproxy", "ssh")
SERVICE_COMMS = {
    "nginx": {"nginx"},
    "haproxy": {"haproxy"},
    "ssh": {"sshd"},
    "apache2": {"apache2"},
}
SCRIPT = "/work/main/benchmarks/incontainer/scan_bench.py"
FIELD_COSTS = "/work/main/benchmarks/incontainer/field_costs.py"
# population name -> the program whose libraries each sleep preloads (None: libcrypto only)
POPULATIONS = {"minimal": None, "sshd-like": "/usr/sbin/sshd"}
CONTENDERS = ("floor", "ours", "module", "needrestart")
SITE_PACKAGES = f"{_bench.ROOT}/.venv/lib/python3.11/site-packages"


def _limits() -> list[str]:
    """nproc/nofile/pids within this machine's hard limits (raising one needs a capability)."""
    hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = 4096 if hard_nproc == resource.RLIM_INFINITY else min(4096, hard_nproc)
    nofile = 65536 if hard_nofile == resource.RLIM_INFINITY else min(65536, hard_nofile)
    return [
        "--cap-add",
        "SYS_PTRACE",
        "--pids-limit",
        "4096",
        "--ulimit",
        f"nproc={nproc}:{nproc}",
        "--ulimit",
        f"nofile={nofile}:{nofile}",
    ]


def _round(name: str, order: list[str], needrestart: bool) -> dict[str, Any]:
    spec = {
        "order": [c for c in order if needrestart or c != "needrestart"],
        "collections": str(_bench.COLLECTIONS),
        "module": str(_bench.ROOT / "plugins" / "modules" / "openssl_facts.py"),
        "module_args": "/tmp/pw-bench-args.json",
        # ansible's module_utils from the project venv (same Python 3.11 as Debian 12)
        "module_pythonpath": f"{_bench.COLLECTIONS}:{SITE_PACKAGES}",
        "needrestart_timeout": NEEDRESTART_TIMEOUT,
    }
    out = _bench.podman_exec(name, ["python3", SCRIPT, "round", json.dumps(spec)], timeout=900)
    return json.loads(out.stdout)


def _phase(name: str, rounds: int, needrestart_runs: int, label: str) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in CONTENDERS}
    for rnd in range(rounds):
        shift = rnd % len(CONTENDERS)
        order = list(CONTENDERS[shift:] + CONTENDERS[:shift])
        result = _round(name, order, rnd < needrestart_runs)
        for key, value in result.items():
            samples.setdefault(key, []).append(value)
        nr = result.get("needrestart")
        floor_s, ours_s = result["floor"]["seconds"], result["ours"]["seconds"]
        module_s = result["module"]["process_wall"]
        _bench.log(
            f"stale_scan {label} round {rnd + 1}/{rounds}: floor {floor_s:.3f}s, "
            f"ours {ours_s:.3f}s, module {module_s:.2f}s"
            + (f", needrestart {nr['process_wall']:.2f}s" if nr else "")
        )
    return samples


def _recall(found: set[int], truth: set[int]) -> float | None:
    return round(len(found & truth) / len(truth), 4) if truth else None


def _rows(label: str, samples: dict[str, list[dict[str, Any]]], stale: bool) -> list[Row]:
    floor_in = [s["seconds"] for s in samples["floor"]]
    floor_proc = [s["process_wall"] for s in samples["floor"]]
    ours_in = [s["seconds"] for s in samples["ours"]]
    ours_proc = [s["process_wall"] for s in samples["ours"]]
    module_proc = [s["process_wall"] for s in samples["module"]]
    nr = samples["needrestart"]
    nr_wall = [s["process_wall"] for s in nr]
    nr_timeouts = sum(1 for s in nr if s["timeout"])
    raw_times = {
        "floor_scan_s": _bench.summary(floor_in),
        "floor_process_s": _bench.summary(floor_proc),
        "ours_scan_s": _bench.summary(ours_in),
        "ours_process_s": _bench.summary(ours_proc),
        "module_process_s": _bench.summary(module_proc),
        "needrestart_s": _bench.summary(nr_wall),
        "pids": samples["floor"][-1]["pids_read"],
        "mapping_libcrypto": samples["floor"][-1]["mapping_libcrypto"],
    }
    timeout_note = (
        f"needrestart hit its {NEEDRESTART_TIMEOUT:.0f}s timeout in {nr_timeouts} of {len(nr)} "
        "run(s): its time is a lower bound. "
        if nr_timeouts
        else ""
    )
    rows = []
    r_scan = _bench.ratio(nr_wall, ours_proc)
    r_module = _bench.ratio(nr_wall, module_proc)
    rows.append(
        Row(
            NAME,
            f"{label}: needrestart -b / ours (scan process)",
            r_scan,
            ">= 5",
            None if r_scan is None else r_scan >= 5,
            raw_times,
            timeout_note.strip(),
        )
    )
    rows.append(
        Row(
            NAME,
            f"{label}: needrestart -b / whole openssl_facts module process",
            r_module,
            ">= 5",
            None if r_module is None else r_module >= 5,
            {},
        )
    )
    r_floor = _bench.ratio(ours_in, floor_in)
    rows.append(
        Row(
            NAME,
            f"{label}: ours / floor (in-process scan vs reading every maps once)",
            r_floor,
            "<= 2",
            None if r_floor is None else r_floor <= 2,
            {"load_per_round": [round(x[0], 1) for x in samples.get("load", [])]},
        )
    )
    # CPU time (user + system): what the work costs, whatever share of a CPU each process got
    # on a loaded machine.
    floor_cpu = [s["cpu_seconds"] for s in samples["floor"] if s.get("cpu_seconds") is not None]
    ours_cpu = [s["cpu_seconds"] for s in samples["ours"] if s.get("cpu_seconds") is not None]
    r_cpu = _bench.ratio(ours_cpu, floor_cpu)
    rows.append(
        Row(
            NAME,
            f"{label}: ours / floor, CPU time of the in-process scan",
            r_cpu,
            "<= 2",
            None if r_cpu is None else r_cpu <= 2,
            {
                "floor_cpu_s": _bench.summary(floor_cpu),
                "ours_cpu_s": _bench.summary(ours_cpu),
            },
        )
    )
    nr_cpu = [s["process_cpu"] for s in nr if s.get("process_cpu") is not None]
    ours_proc_cpu = [s["process_cpu"] for s in samples["ours"] if s.get("process_cpu") is not None]
    floor_proc_cpu = [
        s["process_cpu"] for s in samples["floor"] if s.get("process_cpu") is not None
    ]
    r_nr_cpu = _bench.ratio(nr_cpu, ours_proc_cpu)
    rows.append(
        Row(
            NAME,
            f"{label}: needrestart -b / ours (scan process), CPU time",
            r_nr_cpu,
            ">= 5",
            None if r_nr_cpu is None else r_nr_cpu >= 5,
            {
                "needrestart_cpu_s": _bench.summary(nr_cpu),
                "ours_process_cpu_s": _bench.summary(ours_proc_cpu),
                "floor_process_cpu_s": _bench.summary(floor_proc_cpu),
            },
        )
    )
    # the most any scan that reads every maps file once (in a Python process) could reach
    r_nr_floor = _bench.ratio(nr_cpu, floor_proc_cpu)
    rows.append(
        Row(
            NAME,
            f"{label}: needrestart -b / floor process, CPU time (the bound for any scan)",
            r_nr_floor,
            "(info)",
            None,
            {},
        )
    )
    rows.append(
        Row(
            NAME,
            f"{label}: ours / floor (whole processes, interpreter start included)",
            _bench.ratio(ours_proc, floor_proc),
            "(info)",
            None,
            {},
        )
    )
    truth_sets = [set(s["deleted_libcrypto_pids"]) for s in samples["floor"]]
    truth = truth_sets[-1]
    ours_found = [set(s["stale_pids"]) for s in samples["ours"]]
    module_found = [set(s["stale_pids"]) for s in samples["module"]]
    if stale:
        rec_ours = min((_recall(f, t) or 0.0) for f, t in zip(ours_found, truth_sets))
        rec_mod = min((_recall(f, t) or 0.0) for f, t in zip(module_found, truth_sets))
        rows.append(
            Row(
                NAME,
                f"{label}: recall of ours (scan) vs ground truth (worst round)",
                rec_ours,
                "= 1.0",
                rec_ours == 1.0,
                {"truth_pids": len(truth)},
            )
        )
        rows.append(
            Row(
                NAME,
                f"{label}: recall of the openssl_facts module (worst round)",
                rec_mod,
                "= 1.0",
                rec_mod == 1.0,
                {},
            )
        )
        comms = {int(k): v for k, v in samples["floor"][-1]["comm"].items()}
        for run in nr:
            covered = {
                pid
                for pid in truth
                for svc in run["services"]
                if comms.get(pid) in SERVICE_COMMS.get(svc.removesuffix(".service"), set())
            }
            run["covered_pids"] = len(covered)
        nr_rec = [r["covered_pids"] / len(truth) for r in nr if not r["timeout"] and truth]
        nr_val = round(min(nr_rec), 4) if nr_rec else None
        rows.append(
            Row(
                NAME,
                f"{label}: recall of needrestart -b (pids in the services it lists)",
                nr_val,
                "(info)",
                None,
                {"services_listed": ", ".join(nr[0]["services"]) if nr else "-"},
                note="needrestart in root batch mode lists services only; processes that belong "
                "to no service are not reported"
                if nr
                else "needrestart did not run",
            )
        )
    else:
        false_pos = max(len(f) for f in ours_found + module_found)
        rows.append(
            Row(
                NAME,
                f"{label}: processes ours reports stale (none are)",
                float(false_pos),
                "= 0",
                false_pos == 0,
                {"truth_pids": len(truth)},
            )
        )
    return rows


def _field_cost_row(name: str, population: str, spawned: dict[str, Any]) -> Row:
    out = _bench.podman_exec(name, ["python3", FIELD_COSTS, "7"], timeout=600)
    costs = json.loads(out.stdout)
    value = costs.get("required_with_status_over_maps")
    return Row(
        NAME,
        f"{population}, none stale: /proc reads a complete description needs / its maps read "
        "(the least any complete scan costs vs the floor)",
        value,
        "(bound)",
        None,
        {
            "maps_lines_per_process": spawned.get("maps_lines"),
            "cpu_us_per_process": costs.get("cpu_us_per_process"),
            "required_with_stat_over_maps": costs.get("required_with_stat_over_maps"),
        },
        "identity from status (comm, parent, real uid), cmdline, exe, fd links, mount "
        "namespace, maps; required_with_stat_over_maps: the same with the smaller stat "
        "(no uid). Reads only, no parsing: ours / floor cannot be below this.",
    )


def _population(args: Any, population: str, like: str | None) -> list[Row]:
    image = _bench.bench_image()
    repo = _bench.apt_repo_dir("12")
    count = int(args.processes)
    rounds = max(3, int(args.rounds) - 2)
    mounts = ["-v", f"{_bench.ROOT}:{_bench.ROOT}:ro", "-v", f"{repo}:/srv/patchwise:ro"]
    with _bench.containers("scan", 1, image=image, extra=_limits() + mounts) as names:
        name = names[0]
        for svc in SERVICES:
            _bench.podman_exec(name, ["service", svc, "start"], timeout=60)
        argv = ["python3", SCRIPT, "spawn", str(count), str(SLEEP_SECONDS)] + (
            [like] if like else []
        )
        spawned = json.loads(_bench.podman_exec(name, argv, timeout=300).stdout)
        _bench.log(
            f"stale_scan {population}: {spawned['spawned']} sleeps in {name} preloading "
            f"{spawned['libraries']} librar(ies), {spawned['maps_lines']} maps lines each"
        )
        _bench.podman_exec(
            name,
            ["sh", "-c", "echo '{\"ANSIBLE_MODULE_ARGS\": {}}' >/tmp/pw-bench-args.json"],
        )
        bound = _field_cost_row(name, population, spawned)
        fresh = _phase(name, rounds, rounds, f"{population}, none stale")
        _bench.use_local_repo(name)
        version = _bench.upgrade_openssl(name)
        _bench.log(f"stale_scan {population}: libssl3 upgraded to {version}")
        stale = _phase(
            name,
            rounds,
            int(os.environ.get("PW_BENCH_NEEDRESTART_STALE_RUNS", "1")),
            f"{population}, all stale",
        )
    return [
        bound,
        *_rows(f"{population}, none stale", fresh, False),
        *_rows(f"{population}, all stale", stale, True),
    ]


def run(args: Any) -> list[Row]:
    chosen = str(getattr(args, "scan_populations", None) or ",".join(POPULATIONS))
    populations = [p.strip() for p in chosen.split(",") if p.strip()]
    unknown = [p for p in populations if p not in POPULATIONS]
    if unknown:
        raise SystemExit(f"stale_scan: unknown population(s) {unknown} ({', '.join(POPULATIONS)})")
    rows: list[Row] = []
    for population in populations:
        rows += _population(args, population, POPULATIONS[population])
    return rows
