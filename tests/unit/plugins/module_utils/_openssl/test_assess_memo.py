# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memoized assessment = plain assessment, byte for byte; host digests = full results.

The facts are the ones recorded on a Debian 12 workstation (tests/unit/fixtures/assess/
SOURCES.md: stale ``openssl s_server``, Debian 11/12/13 containers, a vendored OpenSSL 4.0.3)
and variants of them: another package version with its real changelog CVE map, processes
marked stale or fresh, live-patch evidence, malformed changelog entries. One memoizing
Assessor assesses them in an order that makes its memos hit; each result must equal, as JSON
text, the result of an Assessor that memoizes nothing.
"""

from __future__ import annotations

import copy
import json
import pathlib
import random

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    report,
    vulndb,
)

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "assess"
FACTS = json.loads((FIXTURES / "debian12-workstation-facts.json").read_text())
CHANGELOGS = json.loads((FIXTURES / "changelog-cves.json").read_text())
OLDER_LOG = "libssl3_3.0.19-1~deb12u2.changelog.Debian.gz"
TODAY = "2026-11-22"


def text(result: dict) -> str:
    return json.dumps(result, sort_keys=True, default=str)


def older_package(facts: dict) -> dict:
    """The same host before its upgrade: 3.0.19-1~deb12u2 with that changelog's CVE map."""
    facts = copy.deepcopy(facts)
    for pkg in facts["packages"]:
        pkg["version"] = "3.0.19-1~deb12u2"
        pkg["upstream_version"] = "3.0.19"
        pkg["changelog"]["cves"] = dict(CHANGELOGS[OLDER_LOG]["cves"])
        pkg["changelog"]["trimmed"] = CHANGELOGS[OLDER_LOG]["trimmed"]
    for lib in facts["libraries"]:
        lib["package_version"] = "3.0.19-1~deb12u2"
        if lib["version"]:
            lib["version"] = "3.0.19"
        if lib["version_text"]:
            lib["version_text"] = lib["version_text"].replace("3.0.22", "3.0.19")
    return facts


def restarted(facts: dict) -> dict:
    """Every process restarted: nothing maps a replaced file any more."""
    facts = copy.deepcopy(facts)
    for proc in facts["processes"]:
        proc["stale"] = False
        for lib in proc["libraries"]:
            lib.update(stale=False, deleted=False, stale_reason=None)
    return facts


def running_package(facts: dict) -> dict:
    """The replaced files carry their package version (facts from dpkg's backup)."""
    facts = copy.deepcopy(facts)
    for proc in facts["processes"]:
        for lib in proc["libraries"]:
            if lib.get("stale"):
                lib["package_version"] = "3.0.19-1~deb12u2"
                lib["stale_reason"] = "inode_mismatch"
    return facts


def livepatched(facts: dict) -> dict:
    """KernelCare's libcare patched two of the stale processes in memory."""
    facts = copy.deepcopy(facts)
    stale = [p for p in facts["processes"] if p.get("stale")][:2]
    facts["livepatch"]["patched"] = [
        {
            "pid": p["pid"],
            "object": p["libraries"][0]["path"],
            "build_id": p["libraries"][0]["build_id"],
            "patch_level": 3,
            "cves": ["CVE-2026-45447", "CVE-2024-0727"],
            "source": "kcarectl",
        }
        for p in stale
    ]
    return facts


def malformed_changelog(facts: dict, entry: object, trimmed: object) -> dict:
    """Changelog entries that are not strings: 1, True and 1.0 are equal as dict keys."""
    facts = copy.deepcopy(facts)
    for pkg in facts["packages"]:
        pkg["changelog"]["cves"] = dict.fromkeys(pkg["changelog"]["cves"], entry)
        pkg["changelog"]["trimmed"] = trimmed
    return facts


def shuffled(facts: dict, seed: int) -> dict:
    """Other pids, some processes dropped, some marked stale (a host of the same fleet)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    facts = copy.deepcopy(facts)
    procs = [p for p in facts["processes"] if rng.random() < 0.8]
    for proc in procs:
        proc["pid"] = proc["pid"] + 100000 * seed
        if rng.random() < 0.2:
            proc["stale"] = True
            for lib in proc["libraries"]:
                lib.update(stale=True, deleted=True, stale_reason="deleted")
    facts["processes"] = procs
    return facts


HOSTS = [
    ("workstation", FACTS),
    ("older", older_package(FACTS)),
    ("workstation-again", FACTS),
    ("restarted", restarted(FACTS)),
    ("running-package", running_package(FACTS)),
    ("older-again", older_package(FACTS)),
    ("livepatched", livepatched(FACTS)),
    ("livepatched-running", livepatched(running_package(FACTS))),
    ("entries-int", malformed_changelog(older_package(FACTS), 1, 1)),
    ("entries-true", malformed_changelog(older_package(FACTS), True, True)),
    ("entries-float", malformed_changelog(older_package(FACTS), 1.0, True)),
    ("entries-str", malformed_changelog(older_package(FACTS), "1", True)),
    *[(f"fleet{seed}", shuffled(FACTS, seed)) for seed in range(1, 9)],
    *[(f"fleet-older{seed}", shuffled(older_package(FACTS), seed)) for seed in range(1, 5)],
]


@pytest.fixture(scope="module")
def db():
    return vulndb.load_db()


@pytest.fixture(scope="module")
def memoized(db):
    assessor = assess.Assessor(db, TODAY)
    return {host: assessor.assess(facts, host, "high") for host, facts in HOSTS}


def test_memos_hit(db):
    assessor = assess.Assessor(db, TODAY)
    for host, facts in HOSTS:
        assessor.assess(facts, host)
    # three distinct packages of the recorded host, one version each: each normalised once
    assert len(assessor._package_cache) < sum(len(f["packages"]) for _h, f in HOSTS) / 4
    assert assessor.class_rows_cache


@pytest.mark.parametrize("host", [h for h, _f in HOSTS])
def test_memoized_equals_plain(db, memoized, host):
    facts = dict(HOSTS)[host]
    plain = assess.Assessor(db, TODAY, memoize=False).assess(facts, host, "high")
    assert text(memoized[host]) == text(plain)


def test_memoized_batch_equals_plain_batch(db):
    memo = assess.Assessor(db, TODAY).assess_many(dict(HOSTS), "moderate")
    plain = assess.Assessor(db, TODAY, memoize=False).assess_many(dict(HOSTS), "moderate")
    assert [text(memo[h]) for h, _f in HOSTS] == [text(plain[h]) for h, _f in HOSTS]


def test_malformed_entries_are_not_confused(memoized):
    # 1, True and 1.0 are equal dict keys: the changelog entries must still read as written
    def entries(host):
        return {
            f["evidence"]["changelog_entry"]
            for f in memoized[host]["findings"]
            if "changelog_entry" in f["evidence"]
        }

    assert entries("entries-int") == {"1"}
    assert entries("entries-true") == {"True"}
    assert entries("entries-float") == {"1.0"}
    assert entries("entries-str") == {"1"}


def test_shared_memos_do_not_leak_between_hosts(db):
    assessor = assess.Assessor(db, TODAY)
    first = assessor.assess(FACTS, "first")
    snapshot = text(first)
    for host, facts in HOSTS:
        result = assessor.assess(facts, host)
        for finding in result["findings"]:  # a caller changing its result...
            finding["pids"].append(-1)
            finding["rationale"] = "changed"
    # ...changes neither an earlier result nor a later one
    assert text(first) == snapshot
    assert text(assessor.assess(FACTS, "first")) == snapshot


def test_prepare_changes_nothing_but_the_caches(db):
    prepared = assess.Assessor(db, TODAY).prepare()
    assert prepared.class_rows_cache == {}
    for host, facts in HOSTS[:4]:
        plain = assess.Assessor(db, TODAY, memoize=False).assess(facts, host)
        assert text(prepared.assess(facts, host)) == text(plain)


def test_fleet_summary_of_digests_is_the_summary(memoized):
    results = dict(memoized)
    results["broken"] = "not an assessment"
    full = report.fleet_summary(results, {"gone": "unreachable"}, generated_at=TODAY)
    digests = {h: report.host_digest(r) for h, r in results.items()}
    assert report.render_json(
        report.fleet_summary(digests, {"gone": "unreachable"}, generated_at=TODAY)
    ) == report.render_json(full)
    # a digest is a small part of the report
    size = len(report.render_host_json(results["workstation"]))
    assert len(report.render_host_json(digests["workstation"])) < size / 4


def test_load_host_reports(tmp_path, memoized):
    run_id = "20261122T100000Z"
    for host in ("workstation", "older"):
        data = dict(memoized[host], run_id=run_id)
        report.write_atomic(
            report.host_report_path(str(tmp_path), host), report.render_host_json(data)
        )
    earlier = dict(memoized["restarted"], run_id="20261121T100000Z")
    report.write_atomic(
        report.host_report_path(str(tmp_path), "restarted"), report.render_host_json(earlier)
    )
    pathlib.Path(report.host_report_path(str(tmp_path), "corrupt")).write_text("{not json")
    hosts = ["workstation", "older", "restarted", "corrupt", "absent", "workstation"]
    results, missing = report.load_host_reports(str(tmp_path), hosts, run_id)
    assert list(results) == ["workstation", "older"]
    assert results["older"] == report.host_digest(dict(memoized["older"], run_id=run_id))
    assert missing["restarted"].startswith("host report is from an earlier run")
    assert missing["corrupt"].startswith("unreadable host report")
    assert missing["absent"].startswith("no host report")
    # without a run id every readable report counts
    results, missing = report.load_host_reports(str(tmp_path), hosts)
    assert set(results) == {"workstation", "older", "restarted"}


def test_trimmed_changelogs_are_told_apart(db):
    # Same package, same CVE map; one changelog trimmed by the distribution, one not. One
    # assessor caches the decisions per package evidence: each host keeps its own.
    trimmed = older_package(FACTS)
    whole = copy.deepcopy(trimmed)
    for pkg in trimmed["packages"]:
        pkg["changelog"]["trimmed"] = True
    for pkg in whole["packages"]:
        pkg["changelog"]["trimmed"] = False
    assessor = assess.Assessor(db, TODAY)

    def flagged(result):
        return {
            f["evidence"].get("changelog_trimmed")
            for f in result["findings"]
            if f["reason"] == "changelog_silent"
        }

    assert flagged(assessor.assess(trimmed, "trimmed")) == {True}
    assert flagged(assessor.assess(whole, "whole")) == {None}


def test_digest_files_stand_in_for_their_reports(tmp_path, memoized):
    root = str(tmp_path)
    hosts = ["workstation", "older", "livepatched"]
    for host in hosts:
        path = report.write_host_report(root, host, dict(memoized[host], run_id="r1"))
        assert path == report.host_report_path(root, host)
    digests, missing = report.load_host_reports(root, hosts, "r1")
    assert not missing
    assert digests == {h: report.host_digest(dict(memoized[h], run_id="r1")) for h in hosts}
    # the summary from the digest files is the summary of the full results
    full = {h: memoized[h] for h in hosts}
    assert report.render_json(report.fleet_summary(digests, generated_at=TODAY)) == (
        report.render_json(report.fleet_summary(full, generated_at=TODAY))
    )
    # the digest is what is read while the report is the file it was made from ...
    digest_path = pathlib.Path(report.host_digest_path(root, "older"))
    assert digest_path.parent.name == ".digests"
    assert oct(digest_path.stat().st_mode & 0o777) == "0o600"
    data = json.loads(digest_path.read_text())
    data["digest"]["risk"]["score"] = 99.5
    digest_path.write_text(json.dumps(data))
    digests, _missing = report.load_host_reports(root, hosts, "r1")
    assert digests["older"]["risk"]["score"] == 99.5
    # ... and ignored once the report is another file (rewritten by anything else)
    report.write_atomic(
        report.host_report_path(root, "older"),
        report.render_host_json(dict(memoized["restarted"], run_id="r2")),
    )
    digests, missing = report.load_host_reports(root, hosts, "r1")
    assert "older" not in digests
    assert missing["older"].startswith("host report is from an earlier run")
    digests, _missing = report.load_host_reports(root, hosts, "r2")
    assert digests == {"older": report.host_digest(dict(memoized["restarted"], run_id="r2"))}
    # a corrupt or missing digest falls back to the report
    pathlib.Path(report.host_digest_path(root, "workstation")).write_text("{")
    pathlib.Path(report.host_digest_path(root, "livepatched")).unlink()
    digests, missing = report.load_host_reports(root, hosts, "r1")
    assert set(digests) == {"workstation", "livepatched"}
    assert digests["livepatched"] == report.host_digest(dict(memoized["livepatched"], run_id="r1"))
