# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Round trip of two versions of the collection side by side (before / after a change).

    .venv/bin/python benchmarks/roundtrip_sidebyside.py <git revision> [--runs N] [--rounds N]

The given revision is exported with ``git archive`` next to the checkout (under .cache/) and
used as the "before" collection; the checkout is "after". The round-trip playbook of
``roundtrip.py`` (ping, openssl_facts, openssl_facts with ``candidates: false``, interleaved,
first round dropped) runs on a Debian 12 container (podman connection) and on localhost,
alternately with each version's collection, the order swapped every run. Prints one JSON
object: per version and host the medians and ratios to ping, and the module's own work (its
round trip less ping's, paired per round).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import _bench
import roundtrip


def _export(revision: str) -> Path:
    sha = _bench.run(["git", "-C", str(_bench.ROOT), "rev-parse", revision]).stdout.strip()
    top = _bench.CACHE / f"pw-bench-rev-{sha[:12]}"
    target = top / "ansible_collections" / "patchwise" / "openssl"
    if not (target / "plugins").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(_bench.ROOT), "archive", sha],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return top


def _stats(times: dict[str, list[float]]) -> dict[str, Any]:
    ping, facts, nocand = times["ping"], times["facts"], times["nocand"]
    own = [n - p for n, p in zip(nocand, ping)]
    own_cand = [f - p for f, p in zip(facts, ping)]
    return {
        "ping_s": _bench.median(ping),
        "facts_s": _bench.median(facts),
        "nocand_s": _bench.median(nocand),
        "facts_over_ping": _bench.ratio(facts, ping),
        "nocand_over_ping": _bench.ratio(nocand, ping),
        "module_work_s": _bench.median(own),
        "module_work_with_candidates_s": _bench.median(own_cand),
        "n": len(ping),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("--runs", type=int, default=4, help="playbook runs per version")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per playbook run")
    args = parser.parse_args()
    _bench.ensure_collection_link()
    versions = {"before": _export(args.revision), "after": _bench.COLLECTIONS}
    times: dict[tuple[str, str], dict[str, list[float]]] = {}
    loads = []
    with _bench.containers("rtsbs", 1) as names, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        inventory = tmpdir / "inventory.ini"
        inventory.write_text(roundtrip._inventory(names[0]))
        playbook = tmpdir / "roundtrip.yml"
        playbook.write_text(roundtrip._playbook(args.rounds, ["container", "local"]))
        for run in range(args.runs):
            order = list(versions) if run % 2 == 0 else list(reversed(versions))
            for label in order:
                loads.append(round(os.getloadavg()[0], 1))
                _wall, records = _bench.run_playbook(
                    playbook,
                    inventory,
                    tmpdir / f"timings-{label}-{run}.json",
                    extra_env={"ANSIBLE_COLLECTIONS_PATH": str(versions[label])},
                )
                for host, where in ((names[0], "container"), ("localhost", "local")):
                    split = roundtrip._split(records, host)
                    bucket = times.setdefault((label, where), {k: [] for k in split})
                    for key, values in split.items():
                        bucket[key].extend(values)
                _bench.log(f"roundtrip side by side: run {run + 1}/{args.runs} {label} done")
    print(
        json.dumps(
            {
                "revision": args.revision,
                "load_per_run": loads,
                "results": {f"{v} {w}": _stats(t) for (v, w), t in sorted(times.items())},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
