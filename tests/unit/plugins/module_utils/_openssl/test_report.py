# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet summary and renderers (JSON, Markdown, self-contained HTML, Prometheus textfile)."""

from __future__ import annotations

import json
import os
import re
import stat
import xml.etree.ElementTree as ET

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    report,
    vulndb,
)

TODAY = "2026-11-22"
LIBDIR = "/usr/lib/x86_64-linux-gnu"
ANY = "0.0.0.0"  # noqa: S104 - a recorded listening address, nothing binds


def host_facts(version, package=None, pkg_version=None, cves=None, stale=False, port=None):
    """Facts of one host: real version strings, Debian paths, an optional listening nginx."""
    listening = [{"proto": "tcp", "address": ANY, "port": port}] if port else []
    return {
        "schema_version": 1,
        "privileged": True,
        "libraries": [
            {
                "path": f"{LIBDIR}/libcrypto.so.3",
                "real_path": f"{LIBDIR}/libcrypto.so.3",
                "kind": "libcrypto",
                "implementation": "openssl",
                "version": version,
                "package": package,
                "package_version": pkg_version,
                "unpackaged": package is None,
            }
        ],
        "packages": [
            {
                "name": package,
                "version": pkg_version,
                "upstream_version": version,
                "manager": "dpkg",
                "changelog": {"path": "x", "cves": cves or {}, "error": None},
            }
        ]
        if package
        else [],
        "processes": [
            {
                "pid": 42,
                "comm": "nginx",
                "service": "nginx.service",
                "listening": listening,
                "stale": stale,
                "libraries": [
                    {
                        "path": f"{LIBDIR}/libcrypto.so.3",
                        "stale": stale,
                        "deleted": stale,
                        "package_version": "3.0.19-1~deb12u2" if stale else None,
                    }
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def fleet():
    assessor = assess.Assessor(vulndb.load_db(), TODAY)
    hosts = {
        "web1.example.org": host_facts("3.0.19", port=443),  # unpackaged, exposed, EOL
        "db1": host_facts("3.5.7"),  # clean
        "legacy|<b>": host_facts("1.1.1w"),  # premium-only EOL, hostile name
        "deb12-stale": host_facts(
            "3.0.22", "libssl3", "3.0.22-1~deb12u2", {"CVE-2026-28387": "3.0.19-1~deb12u2"}, True
        ),
    }
    results = {h: assessor.assess(f, h) for h, f in hosts.items()}
    return results


@pytest.fixture(scope="module")
def summary(fleet):
    return report.fleet_summary(fleet, {"down1": "unreachable"}, generated_at=TODAY)


def test_ranking_and_counts(fleet, summary):
    ranking = summary["ranking"]
    assert [r["rank"] for r in ranking] == [1, 2, 3, 4]
    assert ranking[0]["host"] == "web1.example.org"
    assert ranking[-1]["host"] == "db1"
    scores = [r["score"] for r in ranking]
    assert scores == sorted(scores, reverse=True)
    assert summary["hosts_total"] == 5
    assert summary["hosts_assessed"] == 4
    assert summary["hosts_missing"] == [{"host": "down1", "reason": "unreachable"}]
    assert sum(summary["priority_counts"].values()) == 4
    expected_high = sum(r["summary"]["cves"]["vulnerable"]["high"] for r in fleet.values())
    assert summary["severity_counts"]["vulnerable"]["high"] == expected_high
    assert {h["host"] for h in summary["eol_hosts"]} == {
        "web1.example.org",
        "legacy|<b>",
        "deb12-stale",
    }
    assert summary["restart_only_hosts"] == [{"host": "deb12-stale", "services": ["nginx.service"]}]
    widespread = {c["cve"]: c for c in summary["cves"]}
    # 3.0.19 unpackaged, the stale nginx, and 1.1.1w (fixed only in a premium release)
    assert widespread["CVE-2026-45447"]["hosts_vulnerable"] == 3
    assert sorted(widespread["CVE-2026-45447"]["hosts"]) == [
        "deb12-stale",
        "legacy|<b>",
        "web1.example.org",
    ]


def test_missing_results_are_listed(fleet):
    out = report.fleet_summary({"a": None, "b": "garbage", **fleet}, generated_at=TODAY)
    assert [m["host"] for m in out["hosts_missing"]] == ["a", "b"]


def test_stats_is_compact(summary):
    stats = report.stats(summary, top=2)
    assert [t["host"] for t in stats["top_hosts"]] == [r["host"] for r in summary["ranking"][:2]]
    assert stats["restart_only_hosts"] == ["deb12-stale"]
    assert stats["hosts_missing"] == ["down1"]
    assert stats["run_id"] is None  # the fleet summary had none
    assert report.stats({**summary, "run_id": "r1"})["run_id"] == "r1"
    assert len(json.dumps(stats)) < 4000


def test_render_json_round_trips(summary):
    text = report.render_json(summary)
    assert text.endswith("\n")
    assert json.loads(text) == json.loads(json.dumps(summary, default=str))


def test_render_markdown(summary):
    text = report.render_markdown(summary)
    assert text.startswith("# OpenSSL assessment\n")
    assert "| 1 | web1.example.org |" in text
    assert "legacy\\|\\<b\\>" in text  # table-safe escaping
    assert "## Restart-only hosts" in text and "- deb12-stale: nginx.service" in text
    assert "down1: unreachable" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    for row in rows:  # every table row has as many cells as its header
        assert row.count(" | ") >= 1


def test_render_console(summary):
    text = report.render_console(summary, top_hosts=2)
    lines = text.splitlines()
    assert lines[0] == "OpenSSL assessment: 4 of 5 hosts assessed"
    assert "Not assessed: down1: unreachable" in lines
    ranked = [line for line in lines if line.startswith("  ") and ". " in line[:6]]
    assert len(ranked) == 2  # top_hosts is honoured
    assert ranked[0].startswith("  1. web1.example.org  score ")
    assert "openssl 3.0.19" in ranked[0]
    assert "Restart only (fix installed): deb12-stale: nginx.service" in lines
    high = summary["severity_counts"]["vulnerable"]["high"]
    assert f"{high} high" in next(line for line in lines if line.startswith("Vulnerable CVEs:"))


def test_render_console_empty_fleet():
    text = report.render_console(report.fleet_summary({}, generated_at=TODAY))
    assert text.startswith("OpenSSL assessment: 0 of 0 hosts assessed\n")
    assert "Riskiest hosts" not in text


def test_render_html_is_self_contained_and_well_formed(summary):
    page = report.render_html(summary)
    # no external reference of any kind
    assert not re.search(r"https?://", page)
    assert not re.search(r"\b(src|href|xlink:href)\s*=", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page
    # well-formed: parse as XML after the doctype
    root = ET.fromstring(page.split("\n", 1)[1])  # noqa: S314 - our own output
    assert root.tag == "html"
    svg = root.find(".//svg")
    assert svg is not None
    bars = svg.findall("rect")
    assert bars, "the chart has bars"
    titles = [r.find("title").text for r in bars]
    assert any(t.startswith("web1.example.org:") and "high" in t for t in titles)
    table_hosts = [tr.findall("td")[1].text for tr in root.iter("tr") if tr.findall("td")[1:]]
    assert "legacy|<b>" in table_hosts  # escaped in the source, intact once parsed
    assert "legacy|&lt;b&gt;" in page and "legacy|<b>" not in page


def test_render_html_defangs_urls_in_text():
    summary = report.fleet_summary({}, {"https://evil.example/x": "see http://x.test"})
    page = report.render_html(summary)
    assert not re.search(r"https?://", page)


def test_render_html_empty_fleet():
    page = report.render_html(report.fleet_summary({}, generated_at=TODAY))
    root = ET.fromstring(page.split("\n", 1)[1])  # noqa: S314 - our own output
    assert root.find(".//svg") is not None


PROM_LINE = re.compile(
    r'^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="([^"\\]|\\.)*"(,[a-z_]+="([^"\\]|\\.)*")*\})? '
    r"[0-9.e+-]+)$"
)


def test_render_prometheus(fleet):
    text = report.render_prometheus(fleet["deb12-stale"])
    assert text == report.render_prometheus(fleet["deb12-stale"])  # deterministic
    for line in text.splitlines():
        assert PROM_LINE.match(line), line
    assert "patchwise_openssl_stale_processes 1\n" in text
    assert "patchwise_openssl_restart_only 1\n" in text
    assert "patchwise_openssl_vulnerable_processes 1\n" in text
    web = report.render_prometheus(fleet["web1.example.org"])
    assert 'patchwise_openssl_cves{severity="high",status="vulnerable"} 1\n' in web
    assert "patchwise_openssl_exposed_vulnerable_processes 1\n" in web


def test_prometheus_label_escaping():
    text = report.render_prometheus({"database": {"generated_at": 'a"b\\c\nd'}})
    assert 'generated_at="a\\"b\\\\c\\nd"' in text


def test_write_atomic_modes(tmp_path):
    target = tmp_path / "new" / "deep" / "summary.json"
    assert report.write_atomic(str(target), "one\n") is True
    assert target.read_text() == "one\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for directory in (target.parent, target.parent.parent):  # every new directory
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    before = stat.S_IMODE(tmp_path.stat().st_mode)
    report.write_atomic(str(tmp_path / "x.json"), "{}")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == before  # existing directories untouched
    assert report.write_atomic(str(target), "one\n") is False
    assert report.write_atomic(str(target), "two\n") is True
    assert os.listdir(target.parent) == ["summary.json"]  # no temporary file left


def test_write_atomic_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(report.ReportError, match="cannot write"):
        report.write_atomic(str(blocker / "sub" / "r.json"), "x")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web1.example.org", "web1.example.org"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("host name/with:odd", "host_name_with_odd"),
        ("..", "_"),
    ],
)
def test_safe_filename(name, expected):
    assert report.safe_filename(name) == expected


def test_render_json_summary_stays_indented(summary):
    text = report.render_json(summary)
    assert text.startswith("{\n  ")


def test_render_host_json_is_compact_and_equal(summary):
    compact = report.render_host_json(summary)
    assert compact.endswith("}\n") and compact.count("\n") == 1
    assert json.loads(compact) == json.loads(report.render_json(summary))
    assert compact == report.render_json(summary, compact=True)
    assert len(compact) < len(report.render_json(summary))
