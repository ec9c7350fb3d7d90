# SPDX-License-Identifier: GPL-3.0-or-later
"""versiontext: real `openssl version` outputs (tests/unit/fixtures/facts/version, SOURCES.md)
and the spellings listed in OPENSSL-FACTS section 3."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    ParseError,
    PatchwiseError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    EMBEDDED_RE,
    fips_active,
    parse_providers,
    parse_version_line,
    parse_version_text,
    series_of,
)
from hypothesis import given
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "facts" / "version"


def read(name: str) -> str:
    return (FIX / name).read_text()


def test_debian12_version_a_recorded() -> None:
    r = parse_version_text(read("debian12-3.0.19-version-a.txt"))
    assert r["implementation"] == "openssl"
    assert (r["version"], r["cli_version"], r["library_version"]) == ("3.0.19",) * 3
    assert r["series"] == "3.0"
    assert r["build_date_iso"] == "2026-01-27"
    assert r["openssldir"] == "/usr/lib/ssl"
    assert r["modulesdir"] == "/usr/lib/x86_64-linux-gnu/ossl-modules"
    assert r["enginesdir"] == "/usr/lib/x86_64-linux-gnu/engines-3"
    assert r["platform"] == "debian-amd64"
    assert r["built_on"] == "Fri Apr  3 12:29:32 2026 UTC"
    assert "-DOPENSSL_TLS_SECURITY_LEVEL=2" in r["compiler_flags"]
    assert r["seeding_source"] == "os-specific"
    assert r["other_fields"] == {}
    assert r["fips"] is False


def test_debian11_111w_has_no_library_part_and_no_modulesdir() -> None:
    r = parse_version_text(read("debian11-1.1.1w-version-a.txt"))
    assert r["raw"] == "OpenSSL 1.1.1w  11 Sep 2023"
    assert r["version"] == r["cli_version"] == r["library_version"] == "1.1.1w"
    assert r["series"] == "1.1.1"
    assert r["modulesdir"] is None
    assert r["enginesdir"] == "/usr/lib/x86_64-linux-gnu/engines-1.1"


def test_debian13_357() -> None:
    r = parse_version_text(read("debian13-3.5.7-version-a.txt"))
    assert (r["version"], r["series"], r["build_date_iso"]) == ("3.5.7", "3.5", "2026-06-09")
    assert r["cpuinfo"].startswith("OPENSSL_ia32cap=")


def test_mixed_cli_and_library_versions_recorded() -> None:
    """3.0.19 CLI run against the 3.5.7 library: version is the runtime library."""
    r = parse_version_text(read("mixed-cli3.0.19-lib3.5.7-version.txt"))
    assert r["cli_version"] == "3.0.19"
    assert r["library_version"] == r["version"] == "3.5.7"
    assert r["series"] == "3.5"
    assert r["build_date"] == "27 Jan 2026"
    assert r["library_build_date"] == "9 Jun 2026"


@pytest.mark.parametrize(
    ("text", "version", "fips", "date"),
    [
        ("OpenSSL 1.0.1e-fips 11 Feb 2013", "1.0.1e", True, "2013-02-11"),
        ("OpenSSL 1.0.2k-fips  26 Jan 2017", "1.0.2k", True, "2017-01-26"),
        ("OpenSSL 1.1.1k  FIPS 25 Mar 2021", "1.1.1k", True, "2021-03-25"),
        ("OpenSSL 1.1.1w  11 Sep 2023", "1.1.1w", False, "2023-09-11"),
        ("OpenSSL 0.9.8za 5 Jun 2014", "0.9.8za", False, "2014-06-05"),
        ("OpenSSL 3.2.0-dev  xx XXX xxxx", "3.2.0-dev", False, None),
    ],
)
def test_real_spellings(text: str, version: str, fips: bool, date: str | None) -> None:
    r = parse_version_line(text)
    assert r["implementation"] == "openssl"
    assert r["version"] == version
    assert r["fips"] is fips
    assert r["build_date_iso"] == date


def test_prereleases() -> None:
    assert parse_version_line("OpenSSL 3.0.0-alpha17 20 May 2021")["prerelease"] == "alpha17"
    assert parse_version_line("OpenSSL 1.1.1-pre9 (beta) 21 Aug 2018")["prerelease"] == "pre9"
    assert parse_version_line("OpenSSL 0.9.7-beta3 30 Jul 2002")["prerelease"] == "beta3"
    assert parse_version_line("OpenSSL 3.2.0-dev  xx XXX xxxx")["build_date"] == "xx XXX xxxx"


@pytest.mark.parametrize(
    ("text", "impl", "impl_version"),
    [
        ("OpenSSL 1.1.1 (compatible; BoringSSL)", "boringssl", None),
        ("OpenSSL 1.1.1 (compatible; AWS-LC 1.21.0)", "aws-lc", "1.21.0"),
        ("LibreSSL 3.3.6", "libressl", "3.3.6"),
    ],
)
def test_look_alikes_never_pass_as_openssl(text: str, impl: str, impl_version: str) -> None:
    r = parse_version_line(text)
    assert r["implementation"] == impl
    assert r["version"] is None
    assert r["series"] is None
    assert r["implementation_version"] == impl_version


def test_compatible_checked_before_library_split() -> None:
    r = parse_version_line("OpenSSL 1.1.1 (compatible; AWS-LC 1.2.3) (Library: OpenSSL 1.1.1)")
    assert r["implementation"] == "aws-lc"
    assert r["compatible_with"] == "1.1.1"


def test_quictls() -> None:
    r = parse_version_line(
        "OpenSSL 3.1.4+quic 24 Oct 2023 (Library: OpenSSL 3.1.4+quic 24 Oct 2023)"
    )
    assert r["implementation"] == "quictls"
    assert r["version"] == "3.1.4+quic"
    assert r["build_metadata"] == "quic"
    assert r["series"] == "3.1"


@pytest.mark.parametrize("text", ["", "garbage", "OpenSSL", "OpenSSL banana", "\x00\xff", "   \n"])
def test_garbage_is_unknown_or_parse_error(text: str) -> None:
    assert parse_version_line(text)["implementation"] == "unknown"
    with pytest.raises(ParseError):
        parse_version_text(text)


def test_providers_recorded() -> None:
    provs = parse_providers(read("debian12-3.0.19-list-providers.txt"))
    assert provs == [
        {
            "id": "default",
            "name": "OpenSSL Default Provider",
            "version": "3.0.19",
            "status": "active",
        }
    ]
    assert fips_active(provs) is False
    assert parse_providers(read("debian11-1.1.1w-list-providers.txt")) == []
    assert parse_providers(read("debian13-3.5.7-list-providers.txt"))[0]["version"] == "3.5.7"


def test_fips_active() -> None:
    text = (
        "Providers:\n  base\n    name: OpenSSL Base Provider\n    status: active\n"
        "  fips\n    name: Red Hat Enterprise Linux 9 - OpenSSL FIPS Provider\n"
        "    status: active\n"
    )
    assert fips_active(parse_providers(text)) is True


def test_series() -> None:
    assert [series_of(v) for v in ("3.0.19", "1.1.1w", "1.0.2zq", "4.0.0", "x", None)] == [
        "3.0",
        "1.1.1",
        "1.0.2",
        "4.0",
        None,
        None,
    ]


def test_embedded_regex_requires_a_date_for_openssl() -> None:
    blob = b"\x00OpenSSL 3.0 or later\x00OpenSSL 3.0.19 27 Jan 2026\x00LibreSSL 3.8.2\x00"
    found = [m.group(0) for m in EMBEDDED_RE.finditer(blob)]
    assert found == [b"OpenSSL 3.0.19 27 Jan 2026", b"LibreSSL 3.8.2"]


IMPLEMENTATIONS = {"openssl", "libressl", "boringssl", "aws-lc", "quictls", "unknown"}
NAMES = st.sampled_from(["OpenSSL", "LibreSSL", "BoringSSL", "AWS-LC", "quictls", "openssl", ""])
TOKENS = st.sampled_from(
    [
        "3.0.19",
        "1.1.1w",
        "1.0.2k-fips",
        "3.0.0-alpha17",
        "+quic",
        "FIPS",
        "27 Jan 2026",
        "xx XXX xxxx",
        "(Library:",
        ")",
        "(compatible;",
        "BoringSSL)",
        "AWS-LC",
        "  ",
        "\t",
        ":",
    ]
)


@given(st.lists(st.one_of(NAMES, TOKENS, st.text(max_size=12)), max_size=10))
def test_property_structured_never_crashes(parts: list[str]) -> None:
    text = " ".join(parts)
    r = parse_version_line(text)
    assert r["implementation"] in IMPLEMENTATIONS
    if r["implementation"] in {"libressl", "boringssl", "aws-lc"}:
        assert r["version"] is None
    with contextlib.suppress(PatchwiseError):
        parse_version_text(text)


@given(st.text(max_size=300))
def test_property_arbitrary_text(text: str) -> None:
    r = parse_version_line(text)
    assert isinstance(r["warnings"], list)
    parse_providers(text)
