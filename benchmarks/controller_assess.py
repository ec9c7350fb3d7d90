# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 5: controller-side assessment of 10,000 hosts' facts (target < 10 s on 2 cores).

Base facts are gathered for real (facts.gather, the module's code) in Debian 11, 12 and 13
containers, each with a long-running Python process that maps libssl/libcrypto, then every
host is derived from one of them with variations: pids, the OpenSSL package version across
the distribution's real versions (the changelog CVE map trimmed to that version), stale
processes, listening sockets, and a vendored copy on some hosts.

Measured in a child process per run: the assessment of every host (one Assessor, as the action
plugin keeps one per controller process), the host report rendering (render_json, what the
action plugin writes per host) and the fleet summary; with 1 process and with 2 processes
(hosts split in halves: ansible's forks do the same), interleaved and repeated. Peak memory is
the child's ru_maxrss; tracemalloc gives the peak of Python allocations during the assessment.
"""

from __future__ import annotations

import copy
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


def _vary(base: dict[str, Any], major: str, rng: random.Random, index: int) -> dict[str, Any]:
    facts = copy.deepcopy(base)
    sys.path.insert(0, str(_bench.COLLECTIONS))
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.assess import (
        dpkg_compare,
    )

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
    template = facts["processes"][0] if facts["processes"] else None
    processes = []
    if template is not None:
        for pid in range(300, 300 + rng.randint(10, 60)):
            proc = copy.deepcopy(template)
            stale = rng.random() < 0.05
            proc.update({"pid": pid, "ppid": 1, "master_pid": pid, "stale": stale})
            port = rng.choice(PORTS) if rng.random() < 0.3 else None
            listen = {"proto": "tcp", "address": "0.0.0.0", "port": port}  # noqa: S104
            proc["listening"] = [listen] if port else []
            for lib in proc["libraries"]:
                lib.update(
                    {"stale": stale, "deleted": stale, "stale_reason": "deleted" if stale else None}
                )
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


def build_fleet(count: int, path: Path) -> dict[str, int]:
    bases = {major: _gather_base(major) for major in ("11", "12", "13")}
    rng = random.Random(20261122)  # noqa: S311 - reproducible benchmark data
    fleet = {}
    majors = list(bases)
    for i in range(count):
        major = majors[i % 3]
        fleet[f"host{i:05d}"] = _vary(bases[major], major, rng, i)
    path.write_text(json.dumps(fleet))
    return {
        "processes": sum(len(f["processes"]) for f in fleet.values()),
        "bytes": path.stat().st_size,
    }


CHILD = r"""
import json, os, resource, sys, time, tracemalloc
from multiprocessing import Pool
sys.path.insert(0, sys.argv[1])
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess, report, vulndb)

def work(chunk):
    path, names, today, trace = chunk
    with open(path) as handle:
        fleet = json.load(handle)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    assessor = assess.Assessor(vulndb.load_db(), today)
    results = {}
    for name in names:
        results[name] = assessor.assess(fleet[name], name)
    assessed = time.perf_counter() - start
    rendered = [report.render_json(r) for r in results.values()]
    rendered_s = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    light = {n: {"summary": r["summary"], "risk": r["risk"], "findings": r["findings"],
                 "copies": r.get("copies", []), "warnings": r.get("warnings", [])}
             for n, r in results.items()}
    return assessed, rendered_s, peak, light, sum(len(t) for t in rendered)

path, workers, today, trace = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
with open(path) as handle:
    names = sorted(json.load(handle))
start = time.perf_counter()
chunks = [(path, names[i::workers], today, trace) for i in range(workers)]
if workers == 1:
    parts = [work(chunks[0])]
else:
    with Pool(workers) as pool:
        parts = pool.map(work, chunks)
after_assess = time.perf_counter() - start
results = {}
for part in parts:
    results.update(part[3])
t = time.perf_counter()
summary = report.fleet_summary(results, generated_at=today)
report.render_html(summary); report.render_markdown(summary); report.render_json(summary)
summary_s = time.perf_counter() - t
print(json.dumps({
    "assess_s": max(p[0] for p in parts), "assess_render_s": max(p[1] for p in parts),
    "wall_s": time.perf_counter() - start, "summary_s": summary_s,
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "children_maxrss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "tracemalloc_peak_mib": (parts[0][2] or 0) / 2**20,
    "hosts": len(results), "report_bytes": sum(p[4] for p in parts),
    "findings": sum(len(r["findings"]) for r in results.values()),
}))
"""


def _child(fleet: Path, workers: int, trace: bool) -> dict[str, Any]:
    out = _bench.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(_bench.COLLECTIONS),
            str(fleet),
            str(workers),
            TODAY_ARG,
            "1" if trace else "0",
        ],
        timeout=600,
    ).stdout
    return json.loads(out)


def run(args: Any) -> list[Row]:
    _bench.ensure_collection_link()
    count = int(args.facts_hosts)
    rounds = max(3, int(args.rounds) - 2)
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp) / "fleet.json"
        info = build_fleet(count, fleet)
        _bench.log(
            f"controller_assess: {count} hosts, {info['processes']} processes, "
            f"{info['bytes'] / 2**20:.0f} MiB of facts"
        )
        one: list[dict[str, Any]] = []
        two: list[dict[str, Any]] = []
        for rnd in range(rounds):
            order = [(1, one), (2, two)] if rnd % 2 == 0 else [(2, two), (1, one)]
            for workers, bucket in order:
                bucket.append(_child(fleet, workers, False))
            _bench.log(
                f"controller_assess round {rnd + 1}/{rounds}: 1 process "
                f"{one[-1]['wall_s']:.2f}s, 2 processes {two[-1]['wall_s']:.2f}s"
            )
        traced = _child(fleet, 1, True)
    walls1 = [r["wall_s"] for r in one]
    walls2 = [r["wall_s"] for r in two]
    raw = {
        "wall_2proc_s": _bench.summary(walls2),
        "wall_1proc_s": _bench.summary(walls1),
        "assess_only_1proc_s": _bench.summary([r["assess_s"] for r in one]),
        "summary_s": _bench.summary([r["summary_s"] for r in one]),
        "peak_rss_1proc_mib": round(max(r["maxrss_mib"] for r in one), 1),
        "peak_rss_2proc_worker_mib": round(max(r["children_maxrss_mib"] for r in two), 1),
        "tracemalloc_peak_mib": round(traced["tracemalloc_peak_mib"], 1),
        "hosts": one[0]["hosts"],
        "findings": one[0]["findings"],
        "facts_mib": round(info["bytes"] / 2**20, 1),
        "processes": info["processes"],
    }
    r2 = round(_bench.median(walls2) / BUDGET, 3)
    r1 = round(_bench.median(walls1) / BUDGET, 3)
    note = (
        f"{raw['hosts']} hosts ({raw['processes']} processes, {raw['findings']} findings): "
        f"2 processes {_bench.median(walls2):.2f}s, 1 process {_bench.median(walls1):.2f}s "
        "(load facts, assess, render host reports, fleet summary in 3 formats); peak RSS "
        f"{raw['peak_rss_1proc_mib']} MiB (1 process), tracemalloc peak "
        f"{raw['tracemalloc_peak_mib']} MiB"
    )
    return [
        Row(
            NAME,
            f"{count} hosts on 2 cores (2 processes): wall / 10 s budget",
            r2,
            "< 1",
            r2 < 1,
            raw,
            note,
        ),
        Row(NAME, f"{count} hosts in 1 process: wall / 10 s budget", r1, "(info)", None, {}),
    ]
