# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ansible-runner job of this collection and the artefacts AWX would keep of it.

Shared by the runner tests (pytest.ini puts this directory on ``sys.path``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import ansible_runner

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Job:
    """One ansible-runner job and its artefacts."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.events = list(runner.events)

    @property
    def artifacts(self) -> dict[str, Any]:
        """The ``set_stats`` data of the final ``playbook_on_stats`` event."""
        stats = [e for e in self.events if e["event"] == "playbook_on_stats"]
        assert len(stats) == 1
        return stats[0]["event_data"].get("artifact_data") or {}

    def task_names(self) -> set[str]:
        return {
            e["event_data"]["task"] for e in self.events if e["event"] == "playbook_on_task_start"
        }

    def plays(self) -> list[str]:
        return [
            e["event_data"]["play"] for e in self.events if e["event"] == "playbook_on_play_start"
        ]

    def hosts_in_play(self, play_prefix: str) -> set[str]:
        """Hosts with a task result in the plays whose name starts with ``play_prefix``."""
        return {
            e["event_data"]["host"]
            for e in self.events
            if e["event"].startswith("runner_on_")
            and e["event_data"].get("play", "").startswith(play_prefix)
            and e["event_data"].get("host")
        }

    def results(self, event: str, task: str) -> list[dict[str, Any]]:
        return [
            e["event_data"]
            for e in self.events
            if e["event"] == event and e["event_data"].get("task") == task
        ]


def run_job(path: Path, playbook: str, extravars: dict[str, Any], **kwargs: Any) -> Job:
    """Run ``playbook`` from ``path`` (a private data directory) with this checkout installed.

    The collection is linked into ``path/collections`` so the job finds it as AWX finds a
    project's collections; ``.cache/collections`` stays on the path for containers.podman.
    """
    collections = path / "collections" / "ansible_collections" / "patchwise"
    if not collections.exists():
        collections.mkdir(parents=True)
        (collections / "openssl").symlink_to(REPO)
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": f"{path / 'collections'}:{REPO / '.cache' / 'collections'}",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    runner = ansible_runner.run(
        private_data_dir=str(path),
        playbook=playbook,
        extravars=extravars,
        envvars=envvars,
        quiet=True,
        **kwargs,
    )
    return Job(runner)
