# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Single entry point of the benchmarks (`make bench`).

    benchmarks/run.py                       every part at full size, one table (`make bench`)
    benchmarks/run.py --quick               smaller sizes, fewer rounds: a few minutes
                                            (`make bench BENCH_QUICK=1`)
    benchmarks/run.py --only stale_scan     one part (comma-separated list allowed)
    benchmarks/run.py --list                the parts
    benchmarks/run.py --hosts 20 ...        any size on its own (see --help)

Prints one table of ratios (each measured side by side in the same run, with the raw times) and
writes it to benchmarks/results/bench.md and bench.json (plus a time-stamped copy).
Containers are named pw-bench-<part>-<id> and removed at the end of each part, failure or not
(SIGINT, SIGTERM and SIGHUP included). Prints the total time and each part's, with the load.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import signal
import sys
import time
import traceback
from types import FrameType
from typing import Any

import _bench
from _bench import Row

PARTS = ("roundtrip", "stale_scan", "fleet", "refresh_load", "controller_assess")
DESCRIPTIONS = {
    "roundtrip": "1. openssl_facts round trip / ping round trip (container and localhost)",
    "stale_scan": "2. stale scan (--processes, 2,000; two populations): needrestart / ours, "
    "ours / floor, recall",
    "fleet": "3. assess playbook / fleet ping (--hosts, 50 container hosts)",
    "refresh_load": "4. refresh under TLS load: naive restart vs openssl_refresh",
    "controller_assess": "5. controller assessment of 10,000 hosts' facts (--facts-hosts)",
}

# Every size a part takes: (full default, --quick). Full is what the targets are about.
SIZES = (
    ("rounds", int, "roundtrip/stale_scan: repetitions per contender"),
    ("processes", int, "stale_scan: process count"),
    ("scan_populations", str, "stale_scan: minimal,sshd-like (maps of sleep+libcrypto / of sshd)"),
    ("hosts", int, "fleet: container hosts"),
    ("fleet_rounds", int, "fleet: interleaved rounds"),
    ("fleet_transports", str, "fleet: pipelined,podman"),
    ("runs", int, "refresh_load: runs per contender"),
    ("facts_hosts", int, "controller_assess: hosts"),
    ("controller_rounds", int, "controller_assess: interleaved rounds"),
    ("forked_hosts", int, "controller_assess: hosts of the forked plugin-path sample"),
)
SIZE_DEFAULTS: dict[str, tuple[Any, Any]] = {
    "rounds": (7, 3),
    "processes": (2000, 200),
    "scan_populations": ("minimal,sshd-like", "minimal,sshd-like"),
    "hosts": (50, 20),
    "fleet_rounds": (3, 1),
    "fleet_transports": ("pipelined,podman", "pipelined"),
    "runs": (1, 1),
    "facts_hosts": (10000, 10000),
    "controller_rounds": (3, 1),
    "forked_hosts": (300, 100),
}


def _on_term(signum: int, _frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so every `finally` removes its containers.
    raise KeyboardInterrupt(f"signal {signum}")


def _machine() -> dict[str, Any]:
    mem = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    distro = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "distro": distro,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg(),
    }


def _fmt_ratio(row: Row) -> str:
    return "n/a" if row.ratio is None else f"{row.ratio:g}"


def _fmt_met(row: Row) -> str:
    return {True: "yes", False: "**no**", None: "-"}[row.met]


def _raw_brief(raw: dict[str, Any]) -> str:
    parts = []
    for key, value in raw.items():
        if isinstance(value, dict) and "median" in value:
            parts.append(f"{key} {value['median']:g} (n={value['n']})")
        elif isinstance(value, (int, float, str)) and len(str(value)) < 40:
            parts.append(f"{key} {value}")
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _timing_brief(timing: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{name} {_duration(t['seconds'])} (load {t['load_1min_start']}-{t['load_1min_end']})"
        for name, t in timing.items()
    ]


def render_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    machine = meta["machine"]
    sizes = ", ".join(f"{k} {v}" for k, v in meta["sizes"].items())
    lines = [
        f"Run {meta['started']} UTC, {_duration(meta['seconds'])}"
        f"{' (--quick)' if meta['quick'] else ''}; {machine['cpus']} CPUs, "
        f"{machine['memory_gib']} GiB, {machine['distro']}, kernel {machine['kernel']}, "
        f"load at start {', '.join(f'{x:.1f}' for x in machine['load_at_start'])}.",
        "",
        f"Parts (1-minute load average at start-end): "
        f"{'; '.join(_timing_brief(meta['part_seconds']))}. Sizes: {sizes}.",
        "",
        "| part | figure | ratio (medians) | target | met | raw medians (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.part} | {row.figure} | {_fmt_ratio(row)} | {row.target} | "
            f"{_fmt_met(row)} | {_raw_brief(row.raw)} |"
        )
    notes = list(dict.fromkeys(f"- {row.part}: {row.note}" for row in rows if row.note))
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def render_text(rows: list[Row]) -> str:
    header = ("part", "figure", "ratio", "target", "met")
    table = [header] + [
        (r.part, r.figure, _fmt_ratio(r), r.target, _fmt_met(r).strip("*")) for r in rows
    ]
    widths = [min(max(len(str(line[i])) for line in table), 70) for i in range(len(header))]
    out = []
    for i, line in enumerate(table):
        out.append("  ".join(str(cell)[:70].ljust(widths[j]) for j, cell in enumerate(line)))
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def run_part(name: str, args: argparse.Namespace) -> list[Row]:
    module = importlib.import_module(name)
    start = time.perf_counter()
    _bench.log(f"== {DESCRIPTIONS[name]}")
    try:
        rows: list[Row] = module.run(args)
    except _bench.BenchError as exc:
        rows = [Row(name, "did not run", None, "-", None, note=str(exc)[:600])]
    except Exception as exc:  # a broken part must not hide the others' results
        traceback.print_exc()
        rows = [Row(name, "failed", None, "-", None, note=f"{type(exc).__name__}: {exc}"[:600])]
    _bench.log(f"== {name}: {time.perf_counter() - start:.0f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", default=[], help="part(s) to run")
    parser.add_argument("--list", action="store_true", help="list the parts and exit")
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer rounds (a few minutes)"
    )
    for name, kind, helptext in SIZES:
        full, quick = SIZE_DEFAULTS[name]
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"{helptext} (default {full}; --quick {quick})",
        )
    args = parser.parse_args(argv)
    for name, _kind, _help in SIZES:
        if getattr(args, name) is None:
            setattr(args, name, SIZE_DEFAULTS[name][1 if args.quick else 0])
    if args.list:
        for name in PARTS:
            print(f"{name:18} {DESCRIPTIONS[name]}")
        return 0
    selected = [p for item in args.only for p in item.split(",") if p] or list(PARTS)
    unknown = [p for p in selected if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    started = datetime.datetime.now(datetime.timezone.utc)
    meta: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%d %H:%M"),
        "machine": _machine(),
        "parts": selected,
        "quick": args.quick,
        "sizes": {name: getattr(args, name) for name, _kind, _help in SIZES},
    }
    rows: list[Row] = []
    t0 = time.perf_counter()
    timing: dict[str, dict[str, Any]] = {}
    try:
        for name in selected:
            load, start = os.getloadavg()[0], time.perf_counter()
            rows += run_part(name, args)
            timing[name] = {
                "seconds": round(time.perf_counter() - start, 1),
                "load_1min_start": round(load, 1),
                "load_1min_end": round(os.getloadavg()[0], 1),
            }
    finally:
        meta["seconds"] = time.perf_counter() - t0
        meta["part_seconds"] = timing
        _bench.log(f"total {_duration(meta['seconds'])} ({', '.join(_timing_brief(timing))})")
    _bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(rows, meta)
    data = {"meta": meta, "rows": [r.as_dict() for r in rows]}
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for stem in ("bench", f"bench-{stamp}"):
        (_bench.RESULTS_DIR / f"{stem}.md").write_text(markdown, encoding="utf-8")
        (_bench.RESULTS_DIR / f"{stem}.json").write_text(
            json.dumps(data, indent=1) + "\n", encoding="utf-8"
        )
    print()
    print(render_text(rows))
    print()
    for note in dict.fromkeys(f"- {row.part}: {row.note}" for row in rows if row.note):
        print(note)
    print(f"\nwritten: {_bench.RESULTS_DIR / 'bench.md'} and bench.json")
    print(f"total time {_duration(meta['seconds'])}: {', '.join(_timing_brief(timing))}")
    return 0 if all(r.met is not False and r.ratio is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
