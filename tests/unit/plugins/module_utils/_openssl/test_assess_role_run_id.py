# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role patchwise.openssl.assess: one run id per play, never one of an earlier play.

The fleet summary keeps only host reports carrying the play's run id, so that a host which
failed before its report was written is listed as missing instead of being counted with a report
an earlier run left behind. These tests run the real role with ansible-playbook on two local
inventory hosts (the facts are the recorded Debian 12 workstation facts of
tests/unit/fixtures/assess, set as cacheable facts, so nothing on this machine is scanned) and
read the reports and the JSON callback's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[5]
FACTS = REPO / "tests" / "unit" / "fixtures" / "assess" / "debian12-workstation-facts.json"
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")
ASSESS_TASK = "patchwise.openssl.assess : Assess OpenSSL against the vulnerability database"
SUMMARY_TASK = "patchwise.openssl.assess : Write the fleet summary on the controller"


def assess_play(name: str, report_dir: Path, **play: Any) -> dict[str, Any]:
    """A play that sets the recorded facts, optionally fails one host, then runs the role."""
    return {
        "name": name,
        "hosts": "all",
        "gather_facts": False,
        **play,
        "tasks": [
            {
                "name": "Set the recorded OpenSSL facts",
                "ansible.builtin.set_fact": {
                    "openssl": f"{{{{ lookup('ansible.builtin.file', '{FACTS}') | from_json }}}}",
                    "cacheable": True,
                },
            },
            {
                "name": "Fail the hosts named in pw_fail before the assessment",
                "ansible.builtin.fail": {"msg": "unreachable in this play"},
                "when": "inventory_hostname in pw_fail | default([])",
            },
            {
                "name": "Assess",
                "ansible.builtin.import_role": {"name": "patchwise.openssl.assess"},
                "vars": {
                    "assess_gather_facts": False,
                    "assess_report_dir": str(report_dir),
                    "assess_report_formats": ["json"],
                    "assess_show_summary": False,
                    "assess_set_stats": False,
                    "assess_max_db_age_days": 100000,
                },
            },
        ],
    }


@pytest.fixture
def run_plays(tmp_path: Path):
    if not PLAYBOOK_BIN.exists():
        pytest.skip("ansible-playbook not installed")
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    tree.mkdir(parents=True)
    (tree / "openssl").symlink_to(REPO)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        "web1 ansible_connection=local\nweb2 ansible_connection=local\n"
        f"[all:vars]\nansible_python_interpreter={sys.executable}\n"
    )

    def run(plays: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        playbook = tmp_path / "site.yml"
        playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
        env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.json",
            "ANSIBLE_LOCALHOST_WARNING": "false",
        }
        proc = subprocess.run(
            [str(PLAYBOOK_BIN), "-i", str(inventory), str(playbook)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=tmp_path,
        )
        assert proc.stdout.lstrip().startswith("{"), proc.stdout[-2000:] + proc.stderr[-3000:]
        return proc.returncode, json.loads(proc.stdout)

    return run


def results(output: dict[str, Any], play: str, task_name: str) -> list[tuple[str, Any]]:
    """(host, result) of one task in every batch of a play (the JSON callback lists each batch
    of a serial play as a play of its own), in order."""
    return [
        (host, result)
        for entry in output["plays"]
        if entry["play"]["name"] == play
        for task in entry["tasks"]
        if task["task"]["name"] == task_name
        for host, result in task["hosts"].items()
    ]


def run_ids(output: dict[str, Any], play: str) -> dict[str, str]:
    """host -> run id the assessment task stored in a play."""
    return {
        host: result["assessment"]["run_id"]
        for host, result in results(output, play, ASSESS_TASK)
        if "assessment" in result
    }


def summaries(output: dict[str, Any], play: str) -> list[dict[str, Any]]:
    """The fleet summaries a play wrote (one per batch), in order."""
    return [r["summary"] for _host, r in results(output, play, SUMMARY_TASK) if "summary" in r]


def test_a_host_failing_in_a_later_play_is_missing_not_counted(run_plays, tmp_path):
    reports = tmp_path / "reports"
    rc, out = run_plays(
        [
            assess_play("First assessment", reports),
            assess_play("Second assessment", reports, vars={"pw_fail": ["web2"]}),
        ]
    )
    assert rc == 2  # web2 failed in the second play
    first, second = run_ids(out, "First assessment"), run_ids(out, "Second assessment")
    assert set(first) == {"web1", "web2"} and len(set(first.values())) == 1
    assert set(second) == {"web1"}
    assert second["web1"] != first["web1"]
    summary = summaries(out, "Second assessment")[-1]
    assert summary["hosts_assessed"] == 1
    assert summary["hosts_missing"] == ["web2"]
    # web2's report on disk is the first play's; the summary file left it out
    web2 = json.loads((reports / "hosts" / "web2.json").read_text())
    assert web2["run_id"] == first["web2"]
    written = json.loads((reports / "summary.json").read_text())
    assert written["run_id"] == second["web1"]
    assert written["hosts_assessed"] == 1
    reason = "host report is from an earlier run (host failed or unreachable)"
    assert written["hosts_missing"] == [{"host": "web2", "reason": reason}]


def test_serial_batches_share_the_run_id_and_the_next_play_gets_its_own(run_plays, tmp_path):
    reports = tmp_path / "reports"
    rc, out = run_plays(
        [
            assess_play("Assessment in batches", reports, serial=1),
            assess_play(
                "Assessment in reverse batches", reports, serial=1, order="reverse_inventory"
            ),
        ]
    )
    assert rc == 0, out["stats"]
    batched = run_ids(out, "Assessment in batches")
    reverse = run_ids(out, "Assessment in reverse batches")
    assert set(batched) == set(reverse) == {"web1", "web2"}
    assert len(set(batched.values())) == 1
    assert len(set(reverse.values())) == 1
    assert set(batched.values()) != set(reverse.values())
    # the last batch's summary counts the hosts of both batches of its own play
    assert [s["hosts_assessed"] for s in summaries(out, "Assessment in batches")] == [1, 2]
    assert [s["hosts_assessed"] for s in summaries(out, "Assessment in reverse batches")] == [1, 2]


def test_an_explicit_run_id_is_used_as_given(run_plays, tmp_path):
    play = assess_play("Assessment with a given id", tmp_path / "reports")
    play["tasks"][2]["vars"]["assess_run_id"] = "awx-4242"
    rc, out = run_plays([play])
    assert rc == 0
    assert set(run_ids(out, "Assessment with a given id").values()) == {"awx-4242"}
