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
import random
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
# one Assessor assesses this worker's hosts (the action plugin keeps one per process), each
# host report is rendered (what the action plugin writes), and the fleet summary is built.
CHILD = r"""
import json, resource, sys, time, tracemalloc
from multiprocessing import Pool
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import controller_assess as ca
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess, report, vulndb)

def work(job):
    bases_path, count, worker, workers, today, trace = job
    with open(bases_path) as handle:
        bases = json.load(handle)
    hosts = ca.make_hosts(bases, count, worker, workers)
    if trace:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    assessor = assess.Assessor(vulndb.load_db(), today)
    results = {name: assessor.assess(facts, name) for name, facts in hosts.items()}
    assessed, assessed_cpu = time.perf_counter() - start, time.process_time() - cpu
    size = sum(len(report.render_host_json(r)) for r in results.values())
    rendered, rendered_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    keys = ("summary", "risk", "findings", "copies", "warnings", "host", "database", "gate")
    light = {n: {k: r.get(k) for k in keys} for n, r in results.items()}
    return {"assess_s": assessed, "assess_cpu_s": assessed_cpu, "render_s": rendered - assessed,
            "render_cpu_s": rendered_cpu - assessed_cpu, "peak": peak, "light": light,
            "bytes": size, "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "processes": sum(len(f["processes"]) for f in hosts.values())}

bases_path, count, workers = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
today, trace = sys.argv[6], sys.argv[7] == "1"
jobs = [(bases_path, count, w, workers, today, trace) for w in range(workers)]
if workers == 1:
    parts = [work(jobs[0])]
else:
    with Pool(workers) as pool:
        parts = pool.map(work, jobs)
results = {}
for part in parts:
    results.update(part.pop("light"))
t, c = time.perf_counter(), time.process_time()
summary = report.fleet_summary(results, generated_at=today)
report.render_html(summary); report.render_markdown(summary); report.render_json(summary)
print(json.dumps({
    "assess_s": max(p["assess_s"] for p in parts),
    "assess_cpu_s": max(p["assess_cpu_s"] for p in parts),
    "render_s": max(p["render_s"] for p in parts),
    "render_cpu_s": max(p["render_cpu_s"] for p in parts),
    "summary_s": time.perf_counter() - t, "summary_cpu_s": time.process_time() - c,
    "maxrss_mib": max(p["maxrss"] for p in parts) / 1024,
    "tracemalloc_peak_mib": (parts[0]["peak"] or 0) / 2**20,
    "hosts": len(results), "report_bytes": sum(p["bytes"] for p in parts),
    "processes": sum(p["processes"] for p in parts),
    "findings": sum(len(r["findings"]) for r in results.values()),
}))
"""


def _child(bases: Path, count: int, workers: int, trace: bool) -> dict[str, Any]:
    argv = [sys.executable, "-c", CHILD, str(_bench.COLLECTIONS), str(_bench.BENCH_DIR)]
    argv += [str(bases), str(count), str(workers), TODAY_ARG, "1" if trace else "0"]
    return json.loads(_bench.run(argv, timeout=900).stdout)


def _total(r: dict[str, Any], cpu: bool) -> float:
    suffix = "_cpu_s" if cpu else "_s"
    return float(r["assess" + suffix] + r["render" + suffix] + r["summary" + suffix])


def run(args: Any) -> list[Row]:
    _bench.ensure_collection_link()
    sys.path.insert(0, str(_bench.COLLECTIONS))
    count = int(args.facts_hosts)
    rounds = 3
    with tempfile.TemporaryDirectory() as tmp:
        bases_path = Path(tmp) / "bases.json"
        bases = {major: json.dumps(_gather_base(major)) for major in ("11", "12", "13")}
        bases_path.write_text(json.dumps(bases))
        one: list[dict[str, Any]] = []
        two: list[dict[str, Any]] = []
        for rnd in range(rounds):
            order = [(1, one), (2, two)] if rnd % 2 == 0 else [(2, two), (1, one)]
            for workers, bucket in order:
                bucket.append(_child(bases_path, count, workers, False))
            _bench.log(
                f"controller_assess round {rnd + 1}/{rounds}: 2 processes "
                f"{_total(two[-1], False):.2f}s wall ({_total(two[-1], True):.2f}s CPU), "
                f"1 process {_total(one[-1], False):.2f}s wall ({_total(one[-1], True):.2f}s CPU)"
            )
        traced = _child(bases_path, min(count, 2000), 1, True)
    wall2 = [_total(r, False) for r in two]
    cpu2 = [_total(r, True) for r in two]
    wall1 = [_total(r, False) for r in one]
    raw = {
        "wall_2proc_s": _bench.summary(wall2),
        "cpu_2proc_busiest_s": _bench.summary(cpu2),
        "wall_1proc_s": _bench.summary(wall1),
        "assess_cpu_1proc_s": _bench.summary([r["assess_cpu_s"] for r in one]),
        "render_cpu_1proc_s": _bench.summary([r["render_cpu_s"] for r in one]),
        "summary_cpu_s": _bench.summary([r["summary_cpu_s"] for r in one]),
        "peak_rss_1proc_mib": round(max(r["maxrss_mib"] for r in one), 1),
        "peak_rss_2proc_mib": round(max(r["maxrss_mib"] for r in two), 1),
        "tracemalloc_peak_per_2000_hosts_mib": round(traced["tracemalloc_peak_mib"], 1),
        "hosts": one[0]["hosts"],
        "processes": one[0]["processes"],
        "findings": one[0]["findings"],
        "report_mib": round(one[0]["report_bytes"] / 2**20, 1),
    }
    r_wall = round(_bench.median(wall2) / BUDGET, 3)
    r_cpu = round(_bench.median(cpu2) / BUDGET, 3)
    note = (
        f"{raw['hosts']} hosts from real Debian 11/12/13 facts ({raw['processes']} processes, "
        f"{raw['findings']} findings, {raw['report_mib']} MiB of host reports): 2 processes "
        f"{_bench.median(wall2):.1f}s wall, busiest worker {_bench.median(cpu2):.1f}s CPU; "
        f"1 process {_bench.median(wall1):.1f}s wall (assess "
        f"{raw['assess_cpu_1proc_s']['median']:.1f}s CPU + render host reports "
        f"{raw['render_cpu_1proc_s']['median']:.1f}s + summary "
        f"{raw['summary_cpu_s']['median']:.1f}s); peak RSS {raw['peak_rss_1proc_mib']} MiB "
        f"(1 process), {raw['peak_rss_2proc_mib']} MiB per worker (2)"
    )
    a_wall = [r["assess_s"] for r in two]
    a_cpu = [r["assess_cpu_s"] for r in two]
    raw["assess_only_2proc_wall_s"] = _bench.summary(a_wall)
    raw["assess_only_2proc_cpu_s"] = _bench.summary(a_cpu)
    r_a_wall = round(_bench.median(a_wall) / BUDGET, 3)
    r_a_cpu = round(_bench.median(a_cpu) / BUDGET, 3)
    return [
        Row(
            NAME,
            f"{count} hosts, assessment only, 2 processes: wall / 10 s",
            r_a_wall,
            "< 1",
            r_a_wall < 1,
            raw,
            note,
        ),
        Row(
            NAME,
            f"{count} hosts, assessment only, 2 processes: busiest worker CPU / 10 s",
            r_a_cpu,
            "< 1",
            r_a_cpu < 1,
            {},
        ),
        Row(
            NAME,
            f"{count} hosts, assessment + host reports + summary: wall / 10 s",
            r_wall,
            "< 1",
            r_wall < 1,
            {},
        ),
        Row(
            NAME,
            f"{count} hosts, assessment + host reports + summary: CPU / 10 s",
            r_cpu,
            "< 1",
            r_cpu < 1,
            {},
        ),
    ]
