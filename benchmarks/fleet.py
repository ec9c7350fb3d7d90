# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 3: fleet assessment of 50 container hosts: assess playbook wall / fleet ping wall.

50 containers of localhost/patchwise-debian:12 (podman defaults as configured by
tests/hosts/setup-podman.sh: nofile/nproc capped at this machine's hard limits, no --memory),
one inventory with the containers.podman.podman connection. Contenders, interleaved and
repeated: a one-task ping playbook and the collection's assess playbook
(patchwise.openssl.assess: openssl_facts on every host, openssl_assess on the controller,
host reports, fleet summary). Same settings for both:

  forks 25            (ansible's default is 5; 2 CPUs here, podman exec is the bottleneck)
  pipelining on       (asked for; the podman connection plugin does not support it)
  gather_facts false  (neither needs ansible's setup facts)
  fact caching none   (the assess play uses the facts returned by openssl_facts in the same
                       play; a cache would only matter for re-assessing without gathering)
  interpreter /usr/bin/python3 given in the inventory (no discovery round trip)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import _bench
from _bench import Row

NAME = "fleet"
TARGET = 2.0
FORKS = 25
PING_PLAY = """---
- name: Fleet ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def run(args: Any) -> list[Row]:
    count = int(args.hosts)
    rounds = 2 if int(args.rounds) <= 7 else 3
    rows: list[Row] = []
    env = {"ANSIBLE_FORKS": str(FORKS)}
    fleet = _bench.containers("fleet", count, parallel=6)
    with fleet as names, tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        inventory = tmpdir / "inventory.ini"
        inventory.write_text(
            "[fleet]\n"
            + "".join(
                f"{n} ansible_connection=containers.podman.podman "
                "ansible_python_interpreter=/usr/bin/python3\n"
                for n in names
            )
        )
        ping_play = tmpdir / "ping.yml"
        ping_play.write_text(PING_PLAY)
        assess_play = _bench.ROOT / "playbooks" / "assess.yml"
        reports = tmpdir / "reports"
        _bench.log(f"fleet: {count} containers up, {rounds} interleaved rounds, forks {FORKS}")
        ping: list[float] = []
        assess: list[float] = []
        for rnd in range(rounds):
            order = ["ping", "assess"] if rnd % 2 == 0 else ["assess", "ping"]
            for which in order:
                if which == "ping":
                    wall, _rec = _bench.run_playbook(
                        ping_play, inventory, tmpdir / "ping.json", env
                    )
                    ping.append(wall)
                else:
                    wall, _rec = _bench.run_playbook(
                        assess_play,
                        inventory,
                        tmpdir / "assess.json",
                        env,
                        args=[
                            "-e",
                            f"assess_report_dir={reports}",
                            "-e",
                            "assess_show_summary=false",
                        ],
                    )
                    assess.append(wall)
            _bench.log(
                f"fleet round {rnd + 1}/{rounds}: ping {ping[-1]:.1f}s, assess {assess[-1]:.1f}s"
            )
        host_reports = len(list((reports / "hosts").glob("*.json")))
    value = _bench.ratio(assess, ping)
    rows.append(
        Row(
            NAME,
            f"assess playbook / ping playbook, {count} container hosts (forks {FORKS})",
            value,
            f"<= {TARGET}",
            None if value is None else value <= TARGET,
            {
                "ping_wall_s": _bench.summary(ping),
                "assess_wall_s": _bench.summary(assess),
                "host_reports": host_reports,
            },
            note=(
                f"forks {FORKS}, pipelining requested (unsupported by the podman connection), "
                "gather_facts false, no fact cache; walls include ansible-playbook start-up"
            ),
        )
    )
    return rows
