# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 5: controller-side assessment of 10,000 hosts' facts (target < 10 s on 2 cores).

Base facts are gathered for real (facts.gather, the module's code) in Debian 11, 12 and 13
containers, each with a long-running Python process that maps libssl/libcrypto, then every
host is derived from one of them with variations: pids, the OpenSSL package version across
the distribution's real versions (the changelog CVE map trimmed to that version), stale
processes, listening sockets, and a vendored copy on some hosts.

Measured in a child process per run: the assessment of every host (one Assessor, as the action
plugin keeps one per controller process), the host report rendering (render_host_json, what the
action plugin writes per host) and the fleet summary; with 1 process and with 2 processes
(hosts split in halves: ansible's forks do the same), interleaved and repeated. Peak memory is
the child's ru_maxrss; tracemalloc gives the peak of Python allocations during the assessment.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench
from _bench import Row

NAME = "controller_assess"
BUDGET = 10.0
TODAY_ARG = "2026-11-22"
GATHER = "/work/main/benchmarks/incontainer/gather_facts.py"
# Real package versions each release shipped (Debian archive and security suites).
VERSIONS = {
    "11": ["1.1.1n-0+deb11u4", "1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", "1.1.1w-0+deb11u8"],
    "12": ["3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2",
           "3.0.22-1~deb12u2"],
    "13": ["3.5.1-1", "3.5.4-1~deb13u1", "3.5.7-1~deb13u3"],
}  # fmt: skip
VENDORED = ["3.2.1", "3.1.4", "3.0.13", "1.1.1t", "3.3.2", "3.4.0", "1.0.2u"]
PORTS = [22, 443, 8443, 5432, 25]
# processes mapping OpenSSL per host (sshd, web server master and workers, apps)
MIN_PROCS, MAX_PROCS = 5, 30


def _gather_base(major: str) -> dict[str, Any]:
    image = f"localhost/patchwise-debian:{major}"
    mount = ["-v", f"{_bench.ROOT}:{_bench.ROOT}:ro", "--cap-add", "SYS_PTRACE"]
    with _bench.containers(f"facts{major}", 1, image=image, extra=mount) as names:
        # a process that maps libssl/libcrypto (bounded: exits after 600 s)
        _bench.run(
            ["podman", "exec", "-d", names[0], "python3", "-c", "import ssl, time; time.sleep(600)"]
        )
        time.sleep(1.0)
        out = _bench.podman_exec(names[0], ["python3", GATHER, str(_bench.COLLECTIONS)]).stdout
    return json.loads(out)


def _upstream(version: str) -> str:
    return version.split("-", 1)[0]


def _vary(base: str, major: str, rng: random.Random, index: int) -> dict[str, Any]:
    """One host: the JSON text of a real base, with versions, pids and staleness varied."""
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.pkgversions import (
        dpkg_compare,
    )

    facts = json.loads(base)
    version = rng.choice(VERSIONS[major])
    upstream = _upstream(version)
    for pkg in facts["packages"]:
        if pkg.get("source") == "openssl" or pkg["name"].startswith(("libssl", "openssl")):
            pkg["version"] = version
            pkg["upstream_version"] = upstream
            log = pkg.get("changelog") or {}
            cves = log.get("cves") or {}
            log["cves"] = {c: v for c, v in cves.items() if dpkg_compare(str(v), version) <= 0}
    for lib in facts["libraries"]:
        if lib.get("package"):
            lib["package_version"] = version
            if lib.get("version"):
                lib["version"] = upstream
                lib["version_text"] = f"OpenSSL {upstream}"
            lib["build_id"] = f"{index:08x}{lib.get('kind')}"
    template = json.dumps(facts["processes"][0]) if facts["processes"] else None
    processes = []
    if template is not None:
        for pid in range(300, 300 + rng.randint(MIN_PROCS, MAX_PROCS)):
            proc = json.loads(template)
            stale = rng.random() < 0.05
            proc.update({"pid": pid, "ppid": 1, "master_pid": pid, "stale": stale})
            port = rng.choice(PORTS) if rng.random() < 0.3 else None
            listen = {"proto": "tcp", "address": "0.0.0.0", "port": port}  # noqa: S104
            proc["listening"] = [listen] if port else []
            for lib in proc["libraries"]:
                reason = "deleted" if stale else None
                lib.update({"stale": stale, "deleted": stale, "stale_reason": reason})
            processes.append(proc)
    facts["processes"] = processes
    if rng.random() < 0.1:
        facts["vendored"] = [
            {
                "path": f"/opt/app{index}/lib/libcrypto.so.3",
                "version_text": None,
                "implementation": "openssl",
                "version": rng.choice(VENDORED),
                "package": None,
            }
        ]
    return facts


def make_hosts(bases: dict[str, str], count: int, worker: int, workers: int) -> dict[str, Any]:
    """This worker's share of the fleet (each host depends only on its index: reproducible)."""
    majors = sorted(bases)
    hosts = {}
    for i in range(worker, count, workers):
        rng = random.Random(20261122 + i)  # noqa: S311 - reproducible benchmark data
        major = majors[i % len(majors)]
        hosts[f"host{i:05d}"] = _vary(bases[major], major, rng, i)
    return hosts


# Runs in a fresh interpreter per measurement. Facts are generated first (not timed); then
# each worker assesses its hosts with one Assessor (assess_many: the batch path) and writes
# every host report with its digest as the action plugin does (write_host_report) to a report
# directory (tmpfs when there is one: the disk is not what is measured). The parent then
# builds the fleet summary the way the plugin's summarize step does: load_host_reports (the
# digests) + fleet_summary + the JSON, Markdown and HTML renderings.
CHILD = r"""
import json, os, resource, sys, time, tracemalloc
from multiprocessing import Pool
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import controller_assess as ca
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess, report, vulndb)

def work(job):
    bases_path, count, worker, workers, today, trace, report_dir = job
    with open(bases_path) as handle:
        bases = json.load(handle)
    hosts = ca.make_hosts(bases, count, worker, workers)
    if trace:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    assessor = assess.Assessor(vulndb.load_db(), today)
    results = assessor.assess_many(hosts)
    assessed, assessed_cpu = time.perf_counter() - start, time.process_time() - cpu
    for name, result in results.items():
        report.write_host_report(report_dir, name, result)
    rendered, rendered_cpu = time.perf_counter() - start, time.process_time() - cpu
    size = sum(os.path.getsize(report.host_report_path(report_dir, n)) for n in results)
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {"assess_s": assessed, "assess_cpu_s": assessed_cpu, "render_s": rendered - assessed,
            "render_cpu_s": rendered_cpu - assessed_cpu, "peak": peak, "bytes": size,
            "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "processes": sum(len(f["processes"]) for f in hosts.values())}

bases_path, count, workers = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
today, trace, report_dir = sys.argv[6], sys.argv[7] == "1", sys.argv[8]
jobs = [(bases_path, count, w, workers, today, trace, report_dir) for w in range(workers)]
if workers == 1:
    parts = [work(jobs[0])]
else:
    with Pool(workers) as pool:
        parts = pool.map(work, jobs)
t, c = time.perf_counter(), time.process_time()
names = [f"host{i:05d}" for i in range(count)]
digests, missing = report.load_host_reports(report_dir, names)
summary = report.fleet_summary(digests, missing, generated_at=today)
report.render_html(summary); report.render_markdown(summary); report.render_json(summary)
print(json.dumps({
    "assess_s": max(p["assess_s"] for p in parts),
    "assess_cpu_s": max(p["assess_cpu_s"] for p in parts),
    "render_s": max(p["render_s"] for p in parts),
    "render_cpu_s": max(p["render_cpu_s"] for p in parts),
    "summary_s": time.perf_counter() - t, "summary_cpu_s": time.process_time() - c,
    "maxrss_mib": max(p["maxrss"] for p in parts) / 1024,
    "summary_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "tracemalloc_peak_mib": (parts[0]["peak"] or 0) / 2**20,
    "hosts": summary["hosts_assessed"], "missing": len(missing),
    "report_bytes": sum(p["bytes"] for p in parts),
    "processes": sum(p["processes"] for p in parts),
    "findings": sum(summary["status_counts"].values()),
}))
"""

# The action plugin's path, as ansible runs it: the plugin module is imported in the
# controller's main process (its import prepares the database and the default assessor), then
# one worker is forked per host; each assesses its host and writes the report and its digest
# (write_host_report). CPU per host = the forked children's CPU (fork, work, exit) / hosts.
FORKED = r"""
import json, os, resource, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import controller_assess as ca
import ansible.plugins.action
with open(sys.argv[3]) as handle:
    bases = json.load(handle)
hosts = ca.make_hosts(bases, int(sys.argv[4]), 0, 1)
report_dir = sys.argv[5]
cpu0 = time.process_time()
from ansible_collections.patchwise.openssl.plugins.action import openssl_assess as plugin
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import assess, report
import_cpu = time.process_time() - cpu0

def one(name, facts):
    assessor = plugin._assessor(None, None, assess.DEFAULT_MAX_DB_AGE_DAYS)
    result = assessor.assess(facts, name)
    report.write_host_report(report_dir, name, result)

before = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.perf_counter()
for name, facts in hosts.items():
    pid = os.fork()
    if pid == 0:
        try:
            one(name, facts)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
wall = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
written = len([n for n in os.listdir(os.path.join(report_dir, report.HOSTS_SUBDIR))
               if n.endswith(".json")])
print(json.dumps({"hosts": len(hosts), "written": written, "cpu_s": cpu, "wall_s": wall,
                  "import_cpu_s": import_cpu}))
"""


def _report_dir(parent: str) -> str:
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    path = tempfile.mkdtemp(prefix="pw-bench-controller-", dir=base or parent)
    Path(path, "hosts").mkdir()
    return path


def _run_script(script: str, bases: Path, args: list[str]) -> dict[str, Any]:
    """Run one of the scripts above in a fresh interpreter with its own report directory
    (removed afterwards); its JSON output plus the 1-minute load at its start."""
    report_dir = _report_dir(str(bases.parent))
    try:
        argv = [sys.executable, "-c", script, str(_bench.COLLECTIONS), str(_bench.BENCH_DIR)]
        argv += [str(bases), *args, report_dir]
        load = os.getloadavg()[0]
        out = json.loads(_bench.run(argv, timeout=900).stdout)
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)
    out["load_1min"] = load
    return out


def _child(bases: Path, count: int, workers: int, trace: bool) -> dict[str, Any]:
    return _run_script(CHILD, bases, [str(count), str(workers), TODAY_ARG, "1" if trace else "0"])


def _forked(bases: Path, count: int) -> dict[str, Any]:
    return _run_script(FORKED, bases, [str(count)])


def _total(r: dict[str, Any], cpu: bool) -> float:
    suffix = "_cpu_s" if cpu else "_s"
    return float(r["assess" + suffix] + r["render" + suffix] + r["summary" + suffix])


def _measure(bases_path: Path, count: int, rounds: int) -> dict[int, list[dict[str, Any]]]:
    """1 and 2 worker processes, interleaved (order swapped every round)."""
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for rnd in range(rounds):
        for workers in (1, 2) if rnd % 2 == 0 else (2, 1):
            runs[workers].append(_child(bases_path, count, workers, False))
        one, two = runs[1][-1], runs[2][-1]
        _bench.log(
            f"controller_assess round {rnd + 1}/{rounds}: 2 processes "
            f"{_total(two, False):.2f}s wall ({_total(two, True):.2f}s CPU, load "
            f"{two['load_1min']:.1f}), 1 process {_total(one, False):.2f}s wall "
            f"({_total(one, True):.2f}s CPU, load {one['load_1min']:.1f})"
        )
    return runs


def _loads(runs: list[dict[str, Any]]) -> str:
    loads = [r["load_1min"] for r in runs]
    return f"{min(loads):.1f}-{max(loads):.1f}"


def run(args: Any) -> list[Row]:
    _bench.ensure_collection_link()
    sys.path.insert(0, str(_bench.COLLECTIONS))
    count = int(args.facts_hosts)
    rounds = int(getattr(args, "controller_rounds", 3))
    sample = int(getattr(args, "forked_hosts", 300))
    with tempfile.TemporaryDirectory() as tmp:
        bases_path = Path(tmp) / "bases.json"
        bases = {major: json.dumps(_gather_base(major)) for major in ("11", "12", "13")}
        bases_path.write_text(json.dumps(bases))
        runs = _measure(bases_path, count, rounds)
        traced = _child(bases_path, min(count, 2000), 1, True) if rounds > 1 else None
        forked = _forked(bases_path, sample) if sample > 0 else None
    one, two = runs[1], runs[2]
    wall2 = [_total(r, False) for r in two]
    cpu2 = [_total(r, True) for r in two]
    wall1 = [_total(r, False) for r in one]
    first = one[0]
    raw: dict[str, Any] = {
        "wall_2proc_s": _bench.summary(wall2),
        "cpu_2proc_busiest_s": _bench.summary(cpu2),
        "wall_1proc_s": _bench.summary(wall1),
        "assess_cpu_1proc_s": _bench.summary([r["assess_cpu_s"] for r in one]),
        "render_cpu_1proc_s": _bench.summary([r["render_cpu_s"] for r in one]),
        "summary_cpu_s": _bench.summary([r["summary_cpu_s"] for r in one + two]),
        "assess_only_2proc_wall_s": _bench.summary([r["assess_s"] for r in two]),
        "assess_only_2proc_cpu_s": _bench.summary([r["assess_cpu_s"] for r in two]),
        "load_1min": _bench.summary([r["load_1min"] for r in one + two]),
        "peak_rss_1proc_mib": round(max(r["maxrss_mib"] for r in one), 1),
        "peak_rss_2proc_mib": round(max(r["maxrss_mib"] for r in two), 1),
        "peak_rss_summary_mib": round(max(r["summary_maxrss_mib"] for r in two), 1),
        "hosts": first["hosts"],
        "processes": first["processes"],
        "findings": first["findings"],
        "report_mib": round(first["report_bytes"] / 2**20, 1),
    }
    if traced is not None:
        raw["tracemalloc_peak_per_2000_hosts_mib"] = round(traced["tracemalloc_peak_mib"], 1)
    note = (
        f"{raw['hosts']} hosts from real Debian 11/12/13 facts ({raw['processes']} processes, "
        f"{raw['findings']} findings, {raw['report_mib']} MiB of host reports); load average "
        f"{_loads(one + two)}: 2 processes {_bench.median(wall2):.1f}s wall, busiest worker + "
        f"summary {_bench.median(cpu2):.1f}s CPU; 1 process {_bench.median(wall1):.1f}s wall "
        f"(assess {raw['assess_cpu_1proc_s']['median']:.1f}s CPU + host reports "
        f"{raw['render_cpu_1proc_s']['median']:.1f}s + summary from the report files "
        f"{raw['summary_cpu_s']['median']:.1f}s); peak RSS {raw['peak_rss_1proc_mib']} MiB "
        f"(1 process), {raw['peak_rss_2proc_mib']} MiB per worker (2), summary process "
        f"{raw['peak_rss_summary_mib']} MiB"
    )
    r_a_wall = round(_bench.median([r["assess_s"] for r in two]) / BUDGET, 3)
    r_a_cpu = round(_bench.median([r["assess_cpu_s"] for r in two]) / BUDGET, 3)
    r_wall = round(_bench.median(wall2) / BUDGET, 3)
    r_cpu = round(_bench.median(cpu2) / BUDGET, 3)
    rows = [
        Row(NAME, f"{count} hosts, assessment only, 2 processes: wall / 10 s", r_a_wall, "< 1",
            r_a_wall < 1, raw, note),
        Row(NAME, f"{count} hosts, assessment only, 2 processes: busiest worker CPU / 10 s",
            r_a_cpu, "< 1", r_a_cpu < 1, {}),
        Row(NAME, f"{count} hosts, assessment + host report files + summary: wall / 10 s",
            r_wall, "< 1", r_wall < 1, {}),
        Row(NAME, f"{count} hosts, assessment + host report files + summary: CPU / 10 s",
            r_cpu, "< 1", r_cpu < 1, {}),
    ]  # fmt: skip
    if forked is not None:
        per_host = forked["cpu_s"] / max(1, forked["hosts"])
        rows.append(
            Row(
                NAME,
                f"plugin path, one forked worker per host ({forked['hosts']} hosts): "
                f"CPU ms per host",
                round(per_host * 1000, 2),
                "-",
                None,
                {"forked": forked},
                note=(
                    f"{forked['hosts']} hosts, each in a worker forked after the plugin's import "
                    f"(as ansible does; import {forked['import_cpu_s'] * 1000:.0f} ms CPU once): "
                    f"{per_host * 1000:.1f} ms CPU per host (fork, assessment, report written "
                    f"with its digest, exit), {forked['wall_s']:.1f}s wall; load "
                    f"{forked['load_1min']:.1f}; ansible's own per-task cost comes on top"
                ),
            )
        )
    return rows
