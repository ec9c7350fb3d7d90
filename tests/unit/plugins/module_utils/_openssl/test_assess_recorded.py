# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The assessment of real facts recorded by openssl_facts on a Debian 12 workstation.

The machine had been upgraded from libssl3 3.0.19-1~deb12u2 to 3.0.22-1~deb12u2 while an
``openssl s_server`` kept running; podman containers (Debian 11, 12, 13) ran nginx, haproxy,
apache2 and sshd; a virtual environment held cryptography 50.0.2 with its own OpenSSL 4.0.3.
See tests/unit/fixtures/assess/SOURCES.md.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    report,
    vulndb,
)

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "assess"
FACTS = json.loads((FIXTURES / "debian12-workstation-facts.json").read_text())
SYSTEM = "library:/usr/lib/x86_64-linux-gnu@3.0.22"
VENDORED = "vendored:/tmp/pinvenv/lib/python3.11/site-packages/cryptography/hazmat/bindings/"


@pytest.fixture(scope="module")
def result():
    return assess.Assessor(vulndb.load_db(), "2026-11-22").assess(FACTS, "workstation")


def copies(result):
    return {c["id"]: c for c in result["copies"]}


def test_system_copy_is_the_upgraded_package(result):
    system = copies(result)[SYSTEM]
    assert system["package"]["name"] == "libssl3:amd64"
    assert system["package"]["version"] == "3.0.22-1~deb12u2"
    assert system["lifecycle"]["status"] == "end_of_life"  # 3.0 ended on 2026-09-07
    assert system["lifecycle"]["next_lts"] == "3.5"
    # python3 and the openssl command use the same library: notes, not duplicate copies
    assert any(n.startswith("runtime /usr/bin/python3") for n in system["notes"])
    assert any(n.startswith("command /usr/bin/openssl") for n in system["notes"])
    # Debian LTS imported 3.0.22 after the June data: the report says what it cannot know
    assert any("newer than the newest 3.0 release" in n for n in system["notes"])
    assert not [c for c in result["copies"] if c["type"] in ("runtime", "cli")]


def test_stale_s_server_needs_a_restart(result):
    running = {
        f["cve"]: f
        for f in result["findings"]
        if f["copy"] == SYSTEM and f["scope"] == "running" and 8961 in f["pids"]
    }
    # upstream 3.0.19 (read from the deleted file's version text) has 16 CVEs
    assert len(running) == 16
    high = running["CVE-2026-45447"]
    assert (high["status"], high["reason"]) == ("vulnerable", "restart_required")
    assert high["evidence"]["running_version"] == "3.0.19"
    assert high["exposure"]["level"] == "network"
    assert "tcp/8443" in high["rationale"]
    # named in a 3.0.19 revision of the changelog: which revision runs is not known
    assert running["CVE-2026-28387"]["reason"] == "running_revision_unknown"
    # on disk, upstream 3.0.22 is not affected
    installed = [f for f in result["findings"] if f["cve"] == "CVE-2026-45447"]
    assert {(f["scope"], f["status"]) for f in installed if f["copy"] == SYSTEM} == {
        ("installed", "fixed"),
        ("running", "vulnerable"),
    }


def test_restart_only_host(result):
    summary = result["summary"]
    assert summary["restart_only"] is True
    assert {8961, 8962} <= {p["pid"] for p in summary["restart_required"]}
    assert summary["exposed_vulnerable_processes"] >= 2
    assert result["risk"]["priority"] == "critical"


def test_vendored_copy_judged_by_its_own_version(result):
    vendored = [c for c in result["copies"] if c["id"].startswith(VENDORED)]
    assert len(vendored) == 1
    assert vendored[0]["version"] == "4.0.3"
    assert vendored[0]["lifecycle"]["status"] == "supported"
    # newer than any 4.0 release the June data knows: said so, not silently clean
    assert any("newer than the newest 4.0 release" in n for n in vendored[0]["notes"])
    assert any("4.0.3 is newer" in w for w in result["warnings"])


def test_containers_are_judged_by_their_own_bytes(result):
    by_id = copies(result)
    debian11 = [c for c in by_id.values() if c["type"] == "container" and c["version"] == "1.1.1w"]
    assert debian11 and debian11[0]["lifecycle"]["status"] == "premium_only"
    cid = debian11[0]["id"]
    statuses = {(f["status"], f["reason"]) for f in result["findings"] if f["copy"] == cid}
    assert statuses == {("unknown", "no_changelog")}  # Debian's changelog is inside it
    unread = [c for c in by_id.values() if c["type"] == "container" and c["version"] is None]
    assert unread and all("do not show the version" in c["reason"] for c in unread)


def test_unreadable_library_is_unknown_not_skipped(result):
    lab = copies(result)["library:/tmp/stalelab/lib@unknown"]
    assert lab["assessed"] is False
    assert "do not show which library" in lab["reason"]
    assert any(
        f["copy"] == lab["id"] and f["status"] == "unknown" and f["cve"] is None
        for f in result["findings"]
    )


def test_reports_render(result):
    summary = report.fleet_summary({"workstation": result}, generated_at="2026-11-22")
    page = report.render_html(summary)
    assert "workstation" in page and "<svg" in page
    assert "patchwise_openssl_stale_processes" in report.render_prometheus(result)
