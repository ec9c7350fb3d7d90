# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Query API tests on the shipped database (data/openssl_vulndb.json) and on the fixtures."""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import vulndb
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    PatchwiseError,
    VersionError,
)
from hypothesis import given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve()
REPO = HERE.parents[5]
SHIPPED = REPO / "data" / "openssl_vulndb.json"


@pytest.fixture(scope="module")
def db():
    return vulndb.load_db()


def ids(records):
    return [r["id"] for r in records]


# --- loading ----------------------------------------------------------------------------------


def test_default_path_is_the_shipped_file():
    assert vulndb.default_db_path() == SHIPPED.resolve()
    assert vulndb.load_db() is vulndb.load_db(SHIPPED.resolve())
    assert vulndb.load_db()["source"]["repository"].endswith("openssl/release-metadata")


def test_load_is_cached_per_path_and_mtime(tmp_path):
    target = tmp_path / "db.json"
    shutil.copy(SHIPPED, target)
    first = vulndb.load_db(target)
    assert vulndb.load_db(target) is first
    data = json.loads(target.read_text())
    data["cves"]["CVE-2014-0160"]["severity"] = "critical"
    target.write_text(json.dumps(data))
    os.utime(target, ns=(first_ns := target.stat().st_mtime_ns + 10**9, first_ns))
    second = vulndb.load_db(target)
    assert second is not first
    assert second["cves"]["CVE-2014-0160"]["severity"] == "critical"


def test_missing_database(tmp_path):
    with pytest.raises(DatabaseError, match=r"not found.*vulndb_update"):
        vulndb.load_db(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format=2), "unsupported format 2"),
        (lambda d: d.pop("source"), "source: expected dict"),
        (lambda d: d.update(cves={}), "no CVE records"),
        (lambda d: d["cves"]["CVE-2014-0160"].update(severity="severe"), "unknown severity"),
        (lambda d: d["cves"]["CVE-2014-0160"].update(id="CVE-2014-0161"), "does not match key"),
        (lambda d: d["cves"]["CVE-2014-0160"].update(published="2014-13-01"), "invalid date"),
        (lambda d: d["cves"]["CVE-2014-0160"].update(affected=[]), "no affected range"),
        (
            lambda d: d["cves"]["CVE-2014-0160"]["affected"][0].update(fixed="1.0.0a"),
            r"affected\[0\]\.fixed: 1\.0\.0a is not on branch 1\.0\.1",
        ),
        (
            lambda d: d["cves"]["CVE-2014-0160"]["affected"][0].update(fixed="1.0.1"),
            "is not after introduced",
        ),
        (
            lambda d: d["cves"]["CVE-2014-0160"]["affected"][0].update(introduced="banana"),
            "not an OpenSSL version",
        ),
        (
            lambda d: d["cves"]["CVE-2014-0160"]["affected"][0].pop("premium_only"),
            r"premium_only: missing",
        ),
        (
            lambda d: d["cves"]["CVE-2014-0160"]["affected"][0].update(source="guess"),
            "unknown source",
        ),
        (lambda d: d["branches"]["3.0"].update(eol="soon"), r"branches\.3\.0\.eol"),
        (lambda d: d["branches"].update({"3": {}}), "not an OpenSSL branch"),
    ],
)
def test_corrupt_database_names_the_field(tmp_path, mutate, message):
    data = json.loads(SHIPPED.read_text())
    mutate(data)
    target = tmp_path / "db.json"
    target.write_text(json.dumps(data))
    with pytest.raises(DatabaseError, match=message) as info:
        vulndb.load_db(target)
    assert str(target) in str(info.value)


def test_not_json(tmp_path):
    target = tmp_path / "db.json"
    target.write_text("{")
    with pytest.raises(DatabaseError, match="not valid JSON"):
        vulndb.load_db(target)


@settings(max_examples=settings().max_examples // 10)
@given(st.binary(max_size=200))
def test_garbage_database_only_raises_database_error(blob):
    with pytest.raises(DatabaseError):
        vulndb.parse_db(blob)


# --- cves_affecting --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        ("1.0.1f", ["CVE-2014-0160"], []),  # Heartbleed
        ("1.0.1g", [], ["CVE-2014-0160"]),
        ("1.0.1e-fips", ["CVE-2014-0160"], []),
        ("1.0.0t", [], ["CVE-2014-0160"]),  # other branch, never affected
        ("3.1.0", ["CVE-2023-2650"], []),  # empty upstream range repaired
        ("3.1.1", [], ["CVE-2023-2650"]),
        ("3.0.8", ["CVE-2023-2650"], ["CVE-2022-3996"]),
        ("3.0.7", ["CVE-2022-3996"], []),  # lessThanOrEqual
        ("1.0.2za", ["CVE-2023-2650"], []),
        ("1.0.2zh", [], ["CVE-2023-2650"]),
        ("0.9.6m", ["CVE-2004-0975", "CVE-2005-2969"], []),  # never fixed on 0.9.6
        ("0.9.7f", [], ["CVE-2004-0975"]),
        ("0.9.8zh", ["CVE-2011-3210"], []),  # legacy XML: never fixed on 0.9.8
        ("1.1.0l", [], ["CVE-2016-2183"]),  # unaffected entry
        ("1.0.2h", ["CVE-2016-2183"], []),
        ("fips-1.1.1", ["CVE-2007-5502"], []),
        ("fips-1.1.2", [], ["CVE-2007-5502"]),
        ("1.1.1w", ["CVE-2023-5678", "CVE-2024-0727"], ["CVE-2023-2650"]),
        ("3.0.0+quic", ["CVE-2023-2650"], []),
    ],
)
def test_cves_affecting_table(db, version, present, absent):
    found = ids(vulndb.cves_affecting(db, version))
    for cve_id in present:
        assert cve_id in found, (version, cve_id)
    for cve_id in absent:
        assert cve_id not in found, (version, cve_id)


def test_fips_module_records_never_hit_library_versions(db):
    assert "CVE-2007-5502" not in ids(vulndb.cves_affecting(db, "1.1.1"))


def test_disputed_never_reported(db):
    for version in ("0.9.8a", "1.0.2", "3.0.0"):
        found = ids(vulndb.cves_affecting(db, version))
        assert not {"CVE-2010-0928", "CVE-2007-6755", "CVE-2002-20001"} & set(found)


def test_latest_releases_have_few_or_no_known_cves(db):
    for branch in ("3.0", "3.5", "3.6", "4.0"):
        latest = db["branches"][branch]["latest_public_fix"]
        for record in vulndb.cves_affecting(db, latest):
            rng = vulndb.affected_range(record, latest)
            assert rng["fixed"] is None or vulndb.OpenSSLVersion.parse(rng["fixed"]) > (
                vulndb.OpenSSLVersion.parse(latest)
            )


def test_result_is_oldest_first_and_ranges_match(db):
    records = vulndb.cves_affecting(db, "1.0.2")
    dates = [r["published"] for r in records]
    assert dates == sorted(dates)
    assert len(records) > 90
    for record, rng in vulndb.affecting_with_ranges(db, "1.0.2k"):
        assert vulndb.affected_range(record, "1.0.2k") is rng
        assert rng["branch"] == "1.0.2"


def test_bad_version_raises_version_error(db):
    with pytest.raises(VersionError):
        vulndb.cves_affecting(db, "not-a-version")
    with pytest.raises(DatabaseError):
        vulndb.cves_affecting(["not", "a", "db"], "3.0.0")


def test_plain_dict_database_is_accepted(db):
    plain = json.loads(SHIPPED.read_text())
    assert ids(vulndb.cves_affecting(plain, "1.0.1f")) == ids(vulndb.cves_affecting(db, "1.0.1f"))
    broken = copy.deepcopy(plain)
    broken["format"] = 9
    with pytest.raises(DatabaseError):
        vulndb.cves_affecting(broken, "1.0.1f")


@settings(max_examples=settings().max_examples // 5)
@given(
    st.sampled_from(["0.9.8", "1.0.1", "1.0.2", "1.1.1"]),
    st.sampled_from(["", "a", "k", "u", "y", "za", "zh", "zz"]),
)
def test_matches_agree_with_a_brute_force_scan(db, base, letters):
    version = f"{base}{letters}"
    parsed = vulndb.OpenSSLVersion.parse(version)
    expected = set()
    for record in db["cves"].values():
        for rng in record["affected"]:
            lo = vulndb.OpenSSLVersion.parse(rng["introduced"])
            if lo.kind != parsed.kind or lo.branch != parsed.branch or parsed < lo:
                continue
            if rng["fixed"] and parsed >= vulndb.OpenSSLVersion.parse(rng["fixed"]):
                continue
            if rng["last_affected"] and parsed > vulndb.OpenSSLVersion.parse(rng["last_affected"]):
                continue
            expected.add(record["id"])
    assert set(ids(vulndb.cves_affecting(db, version))) == expected


# --- coverage / assessable -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cve", "version", "assessed", "reason"),
    [
        ("CVE-2014-0160", "1.0.1f", True, "listed"),
        ("CVE-2014-0160", "1.0.0t", True, "supported_not_listed"),  # 1.0.0 supported in 2014
        ("CVE-2014-0160", "3.0.0", True, "released_after"),
        ("CVE-2016-2183", "1.1.0a", True, "listed"),  # explicit unaffected
        ("CVE-2022-3996", "1.1.1k", True, "listed"),  # "1.1.1 and 1.0.2 are not affected"
        ("CVE-2023-2650", "1.0.1u", False, "end_of_life_at_advisory"),  # 1.0.1 EOL 2016
        ("CVE-2023-2650", "0.9.8zh", False, "end_of_life_at_advisory"),
        ("CVE-2023-2650", "1.1.0l", False, "end_of_life_at_advisory"),
        ("CVE-2010-0928", "0.9.8a", True, "disputed"),
        ("CVE-2007-5502", "1.0.2", True, "fips_module_only"),
        ("CVE-2014-0160", "fips-1.1.1", False, "fips_module_version"),
        ("CVE-2023-2650", "3.2.0-alpha1", False, "prerelease"),
        ("CVE-2023-2650", "2.0.0", False, "unknown_branch"),
    ],
)
def test_coverage(db, cve, version, assessed, reason):
    assert vulndb.coverage(db, cve, version) == {"assessed": assessed, "reason": reason}
    assert vulndb.assessable(db, cve, version) is assessed
    assert vulndb.assessable(db, db["cves"][cve], version) is assessed


def test_premium_branch_is_assessed_while_openssl_still_lists_it(db):
    # 1.1.1 past its public EOL but OpenSSL still rates it for premium customers
    newest = max(
        (r for r in db["cves"].values() if r["published"] and not r["disputed"]),
        key=lambda r: r["published"],
    )
    assert vulndb.assessable(db, newest["id"], "1.1.1w")


def test_coverage_unknown_cve(db):
    with pytest.raises(DatabaseError, match="not in the vulnerability database"):
        vulndb.coverage(db, "CVE-1999-0001", "1.0.2")


# --- branch_status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "today", "status", "days_left", "next_lts"),
    [
        ("3.0.19", "2026-06-01", "supported", 98, "3.5"),
        ("3.0.19", "2026-09-07", "supported", 0, "3.5"),
        ("3.0.19", "2026-09-08", "end_of_life", -1, "3.5"),
        ("1.1.1w", "2026-06-01", "premium_only", -994, "3.5"),
        ("1.1.1k", "2023-01-01", "supported", 253, "3.0"),
        ("1.0.2u", "2020-06-01", "premium_only", -153, "1.1.1"),
        ("1.1.0l", "2026-06-01", "end_of_life", -2455, "3.5"),
        ("3.5.4", "2026-06-01", "supported", 1407, None),
        ("3.5.4", "2027-05-01", "supported", 1073, "4.2"),
        ("4.0.0", "2026-06-01", "supported", 347, None),
        ("4.1.0-alpha1", "2026-06-01", "unreleased", 518, None),
        ("0.9.6m", "2026-06-01", "end_of_life", None, "3.5"),
    ],
)
def test_branch_status(db, version, today, status, days_left, next_lts):
    result = vulndb.branch_status(db, version, today)
    assert result["status"] == status
    assert result["days_left"] == days_left
    assert result["next_lts"] == next_lts
    assert result["branch"] == vulndb.OpenSSLVersion.parse(version).branch


def test_branch_status_fields(db):
    result = vulndb.branch_status(db, "1.1.1w", datetime.date(2026, 6, 1))
    assert result["lts"] is True
    assert result["eol"] == "2023-09-11"
    assert result["latest_public_fix"] == "1.1.1w"
    assert result["premium_support_after_eol"] is True
    assert result["known"] is True
    assert result["warnings"] == []
    month_only = vulndb.branch_status(db, "5.0.0", "2028-01-01")
    assert month_only["eol_precision"] == "month"


def test_branch_status_unknown_and_odd_inputs(db):
    unknown = vulndb.branch_status(db, "2.0.0", "2026-06-01")
    assert unknown["status"] == "unknown" and unknown["known"] is False
    assert "not in the vulnerability database" in unknown["warnings"][0]
    fips = vulndb.branch_status(db, "fips-1.1.2", "2026-06-01")
    assert fips["status"] == "unknown" and "FIPS object module" in fips["warnings"][0]
    pre = vulndb.branch_status(db, "3.0.0-beta1", "2026-06-01")
    assert pre["is_prerelease"] and "pre-release" in pre["warnings"][0]
    with pytest.raises(PatchwiseError, match="not an ISO date"):
        vulndb.branch_status(db, "3.0.0", "yesterday")
    with pytest.raises(PatchwiseError):
        vulndb.branch_status(db, "3.0.0", 12)
    today = vulndb.branch_status(db, "3.0.0")["today"]
    assert today == datetime.datetime.now(datetime.timezone.utc).date().isoformat()


# --- speed ----------------------------------------------------------------------------------------


def test_ten_thousand_hosts_under_budget(db):
    """10,000 hosts x 3 library copies each, realistic version mix, well under 10 s."""
    mix = ["3.0.19", "3.0.2", "1.1.1k", "1.1.1w", "1.0.2k-fips", "3.5.4", "3.0.7", "1.0.1e-fips"]
    mix += [f"3.0.{n}" for n in range(0, 22)] + [f"1.1.1{c}" for c in "abcdefghijklmnopqrstuvw"]
    start = time.perf_counter()
    total = 0
    for host in range(10000):
        for copy_index in range(3):
            version = mix[(host * 7 + copy_index) % len(mix)]
            total += len(vulndb.cves_affecting(db, version))
            vulndb.branch_status(db, version, "2026-06-01")
    elapsed = time.perf_counter() - start
    assert total > 0
    assert elapsed < 5, elapsed


def test_cold_index_build_is_fast():
    data = json.loads(SHIPPED.read_text())
    start = time.perf_counter()
    fresh = vulndb.VulnDB(data)
    vulndb.cves_affecting(fresh, "1.0.2")
    assert time.perf_counter() - start < 1.0


# --- installed collection ------------------------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("ansible-galaxy") is None
    and not Path(sys.executable).with_name("ansible-galaxy").exists(),
    reason="ansible-galaxy not available",
)
def test_default_path_in_an_installed_collection(tmp_path):
    galaxy = shutil.which("ansible-galaxy") or str(Path(sys.executable).with_name("ansible-galaxy"))
    build = subprocess.run(
        [galaxy, "collection", "build", str(REPO), "--output-path", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    tarball = next(tmp_path.glob("patchwise-openssl-*.tar.gz"))
    dest = tmp_path / "collections"
    install = subprocess.run(
        [galaxy, "collection", "install", str(tarball), "-p", str(dest), "--force"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    root = dest / "ansible_collections" / "patchwise" / "openssl"
    assert (root / "data" / "openssl_vulndb.json").is_file()
    code = (
        "from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import vulndb\n"
        "db = vulndb.load_db()\n"
        "print(vulndb.default_db_path())\n"
        "print(len(db['cves']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(dest)}
    probe = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    path, count = probe.stdout.split()
    assert Path(path) == (root / "data" / "openssl_vulndb.json").resolve()
    assert int(count) == len(json.loads(SHIPPED.read_text())["cves"])
