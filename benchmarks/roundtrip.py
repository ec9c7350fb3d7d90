# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 1: openssl_facts round trip / ansible.builtin.ping round trip, same host, same settings.

Hosts: a Debian 12 container (connection containers.podman.podman) and this machine
(connection local). One playbook per host, tasks interleaved ping / facts / facts with
``candidates: false`` (no package-cache query), the order rotated every round; the first round
is a warm-up and is dropped. Per-task wall times come from the
benchmark callback (start of the task on the host to its result). Same ansible settings for
both: pipelining on (the podman connection plugin does not support it and ignores it),
gather_facts false, the interpreter given explicitly (no discovery).

Then facts.gather (the module's code) is profiled directly on both hosts with cProfile, and the
commands it runs are timed one by one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import _bench
from _bench import Row

NAME = "roundtrip"
TARGET = 1.5
FACTS = "patchwise.openssl.openssl_facts"


CONTENDERS = (
    ("ping", "ansible.builtin.ping:\n"),
    ("facts", f"{FACTS}:\n"),
    # what the module costs without the package manager's candidate query
    ("nocand", f"{FACTS}:\n        candidates: false\n"),
    # its core alone: every optional part off (no candidates, processes, runtimes, changelogs,
    # live patching, extra directories) - distro, linker cache, CLI, libraries and their
    # owners remain: what this implementation costs at the least on the connection
    (
        "core",
        f"{FACTS}:\n        candidates: false\n        processes: false\n"
        "        listening: false\n        runtimes: false\n        changelog: false\n"
        "        livepatch: false\n        extra_library_paths: []\n",
    ),
)


def _playbook(rounds: int, groups: list[str]) -> str:
    plays = []
    for group in groups:
        tasks = []
        for rnd in range(rounds + 1):
            shift = rnd % len(CONTENDERS)
            for label, call in CONTENDERS[shift:] + CONTENDERS[:shift]:
                tasks.append(f"    - name: r{rnd} {label}\n      {call}")
        plays.append(
            f"- name: round trips on {group}\n  hosts: {group}\n  gather_facts: false\n"
            "  tasks:\n" + "".join(tasks)
        )
    return "---\n" + "\n".join(plays)


def _inventory(container: str) -> str:
    return (
        "[container]\n"
        f"{container} ansible_connection=containers.podman.podman "
        "ansible_python_interpreter=/usr/bin/python3\n"
        "[local]\n"
        "localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n"
    )


def _split(records: list[dict[str, Any]], host: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label, _call in CONTENDERS}
    for rec in records:
        if rec["host"] != host or rec["status"] != "ok" or rec["seconds"] is None:
            continue
        rnd, _sep, label = rec["task"].partition(" ")
        if rnd == "r0" or label not in times:  # warm-up round
            continue
        times[label].append(rec["seconds"])
    return times


def _profile_local() -> dict[str, Any]:
    script = _bench.BENCH_DIR / "incontainer" / "profile_facts.py"
    out = _bench.run(["/usr/bin/python3", str(script), str(_bench.COLLECTIONS), "3"]).stdout
    return json.loads(out)


def _profile_container(name: str) -> dict[str, Any]:
    out = _bench.podman_exec(
        name,
        [
            "python3",
            "/work/main/benchmarks/incontainer/profile_facts.py",
            "/work/main/.cache/collections",
            "3",
        ],
    ).stdout
    return json.loads(out)


def _profile_note(label: str, prof: dict[str, Any]) -> str:
    total = _bench.median(prof["gather_seconds"])
    cmds = sorted(prof["commands"], key=lambda c: -c["seconds"])
    in_cmds = sum(c["seconds"] for c in prof["commands"])
    top = "; ".join(f"`{c['argv'][:60]}` {c['seconds']:.3f}s" for c in cmds[:4])
    return (
        f"{label}: facts.gather {total:.3f}s median, of which {in_cmds:.3f}s in "
        f"{len(cmds)} commands (top: {top})"
    )


def run(args: Any) -> list[Row]:
    rounds = int(args.rounds)
    _bench.ensure_collection_link()
    rows: list[Row] = []
    mount = ["-v", f"{_bench.ROOT}:{_bench.ROOT}:ro"]
    with _bench.containers("rt", 1, extra=mount) as names, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        inventory = tmpdir / "inventory.ini"
        inventory.write_text(_inventory(names[0]))
        playbook = tmpdir / "roundtrip.yml"
        playbook.write_text(_playbook(rounds, ["container", "local"]))
        _bench.log(f"roundtrip: {rounds} interleaved rounds on {names[0]} and localhost")
        _wall, records = _bench.run_playbook(playbook, inventory, tmpdir / "timings.json")
        profiles = {"container": _profile_container(names[0]), "local": _profile_local()}
    for host, label in ((names[0], "container"), ("localhost", "local")):
        times = _split(records, host)
        ping, facts, nocand = times["ping"], times["facts"], times["nocand"]
        value = _bench.ratio(facts, ping)
        prof = profiles[label]
        where = "Debian 12 container, podman" if label == "container" else "localhost, local"
        rows.append(
            Row(
                part=NAME,
                figure=f"openssl_facts / ping round trip ({where})",
                ratio=value,
                target=f"<= {TARGET}",
                met=None if value is None else value <= TARGET,
                raw={
                    "ping_s": _bench.summary(ping),
                    "facts_s": _bench.summary(facts),
                    "gather_s": _bench.summary(prof["gather_seconds"]),
                    "processes_mapping_openssl": prof["processes"],
                    "commands": prof["commands"],
                    "profile_top": prof["profile"].splitlines()[:45],
                },
                note=_profile_note(label, prof),
            )
        )
        no_cand = _bench.ratio(nocand, ping)
        # the module's own work: its round trip less ping's (connection, interpreter start,
        # module transfer and ansible's module_utils are in both)
        own = [f - p for f, p in zip(nocand, ping)]
        rows.append(
            Row(
                part=NAME,
                figure=f"openssl_facts candidates: false / ping round trip ({where})",
                ratio=no_cand,
                target="(info)",
                met=None,
                raw={
                    "nocand_s": _bench.summary(nocand),
                    "module_work_over_ping_s": _bench.summary(own),
                },
            )
        )
        core = _bench.ratio(times["core"], ping)
        rows.append(
            Row(
                part=NAME,
                figure=f"openssl_facts with every optional part off / ping ({where})",
                ratio=core,
                target="(bound)",
                met=None,
                raw={"core_s": _bench.summary(times["core"])},
                note="the module's core, every optional part off (distro, linker cache, CLI, "
                "libraries and their owning packages): this implementation's floor on the "
                "same connection; the full module adds the process scan, candidates, "
                "runtimes and changelogs",
            )
        )
    return rows
