# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""change_record: batches like Ansible's serial, risk order, severity filter, CVE delta,
refresh prediction, host/run records, gate, Markdown, atomic writes with modes, rollback append.

Inputs come from tests/unit/fixtures/change_record/ (recorded on Debian 12 test hosts, see its
SOURCES.md) where realism matters.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    change_record as cr,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "change_record"


def load(name):
    return json.loads((FIXTURES / name).read_text())


# -- batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "serial", "sizes"),
    [
        (4, [1, "100%"], [1, 3]),
        (20, [1, "10%", "50%", "100%"], [1, 2, 10, 7]),
        (3, [1, "10%", "50%", "100%"], [1, 1, 1]),  # 10% of 3 rounds down to 0 -> 1
        (5, [2], [2, 2, 1]),  # the last size repeats
        (5, [], [5]),
        (5, None, [5]),
        (5, "40%", [2, 2, 1]),
        (5, [0], [5]),  # 0: all remaining, as Ansible
        (0, [1, "100%"], []),
    ],
)
def test_batches_follow_ansible_serial(n, serial, sizes):
    hosts = [f"h{i}" for i in range(n)]
    batches = cr.compute_batches(hosts, serial)
    assert [len(b) for b in batches] == sizes
    assert [h for b in batches for h in b] == hosts


def test_batches_match_ansible_itself():
    """Same split as ansible-core's own serial batching for a list of sizes."""
    from ansible.utils.helpers import pct_to_int

    hosts = [f"h{i}" for i in range(37)]
    serial = [1, "10%", "25%", "100%"]
    expected, rest, i = [], list(hosts), 0
    while rest:
        size = pct_to_int(serial[min(i, len(serial) - 1)], len(hosts))
        expected.append(rest[:size])
        rest = rest[size:]
        i += 1
    assert cr.compute_batches(hosts, serial) == expected


@pytest.mark.parametrize("bad", ["abc", "x%", [1, "ten"], "inf%"])
def test_invalid_batch_sizes_are_clear(bad):
    with pytest.raises(cr.ChangeRecordError, match="invalid batch size"):
        cr.compute_batches(["a", "b"], bad)


# -- order and severity ----------------------------------------------------------------------


def test_risk_order_highest_first_stable_on_ties():
    hosts = ["a", "b", "c", "d"]
    scores = {"a": 5, "b": 40.5, "c": 5, "d": None}
    assert cr.order_hosts(hosts, scores, "risk") == ["b", "a", "c", "d"]
    assert cr.order_hosts(hosts, scores, "inventory") == hosts
    with pytest.raises(cr.ChangeRecordError, match="order"):
        cr.order_hosts(hosts, scores, "random")


def test_min_severity_uses_the_assessment_gate_counts():
    counts = load("debian12-assessment-before.json")["gate"]["counts_at_or_above"]
    assert cr.meets_severity(counts, "") is True
    assert cr.meets_severity({"critical": 0, "high": 2}, "high") is True
    assert cr.meets_severity({"critical": 0, "high": 2}, "critical") is False
    assert cr.meets_severity({}, "low") is False
    with pytest.raises(cr.ChangeRecordError, match="severity"):
        cr.meets_severity(counts, "severe")


def test_plan_phases_orders_filters_and_batches():
    plans = {
        "s1": {"risk": {"score": 1}, "gate_counts": {"high": 1}},
        "s2": {"risk": {"score": 9}, "gate_counts": {"high": 1}},
        "p1": {"risk": {"score": 2}, "gate_counts": {"high": 1}},
        "p2": {"risk": {"score": 30}, "gate_counts": {"high": 3}},
        "p3": {"risk": {"score": 0}, "gate_counts": {"high": 0}},
        "p4": {"risk": {"score": 7}, "gate_counts": {"high": 1}},
    }
    phases = cr.plan_phases(
        [
            {"name": "staging", "hosts": ["s1", "s2"]},
            {"name": "production", "hosts": ["s2", "p1", "p2", "p3", "p4", "p5"]},
        ],
        plans,
        order="risk",
        min_severity="high",
        first_phase_batches=["100%"],
        batches=[1, "100%"],
    )
    assert phases[0]["hosts"] == ["s2", "s1"]
    assert phases[0]["batches"] == [["s2", "s1"]]
    # s2 belongs to staging only; p3 is below the threshold; p5 has no plan
    assert phases[1]["hosts"] == ["p2", "p4", "p1"]
    assert phases[1]["batches"] == [["p2"], ["p4", "p1"]]
    assert {e["host"]: e["reason"] for e in phases[1]["excluded"]} == {
        "p3": "no vulnerable finding at or above high",
        "p5": "no plan (facts or assessment failed)",
    }


# -- CVE delta, refresh prediction, host plan --------------------------------------------------


def test_cve_delta_on_recorded_assessments():
    before = load("debian12-assessment-before.json")
    after = load("debian12-assessment-after.json")
    delta = cr.cve_delta(before, after)
    assert delta["assessed"] is True
    # the re-versioned build carries the same changelog: nothing closed, nothing new
    assert delta["closed"] == []
    assert delta["introduced"] == []
    assert [r["cve"] for r in delta["remaining"]] == delta["open_before"]


def test_cve_delta_closed_remaining_introduced():
    def finding(cve, status, severity="high"):
        return {"cve": cve, "status": status, "severity": severity}

    before = {
        "findings": [
            finding("CVE-1", "vulnerable"),
            finding("CVE-1", "fixed"),
            finding("CVE-2", "unknown", "low"),
            finding("CVE-3", "fixed"),
        ]
    }
    after = {
        "findings": [
            finding("CVE-1", "fixed_by_backport"),
            finding("CVE-2", "unknown", "low"),
            finding("CVE-3", "vulnerable"),
            {"cve": None, "status": "x"},
        ]
    }
    delta = cr.cve_delta(before, after)
    assert delta["closed"] == [
        {"cve": "CVE-1", "severity": "high", "before": "vulnerable", "after": "fixed_by_backport"}
    ]
    assert [r["cve"] for r in delta["remaining"]] == ["CVE-2"]
    assert [r["cve"] for r in delta["introduced"]] == ["CVE-3"]
    # no assessment after: never "closed"
    not_assessed = cr.cve_delta(before, {})
    assert not_assessed["assessed"] is False and not_assessed["closed"] == []
    assert not_assessed["open_before"] == ["CVE-1", "CVE-2"]


def test_host_plan_on_recorded_inputs_predicts_nginx_binary_upgrade():
    facts = load("debian12-facts.json")
    packages = load("debian12-openssl-packages-check.json")
    assessment = load("debian12-assessment-before.json")

    def strategy_for(group, systemd_pid1):
        assert group["master"]["comm"] == "nginx"
        return {
            "strategy": "nginx_binary_upgrade",
            "action": "USR2, WINCH, QUIT",
            "disruptive": False,
            "gate": None,
            "denied": None,
        }

    plan = cr.host_plan("p1", assessment, packages, facts, strategy_for)
    assert [p["name"] for p in plan["packages"]] == ["libssl3", "openssl"]
    assert all(p["to"].endswith("+patchwise1") for p in plan["packages"])
    assert plan["needs_change"] is True
    assert plan["risk"]["score"] == assessment["risk"]["score"]
    # nginx was started by hand (no unit in the facts): grouped by its master process
    [svc] = [s for s in plan["services"] if s["name"] == "nginx"]
    assert svc["kind"] == "process"
    assert svc["strategy"] == "nginx_binary_upgrade"
    assert "init script" in svc["how"]
    assert svc["drain_window"] is False
    assert "127.0.0.1:443" in svc["listening"]
    assert len(svc["pids"]) >= 2  # master and worker(s) collapsed into one entry


def test_refresh_prediction_kinds_and_deny():
    facts = {
        "libraries": [{"path": "/lib/libssl.so.3", "package": "libssl3"}],
        "processes": [
            {
                "pid": 10,
                "master_pid": 10,
                "comm": "apache2",
                "exe": "/usr/sbin/apache2",
                "service": "apache2",
                "libraries": [{"path": "/lib/libssl.so.3"}],
            },
            {
                "pid": 20,
                "comm": "python3",
                "exe": "/usr/bin/python3",
                "service": None,
                "libraries": [{"path": "/lib/libssl.so.3"}],
            },
            {
                "pid": 30,
                "comm": "nginx",
                "container": "abc",
                "libraries": [{"path": "/lib/libssl.so.3"}],
            },
            {
                "pid": 40,
                "comm": "dbus-daemon",
                "service": "dbus",
                "libraries": [{"path": "/lib/libssl.so.3"}],
            },
            {
                "pid": 50,
                "comm": "other",
                "service": "other",
                "libraries": [{"path": "/opt/vendor/libssl.so.3"}],
            },
        ],
    }

    def strategy_for(group, systemd_pid1):
        if group["service"] == "dbus":
            return {
                "strategy": "service_restart",
                "action": "restart",
                "disruptive": True,
                "gate": "restart_ok",
                "denied": "dbus",
            }
        return {
            "strategy": "apache_stop_start",
            "action": "stop, start",
            "disruptive": True,
            "gate": "disruptive_ok",
            "denied": None,
        }

    services = {
        s["name"]: s for s in cr.predict_refresh(facts, [{"name": "libssl3"}], strategy_for)
    }
    assert set(services) == {"apache2", "python3", "nginx", "dbus"}  # /opt copy unaffected
    assert services["apache2"]["drain_window"] is True
    assert services["apache2"]["gate"] == "disruptive_ok"
    assert services["python3"]["kind"] == "process"
    assert "init script" in services["python3"]["how"]
    assert services["nginx"]["kind"] == "container"
    assert services["dbus"]["strategy"] == "report_only"
    assert "deny-listed" in services["dbus"]["how"]
    assert cr.predict_refresh(facts, [], strategy_for) == []
    # a process openssl_facts saw exit before its scan ended is planned for no refresh
    for proc in facts["processes"]:
        if proc.get("comm") == "python3":
            proc["exited"] = True
    left = {s["name"] for s in cr.predict_refresh(facts, [{"name": "libssl3"}], strategy_for)}
    assert left == {"apache2", "nginx", "dbus"}


# -- records, gate, outcome ------------------------------------------------------------------


def patched_record(host="p1", outcome="patched"):
    plan = cr.host_plan(
        host,
        load("debian12-assessment-before.json"),
        load("debian12-openssl-packages-check.json"),
        load("debian12-facts.json"),
    )
    rec = cr.new_host_record("run-1", host, "apply", plan, "pending")
    rec.update(phase="production", phase_index=2, batch=1)
    return cr.update_host_record(
        rec,
        load("debian12-host-result-patched.json")
        | {
            "outcome": outcome,
            "assessment_before": load("debian12-assessment-before.json"),
            "assessment_after": load("debian12-assessment-after.json"),
        },
        inventory=["/srv/inventory.yml"],
    )


def test_update_host_record_from_recorded_role_facts():
    rec = patched_record()
    assert rec["outcome"] == "patched"
    assert rec["versions_before"]["libssl3"] == "3.0.22-1~deb12u2"
    assert rec["versions_after"]["libssl3"] == "3.0.22-1~deb12u2+patchwise1"
    assert rec["rollback_point"]["run_id"] == "fixture-1"
    assert rec["rollback_point"]["packages"][0]["sha256"]
    assert rec["way_back"] == (
        "ansible-playbook -i /srv/inventory.yml patchwise.openssl.rollback "
        "-e rollback_run_id=fixture-1 -e rollback_hosts=p1"
    )
    assert rec["tests_passed"] is True
    assert {t["check"] for t in rec["tests"]} >= {
        "package_version",
        "stale_processes",
        "tls_endpoint",
    }
    assert rec["services"][0]["strategy"] == "nginx_binary_upgrade"
    assert rec["cves"]["assessed"] is True


def test_invalid_outcome_is_refused():
    with pytest.raises(cr.ChangeRecordError, match="invalid host outcome"):
        cr.update_host_record(patched_record(), {"outcome": "great"})


@pytest.mark.parametrize(
    ("outcomes", "finished", "halted", "expected"),
    [
        (["patched", "up_to_date"], True, False, "success"),
        (["up_to_date"], True, False, "unchanged"),
        (["patched", "rolled_back"], True, True, "halted"),
        (["patched", "rolled_back"], True, False, "partial"),
        (["patched", "rollback_failed"], True, True, "failed"),
        (["patched"], False, False, "in_progress"),
    ],
)
def test_run_outcome(outcomes, finished, halted, expected):
    records = [{"outcome": o} for o in outcomes]
    assert cr.run_outcome(records, "apply", finished, halted) == expected
    assert cr.run_outcome(records, "plan", finished, halted) == "planned"


def rec(host, phase_index, outcome, batch=1, at="2026-11-22T07:00:00Z"):
    return {
        "host": host,
        "phase": f"phase{phase_index}",
        "phase_index": phase_index,
        "batch": batch,
        "outcome": outcome,
        "finished_at": at,
        "message": f"{host} msg",
    }


def test_gate_first_phase_tolerates_nothing():
    records = [rec("s1", 1, "patched"), rec("s2", 1, "rolled_back"), rec("p1", 2, "pending")]
    decision = cr.gate(records, 2, 50)
    assert decision["halt"] is True
    assert decision["host"] == "s2"
    assert "first phase tolerates no failure" in decision["message"]
    assert "s2 (phase phase1, batch 1) rolled_back: s2 msg" in decision["message"]


def test_gate_later_phase_tolerance():
    records = [
        rec("s1", 1, "patched"),
        rec("p1", 2, "patched"),
        rec("p2", 2, "rolled_back"),
        rec("p3", 2, "patched"),
        rec("p4", 2, "patched"),
        rec("p5", 2, "pending"),
    ]
    assert cr.gate(records, 2, 0)["halt"] is True
    assert cr.gate(records, 2, 25)["halt"] is False  # 1 of 4 reached = 25%
    halted = cr.gate(records, 2, 20)
    assert halted["halt"] is True and "1 of 4 hosts reached" in halted["message"]
    assert cr.gate(records, 1, 0)["halt"] is False  # only phases up to the one asked
    with pytest.raises(cr.ChangeRecordError):
        cr.gate(records, 2, "lots")


def test_gate_counts_an_unreachable_host_as_failed():
    records = [rec("s1", 1, "patched"), rec("p1", 2, "patched"), rec("p2", 2, "unreachable"),
               rec("p3", 2, "pending")]
    halted = cr.gate(records, 2, 0)
    assert halted["halt"] is True and halted["host"] == "p2"
    assert "p2 (phase phase2, batch 1) unreachable: p2 msg" in halted["message"]
    assert "1 of 2 hosts reached in the phase failed" in halted["message"]
    assert cr.gate(records, 2, 50)["halt"] is False
    assert cr.run_outcome(records[:3], "apply", finished=True) == "partial"


def test_run_record_and_way_back():
    records = [patched_record("p1"), patched_record("p2", "rolled_back")]
    meta = {
        "run_id": "fixture-1",
        "mode": "apply",
        "inventory": ["inv.yml"],
        "halt": {"halt": True, "message": "p2 failed"},
    }
    run = cr.build_run_record(meta, records, finished=True)
    assert run["outcome"] == "halted"
    assert run["counts"]["patched"] == 1 and run["counts"]["rolled_back"] == 1
    assert run["way_back"].endswith("-e rollback_run_id=fixture-1 -e rollback_hosts=p1,p2")
    assert [r["host"] for r in run["hosts"]] == ["p1", "p2"]
    assert run["hosts"][0]["changes"] == [
        "libssl3 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1",
        "openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1",
    ]


def test_append_rollback_keeps_history():
    record = patched_record()
    data = {
        "changed": True,
        "before": {"libssl3": "3.0.22-1~deb12u2+patchwise1"},
        "after": {"libssl3": "3.0.22-1~deb12u2"},
        "audit": "",
        "verify_passed": True,
        "verify_results": [
            {"check": "package_version", "target": "libssl3", "result": "passed", "detail": "ok"}
        ],
    }
    once = cr.append_rollback(record, data)
    twice = cr.append_rollback(once, dict(data, verify_passed=False))
    assert [e["tests_passed"] for e in twice["rollbacks"]] == [True, False]
    assert twice["rollbacks"][0]["trigger"] == "rollback playbook"
    assert twice["outcome"] == "patched"  # the original outcome stays; history is appended
    text = cr.render_host_markdown(twice)
    assert "## Later rollbacks" in text and "### Rollback 2" in text


# -- rendering ---------------------------------------------------------------------------------


def test_host_markdown_has_every_section():
    text = cr.render_host_markdown(patched_record())
    for heading in (
        "# OpenSSL change record: p1",
        "## Planned package changes",
        "## Package versions",
        "## Services to refresh (plan)",
        "## Services refreshed",
        "## CVEs",
        "## Tests",
        "## Rollback point and the way back",
    ):
        assert heading in text
    assert "`ansible-playbook -i /srv/inventory.yml patchwise.openssl.rollback" in text


def test_run_markdown_plan_mode():
    run = cr.build_run_record(
        {
            "run_id": "r",
            "mode": "plan",
            "phases": [{"index": 1, "name": "staging", "batches": [["s1", "s2"]], "excluded": []}],
        },
        [cr.new_host_record("r", "s1", "plan", {}, "planned")],
        finished=True,
    )
    text = cr.render_run_markdown(run)
    assert "check mode: a plan, nothing was changed" in text
    assert "- batch 1: s1, s2" in text


def test_markdown_escapes_table_breakers():
    assert cr.md("a|b\nc*d") == "a\\|b c\\*d"
    assert cr._code("x`y") == "``x`y``"


cell = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_values = st.recursive(
    cell,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "host",
                "run_id",
                "mode",
                "outcome",
                "message",
                "phase",
                "batch",
                "plan",
                "versions_before",
                "versions_after",
                "cves",
                "tests",
                "tests_passed",
                "services",
                "refresh",
                "rollback_point",
                "way_back",
                "failure",
                "rollback",
                "rollbacks",
                "warnings",
                "started_at",
            ]
        ),
        json_values,
    )
)
def test_host_renderer_never_raises_and_keeps_rows_intact(record):
    text = cr.render_host_markdown(record)
    for line in text.splitlines():
        if line.startswith("| "):
            # every cell's pipes are escaped: a row has as many unescaped bars as its header
            assert line.replace("\\\\", "").replace("\\|", "").count("|") >= 2


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "run_id",
                "mode",
                "who",
                "collection",
                "settings",
                "phases",
                "hosts",
                "soak",
                "way_back",
                "rollbacks",
                "halt",
                "outcome",
                "started_at",
            ]
        ),
        json_values,
    )
)
def test_run_renderer_never_raises(run):
    assert cr.render_run_markdown(run).startswith("# OpenSSL rollout ")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_result_merge_accepts_any_shape_or_raises_own_error(result):
    base = cr.new_host_record("r", "h", "apply", {}, "pending")
    try:
        merged = cr.update_host_record(base, result)
    except cr.ChangeRecordError:
        return
    cr.render_host_markdown(merged)
    cr.render_json(merged)


@given(st.text(max_size=30))
def test_run_id_validation(text):
    try:
        assert cr.validate_run_id(text) == text
    except cr.ChangeRecordError:
        return
    assert "/" not in text and text not in (".", "..")


def test_new_run_id_shape():
    run_id = cr.new_run_id()
    assert len(run_id) == len("20261122T071500Z-3f9a1c")
    assert cr.new_run_id(suffix="abc").endswith("-abc")


# -- storage ----------------------------------------------------------------------------------


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_store_writes_atomically_with_modes(tmp_path):
    store = cr.RecordStore(str(tmp_path / "records" / "run-1"))
    meta = {"kind": "run", "run_id": "run-1", "mode": "apply"}
    with store.lock():
        store.write_run(cr.build_run_record(meta, []))
    files = store.write_host(patched_record())
    run = store.rebuild_run(finished=True, finished_at="2026-11-22T07:30:00Z")
    assert run["outcome"] == "success"
    for path in [*files, store.run_path("json"), store.run_path("md")]:
        assert mode(path) == 0o600
    for directory in (
        tmp_path / "records",
        tmp_path / "records" / "run-1",
        tmp_path / "records" / "run-1" / "hosts",
    ):
        assert mode(directory) == 0o700
    assert not list(Path(store.directory).rglob(".tmp-*"))
    assert json.loads(Path(store.run_path()).read_text())["hosts"][0]["host"] == "p1"
    assert cr.write_atomic(files[0], Path(files[0]).read_text()) is False


def test_store_errors_are_clear(tmp_path):
    store = cr.RecordStore(str(tmp_path / "r"))
    with pytest.raises(cr.ChangeRecordError, match="no run record"):
        store.rebuild_run()
    (tmp_path / "r" / "hosts").mkdir(parents=True)
    (tmp_path / "r" / "hosts" / "x.json").write_text("{broken")
    with pytest.raises(cr.ChangeRecordError, match="cannot read the change record"):
        store.host_records()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(cr.ChangeRecordError, match="cannot write"):
        cr.write_atomic(str(blocker / "sub" / "x.json"), "{}")


def _write_host(directory, host):
    store = cr.RecordStore(directory)
    rec = cr.new_host_record("run-1", host, "apply", {}, "patched")
    with store.lock():
        store.write_host(rec)
    store.rebuild_run()


def test_parallel_writers_lose_no_host(tmp_path):
    """Hosts of one batch write in parallel processes; the final run record has them all."""
    directory = str(tmp_path / "run-1")
    store = cr.RecordStore(directory)
    with store.lock():
        store.write_run(
            cr.build_run_record({"kind": "run", "run_id": "run-1", "mode": "apply"}, [])
        )
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_host, args=(directory, f"h{i}")) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    run = json.loads(Path(store.run_path()).read_text())
    assert sorted(r["host"] for r in run["hosts"]) == [f"h{i}" for i in range(8)]


# -- faults: planning failures, interrupted runs ----------------------------------------------


def plan_failed(host, phase_index, at="2026-11-22T07:00:00Z"):
    record = rec(host, phase_index, "failed", batch=None, at=at)
    record["failure"] = {"task": "Ask the package manager", "message": "pre-flight: ...",
                         "stage": "plan"}
    return record


def test_plan_phases_puts_planning_failures_in_their_phase():
    phases = cr.plan_phases(
        [{"name": "staging", "hosts": ["s1"]}, {"name": "production", "hosts": ["p1", "p2"]}],
        {"s1": {"risk": {"score": 1}}, "p1": {"risk": {"score": 1}}},
        plan_failures={"p2": "could not be planned: pre-flight: a package repository is "
                             "unreachable"},
    )
    assert phases[1]["hosts"] == ["p1"]
    assert phases[1]["batches"] == [["p1"]]
    reason = "could not be planned: pre-flight: a package repository is unreachable"
    assert phases[1]["failed"] == [{"host": "p2", "reason": reason}]
    assert phases[1]["excluded"] == []
    assert "- failed at planning: p2 (could not be planned" in cr.render_run_markdown(
        {"phases": phases})


def test_gate_halts_before_the_first_phase_on_a_later_planning_failure():
    records = [rec("s1", 1, "pending"), rec("p1", 2, "pending"), plan_failed("p2", 2)]
    decision = cr.gate(records, 1, 0)
    assert decision["halt"] is True and decision["host"] == "p2"
    assert decision["message"].startswith("host p2 (phase phase2, at planning) failed: p2 msg; ")
    assert decision["message"].endswith(
        "the rollout halted because 1 of 2 hosts of the phase failed at planning (before any "
        "change) (50% > rollout_max_fail_percentage 0%)")
    assert cr.gate(records, 1, 50)["halt"] is False  # within the phase's tolerance
    # The phase begins: its planning failure still counts against all its hosts, not only
    # against those reached so far.
    assert cr.gate(records, 2, 50)["halt"] is False
    reached = [rec("s1", 1, "patched"), rec("p1", 2, "rolled_back"), plan_failed("p2", 2)]
    assert cr.gate(reached, 2, 50)["halt"] is True  # 1 of 1 reached failed
    first = cr.gate([plan_failed("s1", 1), rec("p1", 2, "pending")], 1, 100)
    assert first["halt"] is True and "the first phase tolerates no failure" in first["message"]
    assert cr.planning_failed(plan_failed("x", 1)) is True
    assert cr.planning_failed(rec("x", 1, "failed")) is False


def test_run_outcome_interrupted():
    assert cr.run_outcome([{"outcome": "patched"}], "apply", False, interrupted=True) == (
        "interrupted")
    assert cr.run_outcome([{"outcome": "planned"}], "plan", False, interrupted=True) == (
        "interrupted")
    assert cr.run_outcome([{"outcome": "rollback_failed"}], "apply", False,
                          interrupted=True) == "failed"


def _dead_pid() -> int:
    child = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    child.start()
    child.join()
    return child.pid


def test_controller_alive_by_pid_start_and_host():
    me = cr.controller_process(os.getpid())
    assert me["pid"] == os.getpid() and me["pid_started"] == cr.process_start(os.getpid())
    host = "controller-1"
    assert cr.controller_alive({"controller": host, **me}, host) is True
    assert cr.controller_alive({"controller": host, **me, "pid_started": "1"}, host) is False
    assert cr.controller_alive({"controller": host, "pid": _dead_pid()}, host) is False
    assert cr.controller_alive({"controller": "elsewhere", **me}, host) is None
    assert cr.controller_alive({"controller": host}, host) is None
    assert cr.controller_alive(None, host) is None
    assert cr.process_start("x") is None
    assert cr.controller_process()["pid"] == os.getppid()


def _run_dir(root: Path, run_id: str, outcomes: dict, finished: bool = False) -> cr.RecordStore:
    store = cr.RecordStore(str(root / run_id))
    meta = {"kind": "run", "run_id": run_id, "mode": "apply", "started_at": "t0",
            "finished_at": "t1" if finished else None, "inventory": ["inv.yml"],
            "who": {"controller": "c", "pid": _dead_pid()}}
    for host, outcome in outcomes.items():
        record = cr.new_host_record(run_id, host, "apply", {}, outcome)
        record["message"] = f"{host} step 2 of 4"
        store.write_host(record)
    store.write_run(cr.build_run_record(meta, store.host_records(), finished=finished))
    return store


def test_unfinished_runs_are_marked_interrupted(tmp_path):
    first = _run_dir(tmp_path, "r1", {"s1": "unreachable", "p1": "pending", "p2": "patched"})
    _run_dir(tmp_path, "r0", {"s1": "patched"}, finished=True)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.json").write_text("not json")
    found = cr.unfinished_runs(str(tmp_path / "r2"))
    assert [path for path, _run in found] == [str(tmp_path / "r1")]
    assert cr.unfinished_runs(str(tmp_path / "r1")) == []  # never itself
    run = cr.mark_interrupted(first, "r2", "its controller process (pid 7) is gone")
    assert run["outcome"] == "interrupted"
    assert run["interrupted"]["detected_by"] == "r2"
    hosts = {r["host"]: r for r in first.host_records()}
    assert hosts["p1"]["outcome"] == "interrupted"
    assert "found by run r2" in hosts["p1"]["message"]
    assert hosts["s1"]["outcome"] == "interrupted"
    assert hosts["s1"]["message"].endswith("its last record: s1 step 2 of 4")
    assert hosts["p2"]["outcome"] == "patched"
    assert cr.mark_interrupted(first, "r3", "again") is None  # once only
    assert cr.unfinished_runs(str(tmp_path / "r3")) == []
    text = Path(first.run_path("md")).read_text()
    assert "## Interrupted" in text and "found by run r2" in text


def test_a_found_rollback_point_becomes_the_interrupted_runs_way_back():
    checked = load("debian12-openssl-packages-check-rollback-points.json")
    point = next(p for p in checked["rollback_points"] if p["run_id"] == "c7-first")
    record = cr.new_host_record("c7-first", "s1", "apply", {}, "interrupted")
    now = {"libssl3": "3.0.22-1~deb12u2+patchwise1", "openssl": "3.0.22-1~deb12u2+patchwise1"}
    found = cr.note_found_point(record, point, "c7-rerun", now, ["inv.yml"])
    assert found["outcome"] == "interrupted"
    assert found["rollback_point"]["run_id"] == "c7-first"
    assert found["rollback_point"]["manifest"] == (
        "/var/lib/patchwise-openssl/rollback/c7-first/manifest.json")
    assert found["versions_before"] == {"libssl3": "3.0.22-1~deb12u2",
                                        "openssl": "3.0.22-1~deb12u2"}
    assert found["versions_after"] == now
    assert found["way_back"].endswith(
        "patchwise.openssl.rollback -e rollback_run_id=c7-first -e rollback_hosts=s1")
    assert "found by run c7-rerun" in found["message"]
    run = cr.build_run_record({"run_id": "c7-first", "mode": "apply"}, [found])
    assert run["way_back"].endswith("rollback_hosts=s1")
    assert cr.host_row(found)["changes"] == [
        "libssl3 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1",
        "openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1",
    ]
    untouched = cr.note_no_point(cr.new_host_record("c7-first", "p1", "apply", {},
                                                    "interrupted"), "c7-rerun")
    assert "found no rollback point of it on the host" in untouched["message"]
    assert cr.note_no_point(found, "c7-rerun") == found


def test_host_plan_lists_the_rollback_points_on_the_host():
    plan = cr.host_plan("s1", load("debian12-assessment-before.json"),
                        load("debian12-openssl-packages-check-rollback-points.json"),
                        load("debian12-facts.json"))
    assert [p["run_id"] for p in plan["rollback_points"]] == ["c3-broken", "c7-first"]
    assert plan["rollback_points"][0]["restores"] == 1


def test_markdown_of_earlier_runs_attempts_and_a_failed_upgrade():
    record = cr.new_host_record("r2", "s1", "apply", {}, "rolled_back")
    record["earlier_runs"] = [{"run_id": "r1", "outcome": "interrupted", "way_back": "cmd r1",
                               "rollback_point": {"packages": [{"name": "libssl3",
                                                                "version": "1"}]}}]
    record["previous_attempts"] = [{"outcome": "interrupted", "message": "first try"}]
    record["failure"] = {"task": "t", "message": "m", "stage": "plan"}
    record["package_states_after"] = {"libssl3": "iF", "openssl": "ii"}
    text = cr.render_host_markdown(record)
    assert "Changes of earlier, interrupted runs" in text and "`cmd r1`" in text
    assert "## Earlier attempts of this run" in text and "first try" in text
    assert "- stage: planning (pre-flight), before any change" in text
    assert "dpkg states after the failed upgrade: libssl3 iF" in text
    assert "openssl ii" not in text
    run = {"run_id": "r2", "earlier_runs": [{"run_id": "r1", "reason": "gone"}],
           "earlier_way_back": {"r1": "cmd r1"}, "attempts": [{"outcome": "interrupted"}]}
    text = cr.render_run_markdown(run)
    assert "## Earlier runs found interrupted" in text
    assert "Changes of the interrupted run r1: `cmd r1`" in text
    assert "## Earlier attempts of this run" in text


# -- packages on hold and hosts dpkg did not finish (recorded openssl_packages results) -------

HELD_NOTE = "(on hold; upgraded with patch_allow_held, hold kept)"
LIBSSL3_HELD = f"libssl3 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1 {HELD_NOTE}"


def _held_plan():
    return cr.host_plan("s1", load("debian12-assessment-before.json"),
                        load("debian12-openssl-packages-check-held-allowed.json"),
                        load("debian12-facts.json"))


def test_a_held_package_planned_with_allow_held_is_marked_and_the_hold_kept():
    plan = _held_plan()
    assert plan["packages"] == [
        {"name": "libssl3", "from": "3.0.22-1~deb12u2", "to": "3.0.22-1~deb12u2+patchwise1",
         "held": True},
        {"name": "openssl", "from": "3.0.22-1~deb12u2", "to": "3.0.22-1~deb12u2+patchwise1",
         "held": False},
    ]
    assert plan["held"] == [{"name": "libssl3", "arch": "amd64", "version": "3.0.22-1~deb12u2",
                             "to": "3.0.22-1~deb12u2+patchwise1", "action": "upgrade",
                             "hold_kept": True}]
    rec = cr.new_host_record("r1", "s1", "plan", plan, "planned")
    text = cr.render_host_markdown(rec)
    assert ("| libssl3 | 3.0.22-1~deb12u2 | 3.0.22-1~deb12u2+patchwise1 | on hold; upgraded "
            "with patch_allow_held, hold kept |") in text
    assert "| openssl | 3.0.22-1~deb12u2 | 3.0.22-1~deb12u2+patchwise1 |  |" in text
    assert ("- libssl3 3.0.22-1~deb12u2: planned to 3.0.22-1~deb12u2+patchwise1 with "
            "patch_allow_held, the hold is put back") in text
    row = cr.host_row(rec)
    assert row["changes"][0] == LIBSSL3_HELD
    assert row["changes"][1] == "openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1"
    run = cr.build_run_record({"run_id": "r1", "mode": "plan"}, [rec])
    assert LIBSSL3_HELD in cr.render_run_markdown(run)
    phases = cr.plan_phases([{"name": "staging", "hosts": ["s1"]}], {"s1": plan})
    assert f"    s1 (risk {plan['risk']['score']}, {plan['risk']['priority']}): " \
           f"{LIBSSL3_HELD}, openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1" \
        in cr.plan_text(phases, {"s1": rec})


def test_a_plan_without_held_packages_has_no_hold_note():
    plan = cr.host_plan("s1", load("debian12-assessment-before.json"),
                        load("debian12-openssl-packages-check.json"), load("debian12-facts.json"))
    assert plan["held"] == []
    assert all(p["held"] is False for p in plan["packages"])
    rec = cr.new_host_record("r1", "s1", "plan", plan, "planned")
    assert "on hold" not in cr.render_host_markdown(rec)
    assert cr.host_row(rec)["refused"] == []


def test_a_refusal_for_unfinished_dpkg_work_is_recorded_as_data():
    result = load("debian12-openssl-packages-check-unfinished-refused.json")
    reason = cr.refusal(result)
    assert reason["reason"] == "unfinished"
    assert "held" not in reason
    assert [(r["name"], r["state"], r["status"], r["version"], r["config_version"],
             r["rollback_points"]) for r in reason["unfinished"]] == [
        ("libssl3", "half-configured", "iF", "3.0.22-1~deb12u2+patchwisebroken1",
         "3.0.22-1~deb12u2", ["rec-broken-1"]),
        ("openssl", "unpacked", "iU", "3.0.22-1~deb12u2+patchwisebroken1",
         "3.0.22-1~deb12u2", ["rec-broken-1"]),
    ]


def test_a_refusal_for_held_packages_is_recorded_as_data():
    result = load("debian12-openssl-packages-check-held-refused.json")
    assert cr.refusal(result) == {
        "reason": "held",
        "held": [{"name": "libssl3", "arch": "amd64", "version": "3.0.22-1~deb12u2",
                  "to": "3.0.22-1~deb12u2+patchwise1", "action": "upgrade",
                  "hold_kept": False}],
    }
    # With allow_held the module does not refuse for a hold: no reason to record.
    assert cr.refusal(result, allow_held=True) == {}
    assert cr.held_summary(result)[0]["hold_kept"] is False  # a failed result kept nothing


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), ("yes", True), ("False", False), ("", False)],
)
def test_allow_held_as_extra_vars_give_it(value, expected):
    """-e patch_allow_held=true reaches the record as a string."""
    assert cr._allow_held({}, {"allow_held": value}) is expected
    assert cr._allow_held({"allow_held": value}, {"allow_held": not expected}) is expected
    assert cr._allow_held({}, {}) is False


def _planning_refusal(name):
    """What the rollout's planning rescue passes for a refused host (plan.yml)."""
    result = load(name)
    return {"outcome": "failed", "message": "could not be planned: " + result.get("msg", ""),
            "failure": {"task": "Ask the package manager what would change (check mode, "
                                "nothing is installed)",
                        "message": result.get("msg", ""), "stage": "plan",
                        "unfinished": result["unfinished"], "held": result["held"],
                        "allow_held": False}}


def test_a_host_refused_for_unfinished_dpkg_work_renders_the_reason():
    rec = cr.new_host_record("r1", "s1", "plan", {}, "excluded")
    rec = cr.update_host_record(
        rec, _planning_refusal("debian12-openssl-packages-check-unfinished-refused.json"))
    failure = rec["failure"]
    assert failure["reason"] == "unfinished"
    assert failure["message"].startswith("pre-flight: dpkg did not finish an earlier package run")
    assert [r["name"] for r in failure["unfinished"]] == ["libssl3", "openssl"]
    text = cr.render_host_markdown(rec)
    assert ("| libssl3 | 3.0.22-1~deb12u2+patchwisebroken1 | half-configured (iF) | "
            "3.0.22-1~deb12u2 | rec-broken-1 |") in text
    assert ("| openssl | 3.0.22-1~deb12u2+patchwisebroken1 | unpacked (iU) | "
            "3.0.22-1~deb12u2 | rec-broken-1 |") in text
    run = cr.build_run_record({"run_id": "r1", "mode": "plan"}, [rec])
    assert run["hosts"][0]["refused"][0] == (
        "dpkg did not finish: libssl3 3.0.22-1~deb12u2+patchwisebroken1 is half-configured "
        "(dpkg 'iF'); last configured version 3.0.22-1~deb12u2; rollback point(s): rec-broken-1")
    out = cr.render_run_markdown(run)
    assert "## Refused before any change" in out
    assert ("- s1: dpkg did not finish: openssl 3.0.22-1~deb12u2+patchwisebroken1 is unpacked "
            "(dpkg 'iU'); last configured version 3.0.22-1~deb12u2; rollback point(s): "
            "rec-broken-1") in out


def test_a_host_refused_for_a_held_package_renders_the_reason():
    rec = cr.new_host_record("r1", "s1", "plan", {}, "excluded")
    rec = cr.update_host_record(
        rec, _planning_refusal("debian12-openssl-packages-check-held-refused.json"))
    assert rec["failure"]["reason"] == "held"
    assert rec["failure"]["held"][0]["name"] == "libssl3"
    assert "unfinished" not in rec["failure"]
    text = cr.render_host_markdown(rec)
    assert "| libssl3 | 3.0.22-1~deb12u2 | 3.0.22-1~deb12u2+patchwise1 |" in text
    assert "or set `patch_allow_held: true` to upgrade them and keep the hold" in text
    out = cr.render_run_markdown(cr.build_run_record({"run_id": "r1", "mode": "plan"}, [rec]))
    assert ("- s1: on hold: libssl3 3.0.22-1~deb12u2 is on hold; the plan upgrades it to "
            "3.0.22-1~deb12u2+patchwise1 (apt-mark unhold it, or set patch_allow_held=true)"
            ) in out


def test_another_failure_with_a_held_package_records_no_refusal():
    failure = _planning_refusal("debian12-openssl-packages-check-held-allowed.json")["failure"]
    failure.update(message="pre-flight: a package repository is unreachable", allow_held=True)
    rec = cr.update_host_record(cr.new_host_record("r1", "s1", "plan", {}, "excluded"),
                                {"outcome": "failed", "failure": failure})
    assert set(rec["failure"]) == {"task", "message", "stage"}
    assert cr.host_row(rec)["refused"] == []


def test_a_held_package_upgraded_with_allow_held_is_recorded_with_the_hold_kept():
    upgrade = load("debian12-openssl-packages-held-allowed-upgrade.json")
    rec = cr.new_host_record("r1", "s1", "apply", _held_plan(), "pending")
    result = {"outcome": "patched", "message": "verified",
              "patch": {"before": upgrade["before"], "after": upgrade["after"],
                        "changed_packages": upgrade["changed_packages"],
                        "rollback_point": upgrade["rollback_point"],
                        "held": upgrade["held"], "unfinished": upgrade["unfinished"],
                        "allow_held": True},
              "failure": {}}
    rec = cr.update_host_record(rec, result)
    assert rec["packages_held"] == [{"name": "libssl3", "arch": "amd64",
                                     "version": "3.0.22-1~deb12u2",
                                     "to": "3.0.22-1~deb12u2+patchwise1", "action": "upgrade",
                                     "hold_kept": True}]
    assert rec["failure"] is None
    assert cr.host_row(rec)["changes"] == [
        LIBSSL3_HELD, "openssl 3.0.22-1~deb12u2 -> 3.0.22-1~deb12u2+patchwise1"]
    text = cr.render_host_markdown(rec)
    assert ("- libssl3 3.0.22-1~deb12u2: upgraded to 3.0.22-1~deb12u2+patchwise1 with "
            "patch_allow_held, hold kept") in text


def test_a_refusal_at_the_change_comes_from_the_patch_facts():
    """A host that was planned, then refused by the patch role (dpkg left unfinished work in
    between): the rollout records the patch role's exported facts."""
    result = load("debian12-openssl-packages-check-unfinished-refused.json")
    rec = cr.update_host_record(
        cr.new_host_record("r1", "s1", "apply", {}, "pending"),
        {"outcome": "failed", "message": "failed before any package changed",
         "patch": {"before": result["before"], "after": result["after"],
                   "held": result["held"], "unfinished": result["unfinished"],
                   "allow_held": "False"},
         "failure": {"task": "Upgrade only the OpenSSL packages (rollback point first)",
                     "message": result["msg"]}})
    assert rec["failure"]["reason"] == "unfinished"
    assert rec["failure"]["stage"] == "change"
    assert rec["packages_held"] == []
