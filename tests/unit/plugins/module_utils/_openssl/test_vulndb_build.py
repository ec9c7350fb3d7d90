# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converter tests on recorded upstream files (tests/unit/fixtures/vulndb, see SOURCES.md)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import vulndb_build as vb
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.vulndb import (
    load_db,
    validate_db,
)
from hypothesis import given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve()
REPO = HERE.parents[5]
FIXTURES = HERE.parents[3] / "fixtures" / "vulndb"
META = FIXTURES / "release-metadata"
LEGACY = FIXTURES / "legacy" / "vulnerabilities.xml.gz"
SHARED = REPO.parent / "shared" / "data"
SHARED_META = SHARED / "openssl-release-metadata"
SHARED_XML = SHARED / "openssl-web-legacy" / "vulnerabilities.xml"
STAMP = "2026-07-01T00:00:00Z"
COMMIT = "e91fdcf64bb7e9d06d768e3805350b9c3e6867ab"


def build(src=META, legacy=LEGACY, **kwargs):
    kwargs.setdefault("generated_at", STAMP)
    return vb.build_db(src, legacy, **kwargs)


@pytest.fixture(scope="module")
def db():
    return build()[0]


@pytest.fixture
def meta_copy(tmp_path):
    target = tmp_path / "release-metadata"
    shutil.copytree(META, target)
    return target


def ranges(record):
    return {r["branch"]: r for r in record["affected"]}


# --- quirks, one test each -------------------------------------------------------------------


def test_empty_range_starts_at_branch_first_release(db):
    rng = ranges(db["cves"]["CVE-2023-2650"])["3.1"]
    assert (rng["introduced"], rng["fixed"]) == ("3.1.0", "3.1.1")
    assert "empty" in rng["note"] and "3.1.0" in rng["note"]
    assert "advisory says OpenSSL 3.1 is vulnerable" in rng["note"]


def test_less_than_or_equal_keeps_last_affected_and_takes_fix_from_advisory(db):
    rng = ranges(db["cves"]["CVE-2022-3996"])["3.0"]
    assert rng["last_affected"] == "3.0.7"
    assert rng["fixed"] == "3.0.8"  # "OpenSSL 3.0 users should upgrade to OpenSSL 3.0.8"
    assert "lessThanOrEqual 3.0.7" in rng["note"]


def test_less_than_or_equal_without_advisory_leaves_fixed_null(meta_copy):
    (meta_copy / "secadv" / "20221213.txt").unlink()
    record = build(meta_copy)[0]["cves"]["CVE-2022-3996"]
    rng = ranges(record)["3.0"]
    assert (rng["fixed"], rng["last_affected"]) == (None, "3.0.7")


def test_cvs_fix_means_never_fixed_in_a_release(db):
    rng = ranges(db["cves"]["CVE-2004-0975"])["0.9.6"]
    assert rng["fixed"] is None and rng["last_affected"] is None
    assert "0.9.6-cvs" in rng["note"]
    assert ranges(db["cves"]["CVE-2004-0975"])["0.9.7"]["fixed"] == "0.9.7f"


def test_unaffected_entry_becomes_unaffected_branch(db):
    record = db["cves"]["CVE-2016-2183"]
    assert record["unaffected_branches"] == ["1.1.0"]
    assert list(ranges(record)) == ["1.0.2"]


def test_fips_module_record(db):
    record = db["cves"]["CVE-2007-5502"]
    assert record["fips_module_only"] is True
    assert ranges(record)["fips-1.1"]["introduced"] == "fips-1.1.1"
    assert ranges(record)["fips-1.1"]["fixed"] == "fips-1.1.2"


def test_disputed_cves_from_statements(db):
    for cve_id in ("CVE-2010-0928", "CVE-2007-6755", "CVE-2002-20001"):
        record = db["cves"][cve_id]
        assert record["disputed"] is True
        assert record["affected"] == []
        assert record["severity"] is None and record["published"] is None
    assert db["cves"]["CVE-2007-6755"]["fips_module_only"] is True
    assert "https://github.com/openssl/openssl/issues/17374" in [
        ref["url"] for ref in db["cves"]["CVE-2002-20001"]["references"]
    ]


def test_disputed_flag_on_a_published_record(meta_copy):
    statements = json.loads((meta_copy / "secjson" / "statements.json").read_text())
    statements["disputed"].append({"base": "1.0.1", "cve": "CVE-2014-0160", "text": "test"})
    (meta_copy / "secjson" / "statements.json").write_text(json.dumps(statements))
    record = build(meta_copy)[0]["cves"]["CVE-2014-0160"]
    assert record["disputed"] is True
    assert record["affected"]  # ranges kept; the assessment decides how to show it


def test_legacy_xml_adds_never_fixed_branches(db):
    for cve_id, branch, first in (
        ("CVE-2005-2969", "0.9.6", "0.9.6"),
        ("CVE-2011-3210", "0.9.8", "0.9.8"),
    ):
        rng = ranges(db["cves"][cve_id])[branch]
        assert rng["source"] == "legacy-xml"
        assert rng["introduced"] == first and rng["fixed"] is None
        assert "vulnerabilities.xml" in rng["note"]


def test_without_legacy_xml_those_branches_are_absent():
    db = build(legacy=None)[0]
    assert "0.9.6" not in ranges(db["cves"]["CVE-2005-2969"])
    assert db["source"]["legacy_xml"] is None


def test_legacy_xml_issue_without_cve_is_reported_not_guessed():
    _db, warnings = build()
    assert any("has no CVE id" in w for w in warnings)


def test_premium_only_fixes(db):
    assert ranges(db["cves"]["CVE-2023-2650"])["1.0.2"]["premium_only"] is True
    assert ranges(db["cves"]["CVE-2023-5678"])["1.1.1"] == {
        **ranges(db["cves"]["CVE-2023-5678"])["1.1.1"],
        "fixed": "1.1.1x",
        "premium_only": True,
    }
    assert ranges(db["cves"]["CVE-2023-2650"])["1.1.1"]["premium_only"] is False  # 1.1.1u
    assert ranges(db["cves"]["CVE-2016-2183"])["1.0.2"]["premium_only"] is False  # 1.0.2i


def test_severity_normalisation(db):
    assert db["cves"]["CVE-2023-5363"]["severity"] == "moderate"  # "MODERATE" upstream
    assert db["cves"]["CVE-2023-5678"]["severity"] == "low"  # "LOW" upstream
    assert db["cves"]["CVE-2023-2650"]["severity"] == "moderate"


def test_heartbleed_stays_unrated(db):
    record = db["cves"]["CVE-2014-0160"]
    assert record["severity"] is None
    assert record["notes"] == []  # no rating before October 2014: nothing to explain


def _edit(meta: Path, cve_id: str, change) -> None:
    path = meta / "secjson" / f"{cve_id}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _set_severity(value):
    def change(data):
        data["containers"]["cna"]["metrics"][0]["other"]["content"]["text"] = value

    return change


def test_unknown_after_october_2014_is_null_with_note(meta_copy):
    _edit(meta_copy, "CVE-2024-0727", _set_severity("unknown"))
    record = build(meta_copy)[0]["cves"]["CVE-2024-0727"]
    assert record["severity"] is None
    assert "no severity rating" in record["notes"][0]


def test_unknown_severity_label_is_refused(meta_copy):
    _edit(meta_copy, "CVE-2024-0727", _set_severity("Severe"))
    with pytest.raises(DatabaseError, match=r"CVE-2024-0727\.json: .*metrics.*Severe"):
        build(meta_copy)


def test_prerelease_range(db):
    rng = ranges(db["cves"]["CVE-2002-0657"])["0.9.7"]
    assert (rng["introduced"], rng["fixed"]) == ("0.9.7-beta3", "0.9.7")


def test_advisory_not_affected_statements(db):
    record = db["cves"]["CVE-2022-3996"]
    assert record["unaffected_branches"] == ["1.0.2", "1.1.1"]
    assert record["advisory"] == "secadv/20221213.txt"


def test_titles_derived_when_missing(db):
    record = db["cves"]["CVE-2004-0975"]
    assert record["title_derived"] is True
    assert record["title"].startswith("The der_chop script created temporary files")
    assert record["title"].endswith("...") and len(record["title"]) <= 120
    assert db["cves"]["CVE-2023-2650"]["title_derived"] is False


# --- branch table ----------------------------------------------------------------------------


def test_branch_table(db):
    branches = db["branches"]
    assert branches["1.1.1"]["eol"] == "2023-09-11"
    assert branches["1.1.1"]["premium_support_after_eol"] is True
    assert branches["1.0.2"]["eol"] == "2019-12-31"
    assert branches["0.9.8"]["released"] == "2005-07-05"
    assert branches["3.0"] == {
        **branches["3.0"],
        "released": "2021-09-07",
        "eol": "2026-09-07",
        "lts": True,
        "premium_support_after_eol": False,
    }
    assert branches["3.5"]["lts"] is True and branches["3.5"]["eol"] == "2030-04-08"
    assert branches["4.0"]["eol"] == "2027-05-14"
    assert branches["5.0"]["released"] == "2027-10-01"
    assert branches["5.0"]["released_precision"] == "month"
    assert branches["0.9.6"]["eol"] is None
    assert "out of support" in branches["0.9.6"]["statement"]
    assert list(branches)[:3] == ["0.9.6", "0.9.7", "0.9.8"]


def test_latest_public_fix_skips_premium_releases(db):
    assert db["branches"]["1.0.2"]["latest_public_fix"] == "1.0.2i"  # fixture subset
    assert db["branches"]["1.1.1"]["latest_public_fix"] == "1.1.1u"
    assert db["branches"]["3.0"]["latest_public_fix"] == "3.0.13"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14 Apr 2026", ("2026-04-14", "day")),
        ("01 Oct 2025", ("2025-10-01", "day")),
        ("Oct 2027", ("2027-10-01", "month")),
        ("November 2028", ("2028-11-01", "month")),
        ("12th September 2019", ("2019-09-12", "day")),
        ("2026-09-07", ("2026-09-07", "day")),
    ],
)
def test_upstream_dates(text, expected):
    assert vb.parse_upstream_date(text) == expected


@pytest.mark.parametrize("text", ["", "Foo 2026", "31 Feb 2026", "2026-13-01", None, 2026])
def test_bad_upstream_dates(text):
    with pytest.raises(DatabaseError, match=r"data\.json"):
        vb.parse_upstream_date(text)


def test_bad_date_in_data_json_names_file_and_field(meta_copy):
    data = json.loads((meta_copy / "data.json").read_text())
    data["3.6"]["eol"] = "someday"
    (meta_copy / "data.json").write_text(json.dumps(data))
    with pytest.raises(DatabaseError, match=r"data\.json: 3\.6\.eol: unrecognised date"):
        build(meta_copy)


# --- provenance -------------------------------------------------------------------------------


def test_provenance_from_sources_file(db):
    source = db["source"]
    assert source["commit"] == COMMIT
    assert source["commit_date"] == "2026-06-10T09:47:25+02:00"
    assert source["provenance"] == "SOURCES.txt"
    assert source["records"] == 12
    assert source["newest_record"] == "2024-01-25"
    assert source["legacy_xml"]["commit"] is None  # excerpt: sha256 differs from SOURCES.txt
    assert len(source["legacy_xml"]["sha256"]) == 64


def test_provenance_parameters(meta_copy):
    (meta_copy / "SOURCES.txt").unlink()
    with pytest.raises(DatabaseError, match="provenance unknown"):
        build(meta_copy)
    with pytest.raises(DatabaseError, match="both commit and commit_date"):
        build(meta_copy, commit="a" * 40)
    db = build(meta_copy, commit="a" * 40, commit_date="2026-07-01T10:00:00+00:00")[0]
    assert db["source"]["commit"] == "a" * 40
    assert db["source"]["provenance"] == "parameters"


def _run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_provenance_from_git_checkout(meta_copy):
    (meta_copy / "SOURCES.txt").unlink()
    env = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    _run(["git", "-C", str(meta_copy), "init", "-q"])
    _run(["git", "-C", str(meta_copy), "add", "."])
    rc, _out, err = _run(["git", "-C", str(meta_copy), *env, "commit", "-qm", "x"])
    assert rc == 0, err
    sha = _run(["git", "-C", str(meta_copy), "rev-parse", "HEAD"])[1].strip()
    db = build(meta_copy, run=_run)[0]
    assert db["source"]["commit"] == sha
    assert db["source"]["provenance"] == "git"


def test_git_of_an_enclosing_repository_is_not_used(meta_copy):
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, "/somewhere/else\n", ""

    db = build(meta_copy, run=run)[0]
    assert db["source"]["provenance"] == "SOURCES.txt"
    assert calls == [["git", "-C", str(meta_copy), "rev-parse", "--show-toplevel"]]


def test_sources_file_parsing():
    blocks = vb.parse_sources_file((SHARED / "SOURCES.txt").read_text()) if SHARED.is_dir() else []
    text = (META / "SOURCES.txt").read_text()
    parsed = vb.parse_sources_file(text)
    assert any(b.get("repository", "").endswith("release-metadata") for b in parsed)
    if blocks:
        legacy = [b for b in blocks if b.get("path") == "news/vulnerabilities.xml"]
        assert legacy and legacy[0]["sha256"].startswith("1ae67fdf")


# --- corrupt input ----------------------------------------------------------------------------


def test_not_a_release_metadata_copy(tmp_path):
    with pytest.raises(DatabaseError, match="not a copy of openssl/release-metadata"):
        build(tmp_path)


def test_no_records(meta_copy):
    for path in (meta_copy / "secjson").glob("CVE-*.json"):
        path.unlink()
    with pytest.raises(DatabaseError, match="no CVE-"):
        build(meta_copy)


def test_invalid_json_names_the_file(meta_copy):
    (meta_copy / "secjson" / "CVE-2014-0160.json").write_text('{"containers": ')
    with pytest.raises(DatabaseError, match=r"CVE-2014-0160\.json: file: not valid JSON"):
        build(meta_copy)


def _first_version(data):
    return data["containers"]["cna"]["affected"][0]["versions"][0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["cveMetadata"].update(cveId="CVE-2014-9999"), "does not match the file"),
        (lambda d: d["cveMetadata"].update(cveId="heartbleed"), "not a CVE id"),
        (lambda d: d["cveMetadata"].update(state="REJECTED"), "only PUBLISHED"),
        (lambda d: d["containers"]["cna"].pop("affected"), r"containers\.cna\.affected"),
        (lambda d: d["containers"]["cna"].update(affected=[]), "missing or empty"),
        (lambda d: d["containers"]["cna"].update(datePublic="yesterday"), "datePublic"),
        (
            lambda d: d["containers"]["cna"]["affected"][0]["versions"][0].update(
                version="1.0.1x1"
            ),
            r"versions\[0\]\.version: not an OpenSSL version",
        ),
        (
            lambda d: _first_version(d).update(lessThan="1.0.0"),
            r"lessThan: 1\.0\.0 is not on branch 1\.0\.1",
        ),
        (
            lambda d: _first_version(d).pop("lessThan"),
            "without lessThan",
        ),
        (
            lambda d: _first_version(d).update(status="maybe"),
            r"versions\[0\]\.status: unexpected 'maybe'",
        ),
    ],
)
def test_corrupt_records_name_file_and_field(meta_copy, change, message):
    _edit(meta_copy, "CVE-2014-0160", change)
    with pytest.raises(DatabaseError, match=message) as info:
        build(meta_copy)
    assert "CVE-2014-0160.json" in str(info.value) or "CVE-2014-9999" in str(info.value)


def test_inverted_range_is_refused(meta_copy):
    def change(data):
        entry = data["containers"]["cna"]["affected"][0]["versions"][0]
        entry.update(version="1.0.1g", lessThan="1.0.1a")

    _edit(meta_copy, "CVE-2014-0160", change)
    with pytest.raises(DatabaseError, match="is before version"):
        build(meta_copy)


def test_two_ranges_for_one_branch_are_refused(meta_copy):
    def change(data):
        versions = data["containers"]["cna"]["affected"][0]["versions"]
        versions.append(dict(versions[0]))

    _edit(meta_copy, "CVE-2014-0160", change)
    with pytest.raises(DatabaseError, match="more than one range"):
        build(meta_copy)


ISSUE = "<security><issue>{}</issue></security>"


def test_xml_with_entities_is_refused(tmp_path):
    bad = tmp_path / "vulnerabilities.xml"
    bad.write_text('<!DOCTYPE s [<!ENTITY a "aaaa">]><security>&a;</security>')
    with pytest.raises(DatabaseError, match="entities are refused"):
        build(legacy=bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<security><issue>", "not well-formed"),
        ("<other/>", "expected <security>"),
        (
            ISSUE.format('<cve name="2020-1"/><affects base="1.0.2"/>'),
            "base and version",
        ),
        (
            ISSUE.format('<cve name="2014-0160"/><affects base="1.0.1" version="x"/>'),
            "not an OpenSSL version",
        ),
    ],
)
def test_corrupt_legacy_xml(tmp_path, text, message):
    bad = tmp_path / "vulnerabilities.xml"
    bad.write_text(text)
    with pytest.raises(DatabaseError, match=message):
        build(legacy=bad)


@settings(max_examples=settings().max_examples // 16)
@given(st.binary(max_size=300))
def test_garbage_legacy_xml_only_raises_database_error(tmp_path_factory, blob):
    bad = tmp_path_factory.mktemp("xml") / "vulnerabilities.xml"
    bad.write_bytes(b"<security>" + blob)
    try:
        vb.load_legacy_xml(bad)
    except DatabaseError:
        return
    # accepted: then it parsed into a mapping of CVE ids
    issues, sha, _commit = vb.load_legacy_xml(bad)
    assert isinstance(issues, dict) and len(sha) == 64


@settings(max_examples=settings().max_examples // 12)
@given(st.text(max_size=200))
def test_garbage_advisory_text_never_raises(text):
    facts = vb.advisory_facts(text)
    assert set(facts) == {"not_affected", "vulnerable", "upgrade"}


# --- determinism, freshness, diffs --------------------------------------------------------------


def test_output_is_deterministic_and_valid(db):
    again = build()[0]
    assert vb.dumps_db(db) == vb.dumps_db(again)
    text = vb.dumps_db(db)
    assert text.endswith("\n")
    assert json.loads(text) == db
    validate_db(json.loads(text))
    ids = list(db["cves"])
    assert ids == sorted(ids, key=lambda c: tuple(int(p) for p in c.split("-")[1:]))


def test_generated_at_uses_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1780000000")
    db = vb.build_db(META, None)[0]
    assert db["generated_at"] == "2026-05-28T20:26:40Z"


def test_same_content_ignores_generation_time(db):
    other = copy.deepcopy(db)
    other["generated_at"] = "2030-01-01T00:00:00Z"
    assert vb.same_content(db, other)
    other["cves"]["CVE-2014-0160"]["severity"] = "high"
    assert not vb.same_content(db, other)
    assert not vb.same_content(None, db)


def test_older_input_is_refused(db):
    older = copy.deepcopy(db)
    older["source"]["commit_date"] = "2025-01-01T00:00:00+00:00"
    with pytest.raises(DatabaseError, match="older than the current database"):
        vb.check_not_older(db, older)
    problems = vb.check_not_older(db, older, allow_downgrade=True)
    assert problems and "older" in problems[0]
    assert vb.check_not_older(older, db) == []
    assert vb.check_not_older(None, db) == []


def test_older_newest_record_is_refused(db):
    older = copy.deepcopy(db)
    older["source"]["newest_record"] = "2020-01-01"
    with pytest.raises(DatabaseError, match="newest record"):
        vb.check_not_older(db, older)


def test_truncated_input_is_refused(db):
    truncated = copy.deepcopy(db)
    for cve_id in list(truncated["cves"])[:6]:
        del truncated["cves"][cve_id]
    with pytest.raises(DatabaseError, match="lacks 6 of 15"):
        vb.check_not_older(db, truncated)


def test_diff(db):
    new = copy.deepcopy(db)
    new["cves"]["CVE-2099-0001"] = dict(new["cves"]["CVE-2014-0160"], id="CVE-2099-0001")
    del new["cves"]["CVE-2002-0657"]
    new["cves"]["CVE-2023-2650"]["severity"] = "high"
    new["cves"]["CVE-2016-2183"]["affected"][0]["fixed"] = "1.0.2j"
    new["cves"]["CVE-2024-0727"]["title"] = "renamed"
    new["branches"]["3.6"]["eol"] = "2027-01-01"
    diff = vb.diff_dbs(db, new)
    assert diff["new_cves"] == ["CVE-2099-0001"]
    assert diff["removed_cves"] == ["CVE-2002-0657"]
    assert diff["edited_severities"] == {"CVE-2023-2650": {"before": "moderate", "after": "high"}}
    assert diff["edited_ranges"]["CVE-2016-2183"]["after"][0]["fixed"] == "1.0.2j"
    assert diff["edited_other"] == ["CVE-2024-0727"]
    assert diff["edited_branches"] == ["3.6"]
    lines = vb.diff_lines(diff, new)
    assert "new CVE-2099-0001 [unrated]" in lines[0]
    assert "removed CVE-2002-0657" in lines
    assert "severity CVE-2023-2650: moderate -> high" in lines
    assert any(line.startswith("ranges CVE-2016-2183: 1.0.2:1.0.2..1.0.2i -> ") for line in lines)
    assert vb.diff_dbs(db, copy.deepcopy(db))["new_cves"] == []
    assert vb.diff_lines(vb.diff_dbs(db, copy.deepcopy(db))) == []


def test_notice_and_atomic_write(tmp_path, db):
    text = vb.notice_text(db)
    assert COMMIT in text and "Apache" in text and "17830" in text
    target = tmp_path / "NOTICE.md"
    vb.write_atomic(target, text)
    assert target.read_text() == text
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["NOTICE.md"]


def test_collection_version():
    assert vb.collection_version(REPO) != "unknown"
    assert vb.collection_version(Path("/nonexistent")) == "unknown"


# --- the real upstream data --------------------------------------------------------------------

needs_shared = pytest.mark.skipif(not SHARED_META.is_dir(), reason="shared OpenSSL data absent")


@pytest.fixture(scope="module")
def full():
    return vb.build_db(SHARED_META, SHARED_XML, generated_at=STAMP)


@needs_shared
def test_full_upstream_build(full):
    db, warnings = full
    assert db["source"]["records"] == 272
    assert len(db["cves"]) == 275  # + 3 disputed
    assert db["source"]["legacy_xml"]["commit"] == "755faf1f1b459e3266c183025c85881837141474"
    unrated = [r for r in db["cves"].values() if r["severity"] is None and not r["disputed"]]
    assert len(unrated) == 83
    assert all(r["published"] < "2014-10-01" for r in unrated)
    assert warnings == ["vulnerabilities.xml: issue #110 (20141015) has no CVE id"]


@needs_shared
def test_full_build_legacy_branches(full):
    db = full[0]
    added = sorted(
        (cve_id, rng["branch"])
        for cve_id, record in db["cves"].items()
        for rng in record["affected"]
        if rng["source"] == "legacy-xml"
    )
    # CVE-2006-2937's XML entry lists no 0.9.6 release in this copy, so nothing is added there
    assert added == [
        ("CVE-2005-2969", "0.9.6"),
        ("CVE-2006-2940", "0.9.6"),
        ("CVE-2006-3738", "0.9.6"),
        ("CVE-2006-4339", "0.9.6"),
        ("CVE-2006-4343", "0.9.6"),
        ("CVE-2011-3210", "0.9.8"),
    ]


@needs_shared
def test_full_build_premium_and_latest_fixes(full):
    branches = full[0]["branches"]
    assert branches["1.0.2"]["latest_public_fix"] == "1.0.2u"
    assert branches["1.1.1"]["latest_public_fix"] == "1.1.1w"
    for record in full[0]["cves"].values():
        for rng in record["affected"]:
            if rng["branch"] == "1.1.1" and rng["fixed"] in ("1.1.1zh", "1.1.1x"):
                assert rng["premium_only"]


@needs_shared
def test_shipped_database_matches_the_shared_data(full):
    shipped = load_db(REPO / "data" / "openssl_vulndb.json")
    assert vb.same_content(dict(shipped), full[0]), "rebuild with tools/build-vulndb"


# --- the maintainers' CLI -------------------------------------------------------------------------


def _cli(*args, tmpdir=None):
    env = {**os.environ, "PYTHON": sys.executable}
    if tmpdir is not None:
        env["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [str(REPO / "tools" / "build-vulndb"), *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_cli_build_check_and_error(tmp_path):
    out, notice = tmp_path / "db.json", tmp_path / "NOTICE.md"
    first = _cli(
        "--src", str(META), "--legacy-xml", str(LEGACY), "--out", str(out), "--notice", str(notice)
    )
    assert first.returncode == 0, first.stderr
    assert "written (15 records)" in first.stdout
    assert COMMIT in notice.read_text()
    validate_db(json.loads(out.read_text()))
    check = _cli("--src", str(META), "--legacy-xml", str(LEGACY), "--out", str(out), "--check")
    assert (check.returncode, check.stdout.strip().splitlines()[-1]) == (0, "unchanged")
    without_xml = _cli("--src", str(META), "--out", str(out), "--check")
    assert without_xml.returncode == 1  # the legacy-xml branches would disappear
    bad = _cli("--src", str(tmp_path), "--out", str(out))
    assert bad.returncode == 2
    assert "error: " in bad.stderr and "Traceback" not in bad.stderr


def test_cli_leaves_no_temporary_directory(tmp_path):
    """The import shim the tool builds outside an ansible_collections tree is removed at exit,
    on success and on error."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "db.json"
    ok = _cli("--src", str(META), "--out", str(out), tmpdir=tmpdir)
    bad = _cli("--src", str(tmp_path / "missing"), "--out", str(out), tmpdir=tmpdir)
    assert (ok.returncode, bad.returncode) == (0, 2), (ok.stderr, bad.stderr)
    assert list(tmpdir.iterdir()) == []
