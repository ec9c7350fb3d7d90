# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixture: run a filter plugin's EXAMPLES through a real ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")


@pytest.fixture
def run_examples(tmp_path: Path) -> Callable[[str], list[dict[str, Any]]]:
    """Return a function that runs EXAMPLES as a localhost play in ``tmp_path`` (files the test
    puts there, e.g. ``roles/``, sit next to the playbook) and returns the task results."""
    if not PLAYBOOK_BIN.exists():
        pytest.skip("ansible-playbook not installed")
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    tree.mkdir(parents=True)
    (tree / "openssl").symlink_to(REPO)

    def run(examples: str) -> list[dict[str, Any]]:
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": yaml.safe_load(examples)}]
        playbook = tmp_path / "examples.yml"
        playbook.write_text(yaml.safe_dump(play))
        env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        }
        argv = [str(PLAYBOOK_BIN), "-i", "localhost,", "-c", "local", str(playbook)]
        argv += ["-e", f"ansible_python_interpreter={sys.executable}"]
        proc = subprocess.run(
            argv, capture_output=True, text=True, check=False, env=env, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        result = json.loads(proc.stdout)
        return [task["hosts"]["localhost"] for task in result["plays"][0]["tasks"]]

    return run
