# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin openssl_assess: arguments, default facts, fail_on, reports, fleet summary."""

from __future__ import annotations

import json
import stat
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.patchwise.openssl.plugins.action.openssl_assess import ActionModule

TODAY = "2026-11-22"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
ANY = "0.0.0.0"  # noqa: S104 - a recorded listening address, nothing binds


def facts(version="3.0.19", port=443):
    """Facts with an unpackaged 3.0.19 libcrypto loaded by a listening nginx."""
    return {
        "schema_version": 1,
        "privileged": True,
        "libraries": [
            {
                "path": f"{LIBDIR}/libcrypto.so.3",
                "implementation": "openssl",
                "version": version,
                "unpackaged": True,
            }
        ],
        "processes": [
            {
                "pid": 812,
                "comm": "nginx",
                "service": "nginx.service",
                "listening": [{"proto": "tcp", "address": ANY, "port": port}],
                "libraries": [{"path": f"{LIBDIR}/libcrypto.so.3", "stale": False}],
            }
        ],
    }


def run(args, task_vars=None, check_mode=False):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "patchwise.openssl.openssl_assess"
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, MagicMock(), loader=None, templar=None)
    return action.run(task_vars=task_vars or {"inventory_hostname": "web1"})


def test_assess_default_facts_from_task_vars():
    task_vars = {"inventory_hostname": "web1", "ansible_facts": {"openssl": facts()}}
    result = run({"now": TODAY}, task_vars)
    assert result["changed"] is False
    assert "failed" not in result
    assessment = result["assessment"]
    assert assessment["host"] == "web1"
    assert assessment["assessed_on"] == TODAY
    assert result["risk_score"] == assessment["risk"]["score"] > 0
    assert result["priority"] == "critical"
    assert result["restart_only"] is False
    assert result["msg"].startswith("web1: risk ")
    finding = next(f for f in assessment["findings"] if f["cve"] == "CVE-2026-45447")
    assert finding["exposure"]["listening"] == [
        {"pid": 812, "comm": "nginx", "service": "nginx.service", "ports": ["tcp/443"]}
    ]
    assert any("days old" in w for w in result["warnings"])


def test_fail_on_fails_with_clear_message():
    result = run({"facts": facts(), "now": TODAY, "fail_on": "high"})
    assert result["failed"] is True
    assert "fail_on=high exceeded" in result["msg"]
    assert "CVE-2026-45447" in result["msg"]
    assert result["assessment"]["gate"]["exceeded"] is True


def test_fail_on_not_enforced_reports_only():
    result = run({"facts": facts(), "now": TODAY, "fail_on": "high", "enforce_fail_on": False})
    assert "failed" not in result
    assert result["assessment"]["gate"]["exceeded"] is True


def test_fail_on_not_exceeded():
    result = run({"facts": facts("3.5.7"), "now": TODAY, "fail_on": "low"})
    assert "failed" not in result
    assert result["priority"] == "none"


def test_check_mode_is_the_same():
    normal = run({"facts": facts(), "now": TODAY})
    check = run({"facts": facts(), "now": TODAY}, check_mode=True)
    assert check["assessment"] == normal["assessment"]


def test_include_statuses_and_prometheus():
    result = run(
        {"facts": facts(), "now": TODAY, "include_statuses": ["fixed"], "prometheus": True}
    )
    assert result["assessment"]["findings"] == []
    assert "patchwise_openssl_vulnerable_processes 1\n" in result["prometheus"]


@pytest.mark.parametrize(
    ("args", "task_vars", "message"),
    [
        ({"now": TODAY}, {"inventory_hostname": "h"}, "no OpenSSL facts for h"),
        ({"facts": facts(), "now": "2020-01-01"}, None, "before the newest vulnerability data"),
        ({"facts": facts(), "now": "yesterday"}, None, "ISO date"),
        ({"facts": facts(), "db": "/nonexistent/db.json"}, None, "not found"),
        ({"facts": facts(), "fail_on": "severe"}, None, "fail_on"),
        ({"facts": facts(), "summarize_hosts": ["a"]}, None, "mutually exclusive"),
        ({"summarize_hosts": ["a"]}, None, "needs report_dir"),
        ({"facts": facts(), "bogus": 1}, None, "bogus"),
    ],
)
def test_errors_are_clear(args, task_vars, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run(args, task_vars)


def test_corrupt_database(tmp_path):
    db = tmp_path / "db.json"
    db.write_text('{"format": 1, "cves": ')
    with pytest.raises(AnsibleActionFail, match="not valid JSON"):
        run({"facts": facts(), "db": str(db), "now": TODAY})


def test_reports_and_fleet_summary(tmp_path):
    report_dir = tmp_path / "reports"
    hosts = {"web1": facts(), "db1": facts("3.5.7"), "old": facts()}
    for host, host_facts in hosts.items():
        run_id = "run-2" if host != "old" else "run-1"
        result = run(
            {"facts": host_facts, "now": TODAY, "report_dir": str(report_dir), "run_id": run_id},
            {"inventory_hostname": host},
        )
        path = report_dir / "hosts" / f"{host}.json"
        assert result["report_files"] == [str(path)]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text())["run_id"] == run_id
    assert stat.S_IMODE((report_dir / "hosts").stat().st_mode) == 0o700

    summary = run(
        {
            "summarize_hosts": ["web1", "db1", "old", "gone"],
            "report_dir": str(report_dir),
            "run_id": "run-2",
        }
    )
    assert summary["changed"] is False
    assert sorted(summary["report_files"]) == sorted(
        str(report_dir / n) for n in ("summary.json", "summary.md", "index.html")
    )
    stats = summary["summary"]
    assert stats["hosts_total"] == 4
    assert stats["hosts_assessed"] == 2
    assert sorted(stats["hosts_missing"]) == ["gone", "old"]
    assert [t["host"] for t in stats["top_hosts"]] == ["web1", "db1"]
    assert summary["text"].startswith("OpenSSL assessment: ")
    full = json.loads((report_dir / "summary.json").read_text())
    reasons = {m["host"]: m["reason"] for m in full["hosts_missing"]}
    assert "earlier run" in reasons["old"]
    assert "unreachable" in reasons["gone"]
    html = (report_dir / "index.html").read_text()
    assert "<svg" in html and "http://" not in html and "https://" not in html
    for name in ("summary.json", "summary.md", "index.html"):
        assert stat.S_IMODE((report_dir / name).stat().st_mode) == 0o600


def test_summary_formats_subset(tmp_path):
    run(
        {"facts": facts(), "now": TODAY, "report_dir": str(tmp_path)},
        {"inventory_hostname": "h1"},
    )
    result = run(
        {"summarize_hosts": ["h1"], "report_dir": str(tmp_path), "report_formats": ["markdown"]}
    )
    assert result["report_files"] == [str(tmp_path / "summary.md")]


def test_unreadable_host_report(tmp_path):
    (tmp_path / "hosts").mkdir()
    (tmp_path / "hosts" / "h1.json").write_text("{broken")
    result = run({"summarize_hosts": ["h1"], "report_dir": str(tmp_path)})
    assert result["summary"]["hosts_missing"] == ["h1"]
