# SPDX-License-Identifier: GPL-3.0-or-later
"""Changelog parsers on real Debian changelogs and real RPM spec changelogs (SOURCES.md)."""

from __future__ import annotations

import contextlib
import gzip
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.changelogs import (
    parse_debian_changelog,
    parse_rpm_changelog,
    read_gzip_text,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from hypothesis import given
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "facts"
DEB = FIX / "changelog"
RPM = FIX / "rpm"


def deb(name: str) -> dict:
    return parse_debian_changelog(read_gzip_text(str(DEB / name)))


def test_debian12_3019_top_entry_cves() -> None:
    """OPENSSL-FACTS 4: 3.0.19-1~deb12u2 names five 2026 CVEs in its top entry."""
    r = deb("libssl3_3.0.19-1~deb12u2.changelog.Debian.gz")
    assert r["top_version"] == "3.0.19-1~deb12u2"
    assert r["trimmed"] is True
    top = sorted(c for c, v in r["cves"].items() if v == "3.0.19-1~deb12u2")
    assert top == [
        "CVE-2026-28387",
        "CVE-2026-28389",
        "CVE-2026-28390",
        "CVE-2026-31789",
        "CVE-2026-31790",
    ]
    assert r["cves"]["CVE-2025-15467"] == "3.0.18-1~deb12u2"


def test_debian12_3022() -> None:
    r = deb("libssl3_3.0.22-1~deb12u2.changelog.Debian.gz")
    assert r["top_version"] == "3.0.22-1~deb12u2"
    assert r["cves"]["CVE-2026-84782"] == "3.0.22-1~deb12u2"
    assert r["cves"]["CVE-2026-28387"] == "3.0.19-1~deb12u2"


def test_debian11_untrimmed_history() -> None:
    r = deb("libssl1.1_1.1.1w-0+deb11u8.changelog.Debian.gz")
    assert r["trimmed"] is False
    assert r["entries"] == 247
    # Heartbleed is named only under "New usptream beta version" of the experimental upload
    assert r["cves"]["CVE-2014-0160"] == "1.0.2~beta2-1"
    assert r["cve_entries"]["CVE-2014-0224"][-1] == "1.0.2~beta2-1"


def test_debian13_t64() -> None:
    r = deb("libssl3t64_3.5.7-1~deb13u3.changelog.Debian.gz")
    assert r["top_version"] == "3.5.7-1~deb13u3"
    assert r["trimmed"] is True


def test_oldest_entry_wins_and_all_entries_kept() -> None:
    text = (
        "openssl (1.2-1) unstable; urgency=medium\n\n  * Fix regression of CVE-2024-0001.\n\n"
        " -- A <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n\n"
        'openssl (1.1-1) unstable; urgency=medium\n\n  * CVE-2024-0001 ("bug")\n\n'
        " -- A <a@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
    )
    r = parse_debian_changelog(text)
    assert r["cves"] == {"CVE-2024-0001": "1.1-1"}
    assert r["cve_entries"] == {"CVE-2024-0001": ["1.2-1", "1.1-1"]}


def test_rpm_el9() -> None:
    r = parse_rpm_changelog((RPM / "openssl-3.0.7-28.el9_4.spec-changelog.txt").read_text())
    assert r["top_version"] == "3.0.7.openela.0.1"
    assert r["cves"]["CVE-2023-2650"] == "1:3.0.7-20"  # "Resolves: CVE-2023-2650"
    assert r["cves"]["CVE-2023-3817"] == "1:3.0.7-25"  # "(CVE-2023-3817)"
    assert r["cves"]["CVE-2022-3602"] == "1:3.0.1-42"
    assert r["cve_entries"]["CVE-2022-3602"] == ["1:3.0.1-43", "1:3.0.1-42"]


def test_rpm_el8_variants() -> None:
    r = parse_rpm_changelog((RPM / "openssl-1.1.1k-14.el8_6.spec-changelog.txt").read_text())
    assert r["top_version"] == "1:1.1.1k-14"
    assert r["cves"]["CVE-2024-5535"] == "1:1.1.1k-14"  # "Fix CVE-2024-5535"
    assert r["entries"] == 479
    assert r["unversioned_entries"] == 77  # pre-2010 headers without a version
    assert "CVE-2014-0160" in r["cves"]


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ("* Tue Sep 03 2024 Yaakov Selkowitz <yselkowi@redhat.com> - 1:3.2.2-6", "1:3.2.2-6"),
        ("* Fri Dec  4 2020 Sahana Prasad <sahana@redhat.com> 1.1.1g-13", "1.1.1g-13"),
        ("* Wed Jul 22 2009 Bill Nottingham <notting@redhat.com>", None),
        ("* Tue Jul 09 2024 Sahana Prasad  <sahana@redhat.com> - 1:3.2.2-4", "1:3.2.2-4"),
    ],
)
def test_rpm_header_variants(header: str, version: str | None) -> None:
    r = parse_rpm_changelog(header + "\n- Resolves: CVE-2020-1971\n")
    assert r["cves"] == {"CVE-2020-1971": version}


@pytest.mark.parametrize("text", ["", "no entries here\n", "* not a header\n"])
def test_no_entries(text: str) -> None:
    with pytest.raises(ParseError):
        parse_debian_changelog(text)
    with pytest.raises(ParseError):
        parse_rpm_changelog(text)


def test_gzip_errors(tmp_path: Path) -> None:
    bad = tmp_path / "changelog.Debian.gz"
    bad.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ParseError):
        read_gzip_text(str(bad))
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(gzip.compress(b"openssl (1.0-1) unstable; urgency=low\n" * 100)[:60])
    with pytest.raises(ParseError):
        read_gzip_text(str(truncated))
    big = tmp_path / "big.gz"
    big.write_bytes(gzip.compress(b"x" * 5000))
    with pytest.raises(ParseError):
        read_gzip_text(str(big), limit=1000)


DEB_LINE = st.one_of(
    st.builds(
        lambda v: f"openssl ({v}) bookworm-security; urgency=medium",
        st.text(alphabet="0123456789.-~+:abc", min_size=1, max_size=12),
    ),
    st.just('  * CVE-2026-28387 ("x")'),
    st.just(" -- Name <a@b>  Fri, 03 Apr 2026 14:29:32 +0200"),
    st.just("# Older entries have been removed from this changelog."),
    st.text(max_size=60),
)
RPM_LINE = st.one_of(
    st.builds(
        lambda d, v: f"* Tue Sep {d} 2024 Name <m@x> {v}",
        st.sampled_from(["03", " 3", "3"]),
        st.sampled_from(["- 1:3.0.7-28", "1.1.1g-9", "", "- ", "-", "3.0.7.openela.0.1"]),
    ),
    st.just("  Resolves: CVE-2023-2650"),
    st.just("- Fix CVE-2024-5535 (CVE-2024-6119)"),
    st.text(max_size=60),
)


@given(st.lists(DEB_LINE, max_size=25))
def test_property_debian(lines: list[str]) -> None:
    with contextlib.suppress(ParseError):
        r = parse_debian_changelog("\n".join(lines))
        assert r["entries"] >= 1
        assert set(r["cves"]) == set(r["cve_entries"])


@given(st.lists(RPM_LINE, max_size=25))
def test_property_rpm(lines: list[str]) -> None:
    with contextlib.suppress(ParseError):
        r = parse_rpm_changelog("\n".join(lines))
        assert r["entries"] >= 1
        for cve, version in r["cves"].items():
            assert version == r["cve_entries"][cve][-1]
