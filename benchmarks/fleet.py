# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 3: fleet assessment of 50 container hosts: assess playbook wall / fleet ping wall.

50 containers of localhost/patchwise-debian:12 named pw-bench-fleet-<id> (podman defaults as
configured by tests/hosts/setup-podman.sh), removed at the end whatever happens (run.py turns
SIGTERM/SIGHUP into an exception; the container context removes them in its ``finally``).

Contenders, on the same containers, interleaved (order swapped every round) and repeated: a
one-task ping playbook and the collection's assess playbook (patchwise.openssl.assess:
openssl_facts on every host, openssl_assess on the controller, host reports, fleet summary),
each over two transports:

  pipelined   benchmarks/fleet_plugins/connection/pw_podman_exec.py: one `podman exec -i` per
              module, the module on stdin — the shape of SSH with pipelining and ControlPersist
              (one exchange per module); the connection costs least here, so the figure is the
              honest one: what the assessment adds shows
  podman      containers.podman.podman as shipped: no pipelining, so a `podman mount`, a
              temporary directory, a copy, a chmod and the module run per module

Same settings for every run:

  forks 25            (ansible's default is 5; 2 CPUs here drive 25 workers)
  pipelining on       (ANSIBLE_PIPELINING; containers.podman.podman ignores it)
  gather_facts false  (neither playbook needs ansible's setup facts)
  fact caching none   (the assess play uses the facts openssl_facts returns in the same play;
                       a cache only matters for re-assessing without touching the hosts)
  interpreter /usr/bin/python3 given in the inventory (no discovery round trip)

The benchmark callback records every task's start and end per host; the profile row splits the
assess playbook's wall time into ansible's start-up and each task's span (first host's start to
last host's end: the linear strategy runs one task on every host before the next).
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import _bench
from _bench import Row

NAME = "fleet"
TARGET = 2.0
FORKS = 25
PLUGINS = _bench.BENCH_DIR / "fleet_plugins" / "connection"
TRANSPORTS = {
    "pipelined": "pw_podman_exec",
    "podman": "containers.podman.podman",
}
PING_PLAY = """---
- name: Fleet ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def _inventory(path: Path, names: list[str], connection: str) -> None:
    path.write_text(
        "[fleet]\n"
        + "".join(
            f"{n} ansible_connection={connection} ansible_python_interpreter=/usr/bin/python3\n"
            for n in names
        )
    )


def _spans(wall: float, records: list[dict[str, Any]]) -> dict[str, float]:
    """Wall time of each task across the fleet, and the rest (start-up, play set-up, exit)."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for rec in records:
        if rec.get("start") is None:
            continue
        task = str(rec["task"])
        first[task] = min(first.get(task, rec["start"]), rec["start"])
        last[task] = max(last.get(task, rec["end"]), rec["end"])
    spans = {task: last[task] - first[task] for task in first}
    spans["(ansible start-up, play set-up, exit)"] = wall - sum(spans.values())
    return spans


def _profile(spans: list[dict[str, float]]) -> dict[str, float]:
    """Median span of each task over the rounds, largest first."""
    per_task: dict[str, list[float]] = defaultdict(list)
    for run in spans:
        for task, seconds in run.items():
            per_task[task].append(seconds)
    medians = {task: round(_bench.median(v), 2) for task, v in per_task.items()}
    return dict(sorted(medians.items(), key=lambda item: -item[1]))


def _med(values: list[float]) -> str:
    return f"{_bench.median(values):.1f}" if values else "n/a"


class _Runner:
    """Runs the two playbooks over one transport and keeps walls, loads and task spans."""

    def __init__(self, tmpdir: Path, names: list[str], transport: str) -> None:
        self.transport = transport
        self.inventory = tmpdir / f"inventory-{transport}.ini"
        _inventory(self.inventory, names, TRANSPORTS[transport])
        self.ping_play = tmpdir / "ping.yml"
        self.ping_play.write_text(PING_PLAY)
        self.reports = tmpdir / f"reports-{transport}"
        self.timings = tmpdir / f"timings-{transport}.json"
        self.env = {"ANSIBLE_FORKS": str(FORKS), "ANSIBLE_CONNECTION_PLUGINS": str(PLUGINS)}
        self.walls: dict[str, list[float]] = {"ping": [], "assess": []}
        self.loads: list[float] = []
        self.spans: list[dict[str, float]] = []
        self.cgroups = _bench.cgroup_cpu_files(names)
        self.cpu: dict[str, dict[str, list[float]]] = {
            which: {"controller": [], "containers": []} for which in ("ping", "assess")
        }

    def once(self, which: str) -> float:
        self.loads.append(os.getloadavg()[0])
        self.timings.unlink(missing_ok=True)
        controller0 = _bench.children_cpu_seconds()
        containers0 = _bench.cgroup_cpu_seconds(self.cgroups)
        if which == "ping":
            wall, _records = _bench.run_playbook(
                self.ping_play, self.inventory, self.timings, self.env
            )
        else:
            wall, records = _bench.run_playbook(
                _bench.ROOT / "playbooks" / "assess.yml",
                self.inventory,
                self.timings,
                self.env,
                args=[
                    "-e",
                    f"assess_report_dir={self.reports}",
                    "-e",
                    "assess_show_summary=false",
                ],
            )
            self.spans.append(_spans(wall, records))
        self.walls[which].append(wall)
        self.cpu[which]["controller"].append(_bench.children_cpu_seconds() - controller0)
        containers1 = _bench.cgroup_cpu_seconds(self.cgroups)
        if containers0 is not None and containers1 is not None:
            self.cpu[which]["containers"].append(containers1 - containers0)
        return wall

    def row(self, count: int) -> Row:
        ping, assess = self.walls["ping"], self.walls["assess"]
        value = _bench.ratio(assess, ping)
        reports = len(list((self.reports / "hosts").glob("*.json")))
        profile = _profile(self.spans)
        cpu = self.cpu
        top = "; ".join(f"{task} {secs:g}" for task, secs in list(profile.items())[:4])
        return Row(
            NAME,
            f"assess playbook / ping playbook, {count} container hosts, "
            f"{self.transport} ({TRANSPORTS[self.transport]}, forks {FORKS})",
            value,
            f"<= {TARGET}",
            None if value is None else value <= TARGET,
            {
                "ping_wall_s": _bench.summary(ping),
                "assess_wall_s": _bench.summary(assess),
                "load_1min": _bench.summary(self.loads),
                "controller_cpu_s": {k: _bench.summary(v["controller"]) for k, v in cpu.items()},
                "containers_cpu_s": {k: _bench.summary(v["containers"]) for k, v in cpu.items()},
                "host_reports": reports,
                "assess_profile_s": profile,
            },
            note=(
                f"{self.transport}: ping {_bench.median(ping):.1f} s, assess "
                f"{_bench.median(assess):.1f} s (medians of {len(ping)}); CPU on the controller "
                f"(ansible + podman clients) ping {_med(cpu['ping']['controller'])} s, assess "
                f"{_med(cpu['assess']['controller'])} s; CPU in the containers ping "
                f"{_med(cpu['ping']['containers'])} s, assess "
                f"{_med(cpu['assess']['containers'])} s; "
                "load average "
                f"{min(self.loads):.1f}-{max(self.loads):.1f}; assess spans (s): {top}"
            ),
        )


def run(args: Any) -> list[Row]:
    count = int(args.hosts)
    rounds = int(getattr(args, "fleet_rounds", 3))
    selected = [t for t in str(getattr(args, "fleet_transports", "")).split(",") if t]
    selected = selected or list(TRANSPORTS)
    unknown = [t for t in selected if t not in TRANSPORTS]
    if unknown:
        raise _bench.BenchError(f"unknown transport(s) {unknown}; known: {list(TRANSPORTS)}")
    with (
        _bench.containers("fleet", count, parallel=6) as names,
        tempfile.TemporaryDirectory() as tmp,
    ):
        runners = [_Runner(Path(tmp), names, t) for t in selected]
        _bench.log(
            f"fleet: {count} containers up, {rounds} interleaved rounds, forks {FORKS}, "
            f"transports {', '.join(selected)}"
        )
        for rnd in range(rounds):
            order = ["ping", "assess"] if rnd % 2 == 0 else ["assess", "ping"]
            for runner in runners if rnd % 2 == 0 else reversed(runners):
                for which in order:
                    runner.once(which)
                _bench.log(
                    f"fleet round {rnd + 1}/{rounds} {runner.transport}: ping "
                    f"{runner.walls['ping'][-1]:.1f}s, assess {runner.walls['assess'][-1]:.1f}s "
                    f"(load {os.getloadavg()[0]:.1f})"
                )
        return [runner.row(count) for runner in runners]
