# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin openssl_change_record: the event sequence of one rollout run, check mode,
gate, halt, refusing a finished run id, and a later rollback appended to the record.

Inputs are recorded on Debian 12 test hosts (tests/unit/fixtures/change_record/SOURCES.md).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.patchwise.openssl.plugins.action.openssl_change_record import (
    ActionModule,
    collection_version,
    strategy_chooser,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    change_record as cr,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "change_record"
GROUPS = {"staging": ["s1", "s2"], "production": ["p1", "p2", "p3"], "all": []}
PLAY = ["s1", "s2", "p1", "p2", "p3"]


def load(name):
    return json.loads((FIXTURES / name).read_text())


def run(args, host="localhost", check_mode=False, **extra_vars):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "patchwise.openssl.openssl_change_record"
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(), loader=None, templar=None)
    task_vars = {
        "inventory_hostname": host,
        "groups": GROUPS,
        "ansible_play_hosts_all": PLAY,
        **extra_vars,
    }
    return action.run(task_vars=task_vars)


def start_and_plan(record_dir, check_mode=False, run_id="run-1", **start_vars):
    started = run(
        {
            "event": "start",
            "run_id": run_id,
            "record_dir": record_dir,
            "inventory": ["/srv/inv.yml"],
            "settings": {"order": "risk", "max_fail_percentage": 0},
        },
        check_mode=check_mode,
        **start_vars,
    )
    for host in PLAY:
        run(
            {
                "event": "plan",
                "run_id": run_id,
                "record_dir": record_dir,
                "facts": load("debian12-facts.json"),
                "assessment": load("debian12-assessment-before.json"),
                "packages": load("debian12-openssl-packages-check.json"),
            },
            host=host,
            check_mode=check_mode,
        )
    schedule = run(
        {
            "event": "schedule",
            "run_id": run_id,
            "record_dir": record_dir,
            "phases": ["staging", "production"],
            "settings": {"order": "risk", "batches": [1, "100%"], "first_phase_batches": ["100%"]},
        },
        check_mode=check_mode,
    )
    return started, schedule


def host_result(outcome, **extra):
    return {
        "event": "host",
        "run_id": "run-1",
        "result": load("debian12-host-result-patched.json") | {"outcome": outcome, **extra},
    }


def test_happy_run(tmp_path):
    record_dir = str(tmp_path / "records" / "run-1")
    started, schedule = start_and_plan(record_dir, tower_job_id=4711)
    assert started["changed"] is False
    assert started["record_dir"] == record_dir
    phases = schedule["phases"]
    assert [p["batches"] for p in phases] == [[["s1", "s2"]], [["p1"], ["p2", "p3"]]]
    assert any(
        "refresh nginx: nginx_binary_upgrade (no downtime)" in line
        for line in schedule["plan_text"]
    )
    for index, hosts in ((1, ["s1", "s2"]), (2, ["p1", "p2", "p3"])):
        assert (
            run(
                {
                    "event": "gate",
                    "run_id": "run-1",
                    "record_dir": record_dir,
                    "settings": {"phase_index": index},
                }
            )["halt"]
            is False
        )
        for host in hosts:
            out = run(host_result("patched") | {"record_dir": record_dir}, host=host)
            assert out["run_outcome"] == "in_progress"
    finished = run({"event": "finish", "run_id": "run-1", "record_dir": record_dir})
    assert finished["outcome"] == "success"
    assert finished["counts"] == {"patched": 5}
    assert "rollback_hosts=p1,p2,p3,s1,s2" in finished["way_back"]
    data = json.loads(Path(record_dir, "run.json").read_text())
    assert data["who"]["awx_job_id"] == "4711"
    assert data["who"]["user"]
    assert data["collection"] == {"name": "patchwise.openssl", "version": collection_version()}
    assert data["settings"]["order"] == "risk"
    assert data["finished_at"] and data["mode"] == "apply"
    host = json.loads(Path(record_dir, "hosts", "p2.json").read_text())
    assert (host["phase"], host["phase_index"], host["batch"]) == ("production", 2, 2)
    assert host["plan"]["packages"][0]["to"].endswith("+patchwise1")
    assert stat.S_IMODE(os.stat(Path(record_dir, "hosts", "p2.md")).st_mode) == 0o600
    with pytest.raises(AnsibleActionFail, match="already exists"):
        run({"event": "start", "run_id": "run-1", "record_dir": record_dir})


def test_canary_failure_halts_and_marks_the_rest(tmp_path):
    record_dir = str(tmp_path / "run-1")
    start_and_plan(record_dir)
    for host in ("s1", "s2"):
        run(host_result("patched") | {"record_dir": record_dir}, host=host)
    failed = host_result(
        "rolled_back",
        message="Fail with every failed check failed; rolled back",
        failure={"task": "Fail with every failed check", "message": "127.0.0.1:8443 refused"},
        rollback={
            "changed": True,
            "after": {"libssl3": "3.0.22-1~deb12u2"},
            "verify_passed": True,
            "verify_results": [],
        },
    )
    run(failed | {"record_dir": record_dir}, host="p1")
    gate = run(
        {
            "event": "gate",
            "run_id": "run-1",
            "record_dir": record_dir,
            "settings": {"phase_index": 2, "max_fail_percentage": 0},
        }
    )
    assert gate["halt"] is True
    assert gate["host"] == "p1"
    assert "p1 (phase production, batch 1) rolled_back" in gate["message"]
    finished = run({"event": "finish", "run_id": "run-1", "record_dir": record_dir})
    assert finished["outcome"] == "halted"
    assert finished["counts"] == {"patched": 2, "rolled_back": 1, "not_reached": 2}
    p2 = json.loads(Path(record_dir, "hosts", "p2.json").read_text())
    assert p2["outcome"] == "not_reached"
    p1 = json.loads(Path(record_dir, "hosts", "p1.json").read_text())
    assert p1["failure"]["message"] == "127.0.0.1:8443 refused"
    assert p1["rollback"]["versions_after"] == {"libssl3": "3.0.22-1~deb12u2"}
    assert "## Halted" in Path(record_dir, "run.md").read_text()


def test_check_mode_records_a_plan(tmp_path):
    record_dir = str(tmp_path / "plan")
    start_and_plan(record_dir, check_mode=True, run_id="plan-1")
    finished = run(
        {"event": "finish", "run_id": "plan-1", "record_dir": record_dir}, check_mode=True
    )
    assert finished["outcome"] == "planned"
    assert finished["counts"] == {"planned": 5}
    text = Path(record_dir, "hosts", "s1.md").read_text()
    assert "(**plan only, check mode**)" in text
    assert "| libssl3 | 3.0.22-1~deb12u2 | 3.0.22-1~deb12u2+patchwise1 |" in text


def test_rollback_appends_to_the_record(tmp_path):
    record_dir = str(tmp_path / "run-1")
    start_and_plan(record_dir)
    run(host_result("patched") | {"record_dir": record_dir}, host="p1")
    run({"event": "finish", "run_id": "run-1", "record_dir": record_dir})
    out = run(
        {
            "event": "rollback",
            "run_id": "run-1",
            "record_dir": record_dir,
            "rollback": {
                "changed": True,
                "before": {"libssl3": "new"},
                "after": {"libssl3": "old"},
                "audit": "",
                "verify_passed": True,
            },
        },
        host="p1",
        awx_job_id="99",
    )
    assert "warnings" not in out
    p1 = json.loads(Path(record_dir, "hosts", "p1.json").read_text())
    assert p1["outcome"] == "patched"
    assert p1["rollbacks"][0]["by"].endswith("(AWX job 99)")
    assert p1["rollbacks"][0]["versions_after"] == {"libssl3": "old"}
    data = json.loads(Path(record_dir, "run.json").read_text())
    assert data["outcome"] == "success"
    assert data["rollbacks"][0]["host"] == "p1"


def test_rollback_without_a_record_starts_one(tmp_path):
    record_dir = str(tmp_path / "elsewhere")
    out = run(
        {
            "event": "rollback",
            "run_id": "20261122T071500Z",
            "record_dir": record_dir,
            "rollback": {"changed": False},
        },
        host="web1",
    )
    assert "was not found" not in out["msg"]
    assert "a new one holds only this rollback" in out["warnings"][0]
    data = json.loads(Path(record_dir, "run.json").read_text())
    assert data["rollbacks"][0]["host"] == "web1"


def test_default_record_dir_and_generated_run_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run({"event": "start"})
    assert out["record_dir"] == str(tmp_path / "records" / out["run_id"])
    assert (tmp_path / "records" / out["run_id"] / "run.md").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"event": "host"}, "needs run_id"),
        ({"event": "host", "run_id": "../etc"}, "invalid run id"),
        ({"event": "gate", "run_id": "r", "settings": {"phase_index": "x"}}, "phase_index"),
        ({"event": "finish", "run_id": "r"}, "no run record"),
        ({"event": "bogus"}, "event"),
    ],
)
def test_errors_are_clear(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AnsibleActionFail, match=message):
        run(args)


def test_strategy_chooser_follows_the_refresh_inputs():
    master = {"pid": 1, "comm": "apache2", "exe": "/usr/sbin/apache2"}
    group = {"service": "apache2", "master": master, "processes": [master], "kind": "service"}
    chosen = strategy_chooser({})(group, False)
    assert chosen["strategy"] == "apache_stop_start"
    assert chosen["action"].startswith("not allowed (disruptive_ok is false)")
    allowed = strategy_chooser({"disruptive_ok": True})(group, False)
    assert not allowed["action"].startswith("not allowed")
    denied = strategy_chooser({"deny_extra": ["apache*"]})(group, False)
    assert denied["denied"] == "apache*"


# -- faults: a failed pre-flight at planning, an interrupted run ---------------------------


def _plan(record_dir: str, host: str) -> None:
    """The plan event of run-1 for one host, from the recorded Debian 12 results."""
    run({"event": "plan", "run_id": "run-1", "record_dir": record_dir,
         "facts": load("debian12-facts.json"),
         "assessment": load("debian12-assessment-before.json"),
         "packages": load("debian12-openssl-packages-check.json")}, host=host)


def _gate_before_phase_1(record_dir: str) -> dict:
    return run({"event": "gate", "run_id": "run-1", "record_dir": record_dir,
                "settings": {"phase_index": 1, "max_fail_percentage": 0}})


def _schedule(record_dir: str) -> dict:
    return run({"event": "schedule", "run_id": "run-1", "record_dir": record_dir,
                "phases": ["staging", "production"],
                "settings": {"batches": [1, "100%"], "first_phase_batches": ["100%"]}})


def test_a_planning_failure_halts_the_rollout_before_any_phase(tmp_path):
    record_dir = str(tmp_path / "run-1")
    run({"event": "start", "run_id": "run-1", "record_dir": record_dir,
         "settings": {"max_fail_percentage": 0}})
    for host in PLAY:
        if host == "p2":  # what the plan's rescue records for a host whose pre-flight failed
            run({"event": "host", "run_id": "run-1", "record_dir": record_dir,
                 "result": {"outcome": "excluded",
                            "message": "could not be planned: pre-flight: a package "
                                       "repository is unreachable: Err:5 http://127.0.0.1:9",
                            "failure": {"task": "Ask the package manager what would change",
                                        "message": "pre-flight: a package repository is "
                                                   "unreachable: Err:5 http://127.0.0.1:9"}}},
                host=host)
            continue
        _plan(record_dir, host)
    schedule = _schedule(record_dir)
    assert schedule["phases"][1]["hosts"] == ["p1", "p3"]
    assert schedule["phases"][1]["failed"][0]["host"] == "p2"
    p2 = json.loads(Path(record_dir, "hosts", "p2.json").read_text())
    assert (p2["outcome"], p2["phase"], p2["batch"]) == ("failed", "production", None)
    assert p2["failure"]["stage"] == "plan"
    gate = _gate_before_phase_1(record_dir)
    assert gate["halt"] is True
    assert gate["message"].startswith("host p2 (phase production, at planning) failed: could "
                                      "not be planned: pre-flight: a package repository")
    finished = run({"event": "finish", "run_id": "run-1", "record_dir": record_dir})
    assert finished["outcome"] == "halted"
    assert finished["halt"]["message"] == gate["message"]  # the decision that halted it
    assert finished["counts"] == {"not_reached": 4, "failed": 1}
    assert finished["way_back"] == ""


def test_a_host_unreachable_at_planning_is_recorded_and_halts(tmp_path):
    """Ansible drops a host that cannot be reached while the rollout plans (no rescue runs):
    it leaves no record. The schedule records it 'unreachable' at planning - never silently
    excluded, never counted as a success - and the gate halts on it like a pre-flight failure.
    """
    record_dir = str(tmp_path / "run-1")
    run({"event": "start", "run_id": "run-1", "record_dir": record_dir,
         "settings": {"max_fail_percentage": 0}})
    for host in PLAY:
        if host == "p3":
            continue  # unreachable: the plan tasks never ran for it
        _plan(record_dir, host)
    schedule = _schedule(record_dir)
    assert schedule["phases"][1]["hosts"] == ["p1", "p2"]
    assert [f["host"] for f in schedule["phases"][1]["failed"]] == ["p3"]
    assert schedule["phases"][1]["excluded"] == []
    p3 = json.loads(Path(record_dir, "hosts", "p3.json").read_text())
    assert (p3["outcome"], p3["phase"], p3["batch"]) == ("unreachable", "production", None)
    assert p3["failure"]["stage"] == "plan"
    assert p3["message"].startswith("no result came back from the host while the rollout")
    assert p3["versions_before"] == {} and p3["rollback_point"] == {}
    gate = _gate_before_phase_1(record_dir)
    assert gate["halt"] is True
    assert gate["message"].startswith("host p3 (phase production, at planning) unreachable: "
                                      "no result came back from the host while the rollout")
    finished = run({"event": "finish", "run_id": "run-1", "record_dir": record_dir})
    assert finished["outcome"] == "halted"
    assert finished["counts"] == {"not_reached": 4, "unreachable": 1}
    assert finished["way_back"] == ""
    # a later run finding this record finished leaves it alone; an unfinished run's
    # plan-stage record is not turned into "interrupted while in progress"
    store = cr.RecordStore(record_dir)
    meta = store.read_run()
    meta["finished_at"] = None
    store.write_run(meta)
    cr.mark_interrupted(store, "run-2", "the controller that ran it is gone")
    assert json.loads(Path(record_dir, "hosts", "p3.json").read_text())["outcome"] == (
        "unreachable"
    )


def _write_unfinished(record_dir: Path, run_id: str, pid: int, hosts: dict) -> None:
    store = cr.RecordStore(str(record_dir))
    meta = {"schema_version": 1, "kind": "run", "run_id": run_id, "mode": "apply",
            "started_at": "2026-11-22T10:33:27Z", "finished_at": None,
            "inventory": ["/srv/inv.yml"],
            "who": {"user": "root", "controller": socket.gethostname(), "pid": pid,
                    "pid_started": cr.process_start(pid)}}
    for host, outcome in hosts.items():
        store.write_host(cr.new_host_record(run_id, host, "apply", {}, outcome))
    store.write_run(cr.build_run_record(meta, store.host_records()))


def _gone_pid() -> int:
    child = subprocess.Popen(["true"])  # any short-lived process
    child.wait()
    return child.pid


def test_a_rerun_marks_the_interrupted_run_and_links_its_rollback_point(tmp_path):
    first_dir = tmp_path / "records" / "c7-first"
    _write_unfinished(first_dir, "c7-first", _gone_pid(),
                      {"s1": "unreachable", "p1": "pending"})
    rerun_dir = str(tmp_path / "records" / "c7-rerun")
    started = run({"event": "start", "run_id": "c7-rerun", "record_dir": rerun_dir,
                   "inventory": ["/srv/inv.yml"]})
    assert [e["run_id"] for e in started["earlier_runs"]] == ["c7-first"]
    assert "interrupted earlier run(s): c7-first" in started["msg"]
    first = json.loads((first_dir / "run.json").read_text())
    assert first["outcome"] == "interrupted"
    assert first["interrupted"]["detected_by"] == "c7-rerun"
    checked = load("debian12-openssl-packages-check-rollback-points.json")
    for host in ("s1", "p1"):
        packages = checked if host == "s1" else load("debian12-openssl-packages-check.json")
        run({"event": "plan", "run_id": "c7-rerun", "record_dir": rerun_dir,
             "facts": load("debian12-facts.json"),
             "assessment": load("debian12-assessment-before.json"), "packages": packages},
            host=host)
    s1 = json.loads(Path(rerun_dir, "hosts", "s1.json").read_text())
    assert [e["run_id"] for e in s1["earlier_runs"]] == ["c7-first"]
    assert s1["way_back"].endswith("-e rollback_run_id=c7-first -e rollback_hosts=s1")
    assert s1["rollback_point"] == {}
    first_s1 = json.loads((first_dir / "hosts" / "s1.json").read_text())
    assert first_s1["outcome"] == "interrupted"
    assert first_s1["rollback_point"]["run_id"] == "c7-first"
    assert "found by run c7-rerun" in first_s1["message"]
    first_p1 = json.loads((first_dir / "hosts" / "p1.json").read_text())
    assert "found no rollback point of it on the host" in first_p1["message"]
    first = json.loads((first_dir / "run.json").read_text())
    assert first["way_back"].endswith("rollback_run_id=c7-first -e rollback_hosts=s1")
    run(host_result("patched") | {"run_id": "c7-rerun", "record_dir": rerun_dir}, host="p1")
    data = json.loads(Path(rerun_dir, "run.json").read_text())
    assert data["earlier_way_back"]["c7-first"].endswith("rollback_hosts=s1")
    assert "Changes of the interrupted run c7-first" in Path(rerun_dir, "run.md").read_text()


def test_the_same_run_id_again_continues_an_interrupted_attempt(tmp_path):
    record_dir = tmp_path / "r1"
    _write_unfinished(record_dir, "r1", _gone_pid(), {"s1": "unreachable"})
    again = run({"event": "start", "run_id": "r1", "record_dir": str(record_dir)})
    assert "attempt 2 of this run" in again["msg"]
    assert again["attempts"][0]["outcome"] == "interrupted"
    checked = load("debian12-openssl-packages-check-rollback-points.json")
    for point in checked["rollback_points"]:
        point["run_id"] = "r1" if point["run_id"] == "c7-first" else point["run_id"]
    run({"event": "plan", "run_id": "r1", "record_dir": str(record_dir),
         "facts": load("debian12-facts.json"),
         "assessment": load("debian12-assessment-before.json"), "packages": checked}, host="s1")
    s1 = json.loads((record_dir / "hosts" / "s1.json").read_text())
    assert s1["rollback_point"]["run_id"] == "r1"
    assert s1["previous_attempts"][0]["outcome"] == "unreachable"
    assert any("an interrupted attempt of this run wrote it" in w for w in s1["warnings"])


def test_a_run_still_in_progress_is_neither_interrupted_nor_restarted(tmp_path):
    # This test process stands for another ansible-playbook that is still running.
    busy = tmp_path / "records" / "busy"
    _write_unfinished(busy, "busy", os.getpid(), {"s1": "pending"})
    with pytest.raises(AnsibleActionFail, match="run busy is in progress: ansible-playbook pid"):
        run({"event": "start", "run_id": "busy", "record_dir": str(busy)})
    other = run({"event": "start", "run_id": "other",
                 "record_dir": str(tmp_path / "records" / "other")})
    assert other["earlier_runs"] == []
    assert json.loads((busy / "run.json").read_text())["outcome"] == "in_progress"


def _plan_host(record_dir, host, packages, check_mode=True):
    return run({"event": "plan", "run_id": "run-1", "record_dir": record_dir,
                "facts": load("debian12-facts.json"),
                "assessment": load("debian12-assessment-before.json"),
                "packages": load(packages)}, host=host, check_mode=check_mode)


def _refused_at_planning(record_dir, host, packages, allow_held=False):
    """What roles/rollout/tasks/plan.yml's rescue records for a host openssl_packages refused."""
    result = load(packages)
    return run({"event": "host", "run_id": "run-1", "record_dir": record_dir,
                "result": {"outcome": "excluded",
                           "message": f"could not be planned: {result['msg']}",
                           "failure": {"task": "Ask the package manager what would change "
                                               "(check mode, nothing is installed)",
                                       "message": result["msg"],
                                       "unfinished": result["unfinished"],
                                       "held": result["held"], "allow_held": allow_held}}},
               host=host, check_mode=True)


def test_check_mode_records_held_packages_and_refusals(tmp_path):
    """A check-mode rollout: s1 plans libssl3 on hold with allow_held, s2 is refused (dpkg did
    not finish an earlier run), p1 is refused (libssl3 on hold, no allow_held)."""
    record_dir = str(tmp_path / "run-1")
    run({"event": "start", "run_id": "run-1", "record_dir": record_dir,
         "settings": {"max_fail_percentage": 0}}, check_mode=True)
    planned = _plan_host(record_dir, "s1", "debian12-openssl-packages-check-held-allowed.json")
    assert planned["msg"] == (
        "s1: libssl3 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1 (on hold; upgraded with "
        "patch_allow_held, hold kept), openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1")
    assert planned["host_plan"]["held"][0]["hold_kept"] is True
    _refused_at_planning(record_dir, "s2",
                         "debian12-openssl-packages-check-unfinished-refused.json")
    _refused_at_planning(record_dir, "p1", "debian12-openssl-packages-check-held-refused.json")
    for host in ("p2", "p3"):
        _plan_host(record_dir, host, "debian12-openssl-packages-check.json")
    schedule = run({"event": "schedule", "run_id": "run-1", "record_dir": record_dir,
                    "phases": ["staging", "production"], "settings": {}}, check_mode=True)
    assert [f["host"] for p in schedule["phases"] for f in p["failed"]] == ["s2", "p1"]
    assert any("(on hold; upgraded with patch_allow_held, hold kept)" in line
               for line in schedule["plan_text"])
    s2 = json.loads(Path(record_dir, "hosts", "s2.json").read_text())
    assert (s2["outcome"], s2["failure"]["stage"], s2["failure"]["reason"]) == (
        "failed", "plan", "unfinished")
    assert [(r["name"], r["state"], r["config_version"], r["rollback_points"])
            for r in s2["failure"]["unfinished"]] == [
        ("libssl3", "half-configured", "3.0.22-1~deb12u2", ["rec-broken-1"]),
        ("openssl", "unpacked", "3.0.22-1~deb12u2", ["rec-broken-1"])]
    p1 = json.loads(Path(record_dir, "hosts", "p1.json").read_text())
    assert p1["failure"]["reason"] == "held"
    assert [(h["name"], h["version"], h["to"]) for h in p1["failure"]["held"]] == [
        ("libssl3", "3.0.22-1~deb12u2", "3.0.22-1~deb12u2+patchwise1")]
    finished = run({"event": "finish", "run_id": "run-1", "record_dir": record_dir},
                   check_mode=True)
    assert finished["outcome"] == "planned"
    run_md = Path(record_dir, "run.md").read_text()
    assert ("| s1 | staging | 1 | planned | 10.0 | libssl3 3.0.22-1~deb12u2 -> "
            "3.0.22-1~deb12u2+patchwise1 (on hold; upgraded with patch_allow_held, hold kept); "
            "openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1 |") in run_md
    assert ("- s2: dpkg did not finish: libssl3 3.0.22-1~deb12u2+patchwisebroken1 is "
            "half-configured (dpkg 'iF'); last configured version 3.0.22-1~deb12u2; rollback "
            "point(s): rec-broken-1") in run_md
    assert ("- p1: on hold: libssl3 3.0.22-1~deb12u2 is on hold; the plan upgrades it to "
            "3.0.22-1~deb12u2+patchwise1 (apt-mark unhold it, or set patch_allow_held=true)"
            ) in run_md
    s2_md = Path(record_dir, "hosts", "s2.md").read_text()
    assert ("| libssl3 | 3.0.22-1~deb12u2+patchwisebroken1 | half-configured (iF) | "
            "3.0.22-1~deb12u2 | rec-broken-1 |") in s2_md
