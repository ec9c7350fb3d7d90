# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's playbooks run through ansible-runner, the way AWX runs a job.

Each job gets a private data directory (project/, inventory/, env/), extra variables as a
survey passes them (strings for numbers and booleans, lists for multiselect questions), and the
assertions read the runner's artefacts: job events, the final stats and the set_stats data of
the ``playbook_on_stats`` event (what AWX stores as the job's artifacts and hands to the next
workflow node).

The assessment runs as two job slices (``--limit`` one host each, separate report directories,
as two AWX slice jobs in two containers would); the unattended decision then gets both slices'
summaries. Run:
``PYTHONPATH=.cache/collections .venv/bin/python -m pytest tests/integration_runner``
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import awx
from runner_job import REPO, Job, run_job

HOSTS = """\
[staging]
web1 ansible_connection=local
[production]
web2 ansible_connection=local
[all:vars]
ansible_python_interpreter={python}
"""
ASSESS_TASKS = {
    "Gather OpenSSL facts in one pass",
    "Assess OpenSSL against the vulnerability database",
    "Write the fleet summary on the controller",
    "Publish the fleet summary for workflows",
}


def make_private_data_dir(path: Path, playbooks: list[str]) -> Path:
    (path / "project").mkdir(parents=True)
    (path / "inventory").mkdir()
    (path / "inventory" / "hosts").write_text(HOSTS.format(python=sys.executable))
    for name in playbooks:
        shutil.copy(REPO / "playbooks" / name, path / "project" / name)
    return path


# Survey answers as AWX passes them: numbers and booleans of text/multiplechoice questions as
# strings, multiselect answers as lists.
SURVEY = {
    "assess_gather_facts": "true",
    "assess_max_db_age_days": "1095",
    "assess_scan_budget": "5",
    "assess_fail_on": "none",
    "assess_report_formats": ["json", "markdown"],
    "assess_host_reports": "true",
    "assess_show_summary": "false",
    "assess_set_stats": "true",
}


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> list[Job]:
    """The assessment as two job slices of one host each (as AWX slices a 2-host inventory)."""
    path = make_private_data_dir(tmp_path_factory.mktemp("assess"), ["assess.yml"])
    jobs = []
    for number, host in enumerate(("web1", "web2"), 1):
        extravars = {
            **SURVEY,
            "assess_report_dir": str(path / f"reports-slice{number}"),
            "assess_run_id": "awx-4242",
            "awx_job_id": 4242 + number,
        }
        jobs.append(run_job(path, "assess.yml", extravars, ident=f"slice{number}", limit=host))
    return jobs


def test_assess_slice_jobs_succeed_with_survey_strings(slices):
    for job, host in zip(slices, ("web1", "web2")):
        assert job.runner.status == "successful", job.runner.stdout.read()[-3000:]
        assert job.runner.rc == 0
        assert job.task_names() >= ASSESS_TASKS
        stats = job.runner.stats
        assert stats["failures"] == {} and stats["dark"] == {}
        assert set(stats["processed"]) == {host}
        assert stats["ok"][host] >= len(ASSESS_TASKS)
        ok = job.results("runner_on_ok", "Assess OpenSSL against the vulnerability database")
        assert [e["host"] for e in ok] == [host]
        assert ok[0]["res"]["assessment"]["run_id"] == "awx-4242"


def test_set_stats_summary_covers_only_its_slice(slices):
    for job, host in zip(slices, ("web1", "web2")):
        summary = job.artifacts["patchwise_openssl_assess"]
        assert summary["hosts_total"] == 1
        assert summary["hosts_assessed"] == 1
        assert [t["host"] for t in summary["top_hosts"]] == [host]
        assert set(summary["severity_counts"]) == {"vulnerable", "unknown"}
        # the same numbers as the fleet summary written in the slice's own report directory
        report_dir = Path(job.runner.config.private_data_dir) / f"reports-{job.runner.config.ident}"
        assert (report_dir / "summary.json").is_file()
        assert (report_dir / "summary.md").is_file()
        assert not (report_dir / "index.html").exists()


def test_facts_land_in_the_job_fact_cache(slices):
    """AWX's fact cache is the job's jsonfile cache.

    ansible-core 2.19 prefixes the file names (``s1_<host>``) and wraps the facts in a
    ``__payload__`` JSON string, which ansible-runner 2.4's ``get_fact_cache`` does not read.
    """
    cache = Path(slices[0].runner.config.artifact_dir) / "fact_cache"
    files = [f for f in cache.iterdir() if f.name.endswith("web1")]
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    facts = json.loads(data["__payload__"]) if "__payload__" in data else data
    assert facts["openssl"]["schema_version"] == 1


def decision_job(tmp: Path, extravars: dict[str, Any]) -> Job:
    path = make_private_data_dir(tmp, ["awx_unattended.yml"])
    return run_job(path, "awx_unattended.yml", extravars)


def test_unattended_decision_adds_up_the_slices(slices, tmp_path):
    first, second = (job.artifacts["patchwise_openssl_assess"] for job in slices)
    extravars = {
        # AWX merges the slices' artifacts key by key; a per-slice key keeps both
        "patchwise_openssl_assess": first,
        "patchwise_openssl_assess_job_4244": second,
        "awx_configure_unattended_min_severity": "low",
        "awx_configure_unattended_without_approval": ["critical"],
        "awx_configure_unattended_count_unknown": "false",
        "awx_configure_unattended_dry_run": "true",
    }
    job = decision_job(tmp_path, extravars)
    assert job.runner.status == "successful", job.runner.stdout.read()[-3000:]
    decision = job.artifacts["patchwise_openssl_unattended"]
    assert decision == awx.rollout_decision([first, second], "low", ["critical"])
    assert decision["hosts_assessed"] == 2
    assert "patchwise_openssl_unattended_launch" not in job.artifacts  # dry run
    assert job.results("runner_on_skipped", "Start the rollout workflow")


def test_unattended_mode_off_launches_nothing(slices, tmp_path):
    extravars = {
        "patchwise_openssl_assess": slices[0].artifacts["patchwise_openssl_assess"],
        "awx_configure_unattended_min_severity": "none",
    }
    job = decision_job(tmp_path, extravars)
    assert job.runner.status == "successful"
    decision = job.artifacts["patchwise_openssl_unattended"]
    assert decision["launch"] is False
    assert "unattended mode is off" in decision["reason"]


def test_unattended_launch_goes_to_the_controller_api(tmp_path):
    """Without dry run a decision to launch calls awx.awx.workflow_launch (no AWX here)."""
    summary = {
        "hosts_total": 1,
        "hosts_assessed": 1,
        "severity_counts": {"vulnerable": {"critical": 1}},
    }
    extravars = {
        "patchwise_openssl_assess": summary,
        "awx_configure_unattended_min_severity": "high",
        "awx_configure_controller_host": "https://127.0.0.1:9",
    }
    job = decision_job(tmp_path, extravars)
    assert job.runner.status == "failed"
    failed = job.results("runner_on_failed", "Start the rollout workflow")
    assert len(failed) == 1
    assert "127.0.0.1" in str(failed[0]["res"].get("msg"))
    # the decision was recorded before the launch was attempted
    assert job.artifacts["patchwise_openssl_unattended"]["workflow"] == "approved"


def test_open_publishes_one_run_id_and_halt_fails(tmp_path):
    path = make_private_data_dir(tmp_path, ["awx_run.yml"])
    opened = run_job(path, "awx_run.yml", {"awx_run_step": "open", "awx_workflow_job_id": 77})
    assert opened.runner.status == "successful"
    assert opened.artifacts == {"rollout_run_id": "awx-77", "rollback_run_id": "awx-77"}
    given = run_job(path, "awx_run.yml", {"awx_run_step": "open", "rollout_run_id": "cab-1234"})
    assert given.artifacts["rollout_run_id"] == "cab-1234"
    halted = run_job(
        path,
        "awx_run.yml",
        {"awx_run_step": "halt", "rollout_run_id": "awx-77", "awx_run_halted_phase": "canary"},
    )
    assert halted.runner.status == "failed"
    failed = halted.results("runner_on_failed", "Halt the workflow")
    assert "awx-77 halted in phase canary" in failed[0]["res"]["msg"]


RENDER = """\
- name: Render the AWX objects as data
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Generate surveys and workflow graphs
      ansible.builtin.import_role:
        name: patchwise.openssl.awx_configure
        tasks_from: argspecs
    - name: Publish them
      ansible.builtin.set_stats:
        data:
          surveys: "{{ __awx_configure_surveys }}"
          nodes: "{{ __awx_configure_workflow_nodes }}"
        per_host: false
"""


def test_awx_configure_renders_surveys_and_workflows(tmp_path):
    path = make_private_data_dir(tmp_path, [])
    (path / "project" / "render.yml").write_text(RENDER)
    job = run_job(path, "render.yml", {"awx_configure_phases": ["staging", "production"]})
    assert job.runner.status == "successful", job.runner.stdout.read()[-3000:]
    surveys = job.artifacts["surveys"]
    assert {q["variable"] for q in surveys["phase"]["spec"]} >= {"rollout_order", "patch_version"}
    assert "rollout_phases" not in {q["variable"] for q in surveys["phase"]["spec"]}
    nodes = job.artifacts["nodes"]
    edges = awx.workflow_edges(nodes["approved"])
    assert ("assess", "success", "approval") in edges
    assert ("approval", "success", "phase-staging") in edges
    assert ("phase-staging", "success", "phase-production") in edges
    assert ("phase-production", "failure", "rollback-production") in edges
    assert ("assess", "success", "phase-staging") in awx.workflow_edges(nodes["unattended"])
