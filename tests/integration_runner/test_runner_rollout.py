# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollout playbook in check mode through ansible-runner, as an AWX phase job runs it.

The plan step needs a real Debian host with a predictable package state: ``openssl_packages``
asks apt what would change (``apt-get update`` into a private copy of the lists,
``apt-cache policy``, ``apt-get -s``). The controller would answer with whatever the Debian
archive offers on the day, so the job runs against one Debian 12 test container (image
``localhost/patchwise-debian:12``, local repositories of ``tests/hosts/build-apt-repo.sh``:
the image's OpenSSL and a re-versioned ``+patchwise1`` build). Three inventory hosts - one in
``staging``, two in ``production`` - reach that same container; check mode changes nothing, so
they can share it, and the package database is compared before and after independently. The job
runs with one fork: in parallel, each host's ``openssl_facts`` would see the other hosts' module
processes (python3 mapping libssl) in the shared container and plan to restart them.

Extra variables are shaped as AWX passes them: survey answers as strings, the template's fixed
variables (phases, batch sizes) as YAML lists, the run id as the workflow's open node publishes
it with ``set_stats``. The assertions read the runner's artefacts: job events (plays per phase,
which hosts ran, nothing changed), the final stats, the ``playbook_on_stats`` artifact data, and
the change record the run wrote into a temporary record directory.

The container is created by the fixture with a unique name and always removed. Without podman,
the image or the repositories the test is skipped (``tests/hosts/prepare.sh`` makes them).
Run: ``PYTHONPATH=.cache/collections .venv/bin/python -m pytest tests/integration_runner``
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_job import REPO, Job, run_job

IMAGE = "localhost/patchwise-debian:12"
APT_REPOS = REPO / ".cache" / "test-hosts" / "apt-repos" / "debian-12"
RUN_ID = "awx-4711"
STAGING = ["stage1"]
PRODUCTION = ["prod1", "prod2"]
HOSTS = """\
[staging]
stage1
[production]
prod1
prod2
[all:vars]
ansible_connection=containers.podman.podman
ansible_host={container}
ansible_python_interpreter=/usr/bin/python3
"""
SOURCES_LIST = """\
deb [trusted=yes] file:/srv/patchwise/updates ./
deb [trusted=yes] file:/srv/patchwise/orig ./
"""
DPKG_FORMAT = "${Package}=${Version}\\n"

# What the phase job templates fix (YAML lists) and what the survey asks (strings).
TEMPLATE_VARS: dict[str, Any] = {
    "rollout_phases": ["staging", "production"],
    "rollout_batches": [1, "100%"],
    "rollout_run_id": RUN_ID,  # from the workflow's "open run" node (set_stats)
    "awx_job_id": 4712,
}
SURVEY: dict[str, Any] = {
    "rollout_order": "risk",
    "rollout_min_severity": "",
    "rollout_max_fail_percentage": "0",
    "rollout_soak_seconds": "0",
    "rollout_show_plan": "true",
    "patch_version": "",
    "patch_update_cache": "true",
    "patch_lock_timeout": "30",
    "patch_include_leftover": "false",
    "refresh_restart_ok": "false",
    "verify_min_protocol": "TLSv1.2",
}


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], check=check, capture_output=True, text=True, timeout=120
    )


def installed_versions(container: str) -> str:
    return podman("exec", container, "dpkg-query", "-W", f"-f={DPKG_FORMAT}").stdout


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    """A Debian 12 test host on the image's OpenSSL with only the local repositories."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (tests/hosts/prepare.sh)")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} is missing (tests/hosts/prepare.sh)")
    if not (APT_REPOS / "manifest.json").is_file():
        pytest.skip(f"{APT_REPOS} is missing (tests/hosts/build-apt-repo.sh 12)")
    name = f"pw-runner-rollout-{uuid.uuid4().hex[:8]}"
    try:
        podman(
            "run",
            "-d",
            "--name",
            name,
            "--init",
            "--pull=never",
            "--cap-add",
            "SYS_PTRACE",
            "-v",
            f"{APT_REPOS}:/srv/patchwise:ro",
            IMAGE,
            "sleep",
            "infinity",
        )
        subprocess.run(
            ["podman", "exec", "-i", name, "sh", "-c", "cat > /etc/apt/sources.list"],
            input=SOURCES_LIST,
            check=True,
            text=True,
            timeout=60,
        )
        yield name
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


@pytest.fixture(scope="module")
def repo_manifest() -> dict[str, Any]:
    return json.loads((APT_REPOS / "manifest.json").read_text())


@pytest.fixture(scope="module")
def rollout(
    container: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Job, Path, str, str]]:
    """The rollout in check mode; yields the job, the record dir and dpkg before/after."""
    path = tmp_path_factory.mktemp("rollout")
    (path / "project").mkdir()
    (path / "inventory").mkdir()
    (path / "inventory" / "hosts").write_text(HOSTS.format(container=container))
    shutil.copy(REPO / "playbooks" / "rollout.yml", path / "project" / "rollout.yml")
    record_dir = path / "records" / RUN_ID
    lists_before = podman("exec", container, "ls", "/var/lib/apt/lists").stdout
    before = installed_versions(container)
    job = run_job(
        path,
        "rollout.yml",
        {**TEMPLATE_VARS, **SURVEY, "rollout_record_dir": str(record_dir)},
        cmdline="--check",
        forks=1,
    )
    after = installed_versions(container)
    lists_after = podman("exec", container, "ls", "/var/lib/apt/lists").stdout
    assert lists_after == lists_before, "check mode changed the host's package lists"
    yield job, record_dir, before, after


PLAN_TASK = "Ask the package manager what would change (check mode, nothing is installed)"
WOULD_CHANGE_TASK = "Would patch, refresh and verify this host (check mode; the plan is recorded)"


def test_check_mode_job_succeeds_and_changes_nothing(rollout):
    job, _record_dir, before, after = rollout
    assert job.runner.status == "successful", job.runner.stdout.read()[-4000:]
    assert job.runner.rc == 0
    stats = job.runner.stats
    assert stats["failures"] == {} and stats["dark"] == {}
    assert set(stats["processed"]) == {"localhost", *STAGING, *PRODUCTION}
    # The only "changed" results are check mode's "would change" of each host the schedule
    # would patch; no other task reports a change (the package plan is a question and the
    # record writer reports changed: false).
    changed = [
        (e["event_data"]["host"], e["event_data"]["task"])
        for e in job.events
        if e["event"] == "runner_on_ok" and e["event_data"]["res"].get("changed")
    ]
    assert sorted(changed) == sorted((h, WOULD_CHANGE_TASK) for h in (*STAGING, *PRODUCTION))
    assert stats["changed"] == dict.fromkeys((*STAGING, *PRODUCTION), 1)
    # independently of Ansible: the host's package database is unchanged
    assert before == after
    assert "libssl3=" in before


def test_plays_per_phase(rollout):
    job = rollout[0]
    plays = job.plays()
    assert plays[:2] == ["Open the change record", "Plan every host of the rollout phases"]
    assert plays[-1] == "Close the change record"
    assert job.hosts_in_play("Open the change record") == {"localhost"}
    assert job.hosts_in_play("Close the change record") == {"localhost"}
    assert job.hosts_in_play("Plan every host") == {*STAGING, *PRODUCTION}
    assert job.hosts_in_play("Phase 1") == set(STAGING)
    # check mode ends a phase play at its first task, which ends every batch of the play:
    # only the first production batch (rollout_batches [1, "100%"]) reaches it
    assert job.hosts_in_play("Phase 2") == {"prod1"}
    # two phases configured: phases 3 to 5 match no host
    no_hosts = [
        e["event_data"]["play"] for e in job.events if e["event"] == "playbook_on_no_hosts_matched"
    ]
    assert sorted(p.split(":")[0] for p in no_hosts if p.startswith("Phase")) == [
        "Phase 3",
        "Phase 4",
        "Phase 5",
    ]
    ran = {e["event_data"].get("task") for e in job.events if e["event"] == "runner_on_ok"}
    for task in (
        "Patch the OpenSSL packages (rollback point first)",
        "Decide whether the rollout may go on (failures in earlier batches and phases)",
        "Run the rollback role",
        "Watch the patched host during the soak",
    ):
        assert task not in ran
    assert job.results("runner_on_skipped", "Fail the run when the rollout halted")


def test_plan_is_recorded_with_the_repository_versions(rollout, repo_manifest):
    job, record_dir, before, _after = rollout
    expected = {p["name"]: (p["orig_version"], p["version"]) for p in repo_manifest["packages"]}
    # the versions the plan starts from are the ones dpkg reported before the job
    for name, (orig, _new) in expected.items():
        assert f"{name}={orig}\n" in before

    planned = job.results("runner_on_ok", PLAN_TASK)
    assert sorted(e["host"] for e in planned) == sorted((*STAGING, *PRODUCTION))
    for event in planned:
        res = event["res"]
        assert {p["name"]: (p["from"], p["to"]) for p in res["changed_packages"]} == expected
        assert res["rollback_point"] == {}
        assert res["preflight"]

    run = json.loads((record_dir / "run.json").read_text())
    assert run["run_id"] == RUN_ID
    assert (run["mode"], run["outcome"], run["halt"]) == ("plan", "planned", None)
    assert run["finished_at"]
    assert run["settings"]["check_mode"] is True
    assert run["settings"]["order"] == "risk"
    assert run["settings"]["max_fail_percentage"] == 0
    assert run["who"]["awx_job_id"] == "4712"
    assert [(p["name"], p["batches"]) for p in run["phases"]] == [
        ("staging", [["stage1"]]),
        ("production", [["prod1"], ["prod2"]]),
    ]
    assert run["counts"]["planned"] == 3
    assert sum(run["counts"].values()) == 3
    assert run["way_back"] == ""  # nothing changed, no rollback point
    assert (record_dir / "run.md").is_file()
    for host in (*STAGING, *PRODUCTION):
        rec = json.loads((record_dir / "hosts" / f"{host}.json").read_text())
        assert (rec["run_id"], rec["mode"], rec["outcome"]) == (RUN_ID, "plan", "planned")
        plan = rec["plan"]
        assert plan["needs_change"] is True
        assert {p["name"]: (p["from"], p["to"]) for p in plan["packages"]} == expected
        assert plan["versions_before"] == {n: orig for n, (orig, _new) in expected.items()}
        # No TLS service and no stale process in the test host: nothing to refresh. The three
        # inventory names share one container, so another name's Ansible module run (a python3
        # process that maps libssl) can be caught by the scan; it is planned as a plain process.
        services = [
            svc
            for svc in plan["services"]
            if not (svc["kind"] == "process" and svc["name"].startswith("python3"))
        ]
        assert services == [] and plan["stale_processes"] == []
        assert rec["rollback_point"] == {}
        assert (record_dir / "hosts" / f"{host}.md").read_text().strip()


def test_runner_artifacts(rollout):
    job = rollout[0]
    # The run id came in as an extra variable (the workflow's open node publishes it with
    # set_stats); the phase job publishes it back with the outcome for the next node.
    assert job.artifacts.get("rollout_run_id", RUN_ID) == RUN_ID
    published = job.artifacts["patchwise_openssl_rollout"]
    assert published["run_id"] == RUN_ID
    assert published["outcome"] == "planned"
    assert any(str(path).endswith("run.json") for path in published["record_files"])
    shown = job.results("runner_on_ok", "Show the plan")
    assert len(shown) == 1
    text = json.dumps(shown[0]["res"]["msg"])
    for host in (*STAGING, *PRODUCTION):
        assert host in text
    assert "+patchwise1" in text
    # the job's own artefacts on disk, as AWX keeps them
    artifact_dir = Path(job.runner.config.artifact_dir)
    assert (artifact_dir / "rc").read_text().strip() == "0"
    assert (artifact_dir / "status").read_text().strip() == "successful"
