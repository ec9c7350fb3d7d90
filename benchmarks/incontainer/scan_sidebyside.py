# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two versions of the process scan side by side, run INSIDE a benchmark container or on a host.

    scan_sidebyside.py <rounds> <label>=<collections dir> [<label>=<collections dir> ...]

Each round runs the floor (every /proc/PID/maps read once) and every given version of
``procscan.Scanner`` (built as facts.gather builds it), each in a fresh process, the order
rotated every round. Per contender: wall and CPU time (user + system of the scan itself,
``time.process_time``), medians and ranges; per version the ratio to the floor of the same
round (wall and CPU); and whether the versions report the same processes (fields compared
one by one, less the keys a version adds). Prints one JSON object.

The CPU ratio is the figure to trust on a loaded machine: wall times there depend on how
much of a CPU each process gets. Stdlib only, Python 3.9+. The floor and the scan are
scan_bench.py's (imported from this file's directory: run both from the same checkout, as
stale_scan.py mounts it read-only at the same path in the container).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

import scan_bench


def floor() -> dict[str, Any]:
    """The floor of scan_bench.py (every /proc/PID/maps read once), in this file's terms."""
    result = scan_bench.floor()
    return {"wall": result["seconds"], "cpu": result["cpu_seconds"], "pids": result["pids_read"]}


def scan(collections: str, dump: str) -> dict[str, Any]:
    """scan_bench.py's scan of one version; its processes go to ``dump`` when given."""
    result, wall, cpu = scan_bench.timed_scan(collections)
    out = {"wall": wall, "cpu": cpu}
    out["processes"] = len(result["processes"])
    out["stale"] = sum(1 for p in result["processes"] if p["stale"])
    if dump:
        with open(dump, "w", encoding="utf-8") as handle:
            json.dump(result["processes"], handle)
    return out


def _child(argv: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


_VOLATILE = {"exited"}


def _differences(dumps: dict[str, str]) -> dict[str, Any]:
    """Field-by-field comparison of the last round's outputs, on the pids both report."""
    loaded = {}
    for label, path in dumps.items():
        with open(path, encoding="utf-8") as handle:
            loaded[label] = {p["pid"]: p for p in json.load(handle)}
    labels = list(loaded)
    base = loaded[labels[0]]
    out: dict[str, Any] = {}
    for label in labels[1:]:
        other = loaded[label]
        common = set(base) & set(other)
        fields: dict[str, int] = {}
        for pid in common:
            left, right = base[pid], other[pid]
            for key in set(left) & set(right) - _VOLATILE:
                if left[key] != right[key]:
                    fields[key] = fields.get(key, 0) + 1
        out[f"{labels[0]} vs {label}"] = {
            "common_pids": len(common),
            f"only_{labels[0]}": sorted(set(base) - set(other))[:20],
            f"only_{label}": sorted(set(other) - set(base))[:20],
            "differing_fields": fields,
            "keys_added": sorted(
                set().union(*(set(p) for p in other.values()))
                - set().union(*(set(p) for p in base.values()))
            )
            if other and base
            else [],
        }
    return out


def main() -> None:
    if sys.argv[1] == "floor":
        print(json.dumps(floor()))
        return
    if sys.argv[1] == "scan":
        print(json.dumps(scan(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")))
        return
    rounds = int(sys.argv[1])
    versions = dict(arg.split("=", 1) for arg in sys.argv[2:])
    names = ["floor", *versions]
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    ratios: dict[str, dict[str, list[float]]] = {v: {"wall": [], "cpu": []} for v in versions}
    dumps = {label: f"/tmp/pw-sidebyside-{label}.json" for label in versions}
    for rnd in range(rounds):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        current: dict[str, dict[str, Any]] = {}
        for name in order:
            if name == "floor":
                current[name] = _child(["floor"])
            else:
                last = rnd == rounds - 1
                current[name] = _child(["scan", versions[name], dumps[name] if last else ""])
            samples[name].append(current[name])
        for label in versions:
            for kind in ("wall", "cpu"):
                ratios[label][kind].append(current[label][kind] / current["floor"][kind])
    print(
        json.dumps(
            {
                "rounds": rounds,
                "load": os.getloadavg(),
                "pids": samples["floor"][-1]["pids"],
                "times": {
                    n: {k: _stats([s[k] for s in samples[n]]) for k in ("wall", "cpu")}
                    for n in names
                },
                "ratio_to_floor": {
                    v: {k: _stats(ratios[v][k]) for k in ("wall", "cpu")} for v in versions
                },
                "reported": {
                    v: {"processes": samples[v][-1]["processes"], "stale": samples[v][-1]["stale"]}
                    for v in versions
                },
                "same_output": _differences(dumps),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
