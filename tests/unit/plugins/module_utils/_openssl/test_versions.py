# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
    VersionError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versions import (
    OpenSSLVersion,
    branch_first_release,
    branch_of,
    branch_sort_key,
)
from hypothesis import given, settings
from hypothesis import strategies as st

V = OpenSSLVersion.parse

SHARED_SECJSON = (
    Path(__file__).resolve().parents[5].parent
    / "shared"
    / "data"
    / "openssl-release-metadata"
    / "secjson"
)


# Real version strings in ascending order (from OpenSSL's release history and advisories).
ASCENDING = [
    "0.9.6",
    "0.9.6a",
    "0.9.6m",
    "0.9.6-cvs",
    "0.9.7-beta3",
    "0.9.7",
    "0.9.7a",
    "0.9.7l",
    "0.9.8-beta1",
    "0.9.8",
    "0.9.8a",
    "0.9.8y",
    "0.9.8za",
    "0.9.8zb",
    "0.9.8zh",
    "1.0.0-beta5",
    "1.0.0",
    "1.0.0t",
    "1.0.1",
    "1.0.1e",
    "1.0.1g",
    "1.0.1u",
    "1.0.2",
    "1.0.2k",
    "1.0.2u",
    "1.0.2y",
    "1.0.2za",
    "1.0.2zh",
    "1.0.2zq",
    "1.1.0-pre6",
    "1.1.0",
    "1.1.0l",
    "1.1.1-pre1",
    "1.1.1-pre9",
    "1.1.1",
    "1.1.1k",
    "1.1.1w",
    "1.1.1za",
    "1.1.1zh",
    "3.0.0-alpha1",
    "3.0.0-alpha17",
    "3.0.0-beta1",
    "3.0.0-beta2",
    "3.0.0",
    "3.0.1",
    "3.0.2",
    "3.0.9",
    "3.0.10",
    "3.0.19",
    "3.0.21",
    "3.1.0",
    "3.1.1",
    "3.2.0-dev",
    "3.2.0-alpha1",
    "3.2.0",
    "3.5.0",
    "3.5.7",
    "3.6.0",
    "4.0.0",
    "4.0.1",
]


def test_ascending_table_is_strictly_increasing():
    parsed = [V(s) for s in ASCENDING]
    for low, high in zip(parsed, parsed[1:]):
        assert low < high, (str(low), str(high))
        assert not high < low
        assert low != high


def test_sorting_a_shuffled_table_restores_it():
    shuffled = ASCENDING[:]
    random.Random(4).shuffle(shuffled)  # noqa: S311 -- reproducible test order, not crypto
    assert [str(v) for v in sorted(V(s) for s in shuffled)] == ASCENDING


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("1.0.2y", "1.0.2za"),
        ("1.0.2za", "1.0.2zh"),
        ("0.9.8y", "0.9.8za"),
        ("3.0.9", "3.0.10"),
        ("1.1.1-pre9", "1.1.1"),
        ("3.0.0-alpha17", "3.0.0-beta1"),
        ("3.0.0-beta1", "3.0.0"),
        ("0.9.7-beta3", "0.9.7"),
        ("1.0.2u", "1.0.2za"),
        ("0.9.6m", "0.9.6-cvs"),
        ("0.9.6-cvs", "0.9.7"),
        ("1.1.1", "1.1.1a"),
        ("1.1.1z", "1.1.1za"),
        ("3.9.0", "3.10.0"),
        ("fips-1.1.1", "fips-1.1.2"),
    ],
)
def test_pairs(low, high):
    assert V(low) < V(high)
    assert V(high) > V(low)
    assert V(low) <= V(high)


def test_not_string_order_nor_pep440():
    # String comparison gets these wrong; PEP 440 cannot parse letters at all.
    as_strings = sorted(["3.0.9", "3.0.10"])
    assert as_strings == ["3.0.10", "3.0.9"]
    assert V("3.0.10") > V("3.0.9")
    assert sorted(["1.1.1-pre9", "1.1.1"]) == ["1.1.1", "1.1.1-pre9"]
    assert V("1.1.1-pre9") < V("1.1.1")
    assert V("1.0.2y") < V("1.0.2za") < V("1.0.2zh")
    assert V("1.0.2y") < V("1.0.2za")


@pytest.mark.parametrize(
    ("text", "branch"),
    [
        ("0.9.8zh", "0.9.8"),
        ("1.0.2za", "1.0.2"),
        ("1.1.1w", "1.1.1"),
        ("1.1.1-pre9", "1.1.1"),
        ("3.0.19", "3.0"),
        ("3.0.0-alpha17", "3.0"),
        ("3.5.4", "3.5"),
        ("4.0.0", "4.0"),
        ("3.1.4+quic", "3.1"),
        ("1.0.1e-fips", "1.0.1"),
        ("fips-1.1.2", "fips-1.1"),
    ],
)
def test_branch(text, branch):
    assert V(text).branch == branch
    assert branch_of(text) == branch


def test_build_metadata_ignored_for_ordering_but_kept():
    quic = V("3.0.0+quic")
    assert quic == V("3.0.0")
    assert hash(quic) == hash(V("3.0.0"))
    assert quic.build == "quic"
    assert str(quic) == "3.0.0+quic"
    assert V("3.1.4+fips").build == "fips"
    assert str(quic.release) == "3.0.0"


def test_fips_suffix_is_a_build_marker():
    rhel = V("1.0.1e-fips")
    assert rhel.fips_suffix
    assert rhel == V("1.0.1e")
    assert V("1.0.1d") < rhel < V("1.0.1f")
    assert str(rhel) == "1.0.1e-fips"
    assert not rhel.is_prerelease
    assert V("1.0.2k-fips").branch == "1.0.2"


def test_prerelease_flags():
    assert V("1.1.1-pre9").is_prerelease
    assert V("3.2.0-dev").is_prerelease
    assert V("3.0.0-beta2").prerelease == ("beta", 2)
    assert not V("3.0.0").is_prerelease
    assert V("3.0.0").is_release
    assert not V("3.2.0-dev").is_release


def test_cvs_snapshot_means_never_released():
    cvs = V("0.9.6-cvs")
    assert cvs.snapshot
    assert not cvs.is_release
    assert not cvs.is_prerelease
    # after every 0.9.6 release: "fixed in CVS" covers all of them
    assert all(V(f"0.9.6{s}") < cvs for s in ["", "a", "l", "m", "zz"])
    assert cvs < V("0.9.7-beta3")


def test_fips_module_is_a_separate_kind():
    fips = V("fips-1.1.1")
    assert fips.is_fips_module
    assert fips.kind == "fips_module"
    assert fips != V("1.1.1")
    with pytest.raises(VersionError, match="cannot compare"):
        assert fips < V("1.1.1")
    with pytest.raises(VersionError):
        sorted([V("1.0.2"), fips])


def test_comparison_with_other_types():
    assert V("3.0.0") != "3.0.0"
    with pytest.raises(TypeError):
        assert V("3.0.0") < "3.0.1"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        " ",
        "3",
        "3.0",
        "v3.0.1",
        "OpenSSL 3.0.1",
        "3.0.1a",  # 3.x has no letters
        "1.0.2A",
        "1.0.2-cvs-beta1",
        "1.1.1-pre9-cvs",
        "1.0.2-gamma1",
        "01.0.2",
        "1.0.2..",
        "3.0.0+",
        "3.0.0+-x",
        "fips-",
        "fips-1",
        "1.0.2\n1.0.3",
        "1" * 100,
        "\u0661.\u0660.\u0662",  # Arabic-Indic digits are not ASCII digits
    ],
)
def test_garbage_raises_version_error(garbage):
    with pytest.raises(VersionError):
        V(garbage)


@pytest.mark.parametrize("value", [None, 3, 3.0, b"3.0.0", ["3.0.0"]])
def test_non_strings_raise_version_error(value):
    with pytest.raises(VersionError):
        V(value)


def test_version_error_is_a_patchwise_error():
    assert issubclass(VersionError, PatchwiseError)


def test_whitespace_is_stripped():
    assert str(V("  3.0.19\n")) == "3.0.19"


def test_branch_helpers():
    assert branch_first_release("3.1") == "3.1.0"
    assert branch_first_release("1.1.1") == "1.1.1"
    assert sorted(["3.10", "3.2", "1.1.1", "0.9.8", "4.0"], key=branch_sort_key) == [
        "0.9.8",
        "1.1.1",
        "3.2",
        "3.10",
        "4.0",
    ]
    for bad in ["3", "3.0.0", "1.1", "x.y", None]:
        with pytest.raises(VersionError):
            branch_sort_key(bad)


@pytest.mark.skipif(not SHARED_SECJSON.is_dir(), reason="shared OpenSSL data not present")
def test_every_version_in_upstream_records_parses():
    seen = 0
    for path in sorted(SHARED_SECJSON.glob("CVE-*.json")):
        record = json.loads(path.read_text())
        for entry in record["containers"]["cna"]["affected"][0]["versions"]:
            for field in ("version", "lessThan", "lessThanOrEqual"):
                if field in entry:
                    V(entry[field])
                    seen += 1
    assert seen > 1000


# --- property tests ----------------------------------------------------------------------

_TAGS = ["dev", "alpha", "beta", "pre", "rc"]
_RANK = {"dev": 0, "alpha": 1, "beta": 2, "pre": 3, "rc": 4}


@st.composite
def versions(draw):
    major = draw(st.sampled_from([0, 1, 3, 4, 10]))
    minor = draw(st.integers(0, 12))
    patch = draw(st.integers(0, 25))
    letters = ""
    if major < 3:
        letters = draw(st.sampled_from(["", "a", "b", "k", "y", "z", "za", "zh", "zz", "zza"]))
    kind = draw(st.sampled_from(["release", "pre", "cvs"]))
    tag = None
    text = f"{major}.{minor}.{patch}{letters}"
    if kind == "pre":
        tag = (draw(st.sampled_from(_TAGS)), draw(st.integers(1, 20)))
        text += f"-{tag[0]}{tag[1]}"
    elif kind == "cvs":
        text += "-cvs"
    if draw(st.booleans()):
        text += "-fips"
    if draw(st.booleans()):
        text += "+" + draw(st.sampled_from(["quic", "fips", "abc.1"]))
    # independent reference key
    if kind == "cvs":
        stage = (3, 0, 0)
    elif tag:
        stage = (1, _RANK[tag[0]], tag[1])
    else:
        stage = (2, 0, 0)
    ref = (major, minor, patch, len(letters), letters, stage)
    if kind == "cvs":
        ref = (major, minor, patch, 99, "", stage)
    return text, ref


@settings(max_examples=settings().max_examples * 3 // 10)
@given(st.lists(versions(), min_size=2, max_size=12))
def test_order_matches_reference_key(items):
    by_version = sorted(items, key=lambda item: V(item[0]))
    by_ref = sorted(items, key=lambda item: item[1])
    assert [item[1] for item in by_version] == [item[1] for item in by_ref]


@settings(max_examples=settings().max_examples * 3 // 10)
@given(versions(), versions(), versions())
def test_total_order_laws(a, b, c):
    va, vb, vc = V(a[0]), V(b[0]), V(c[0])
    # trichotomy, consistent with the reference
    assert sum([va < vb, va == vb, va > vb]) == 1
    assert (va < vb) == (a[1] < b[1])
    assert (va == vb) == (a[1] == b[1])
    # transitivity
    if va <= vb and vb <= vc:
        assert va <= vc
    if va == vb:
        assert hash(va) == hash(vb)


@settings(max_examples=settings().max_examples * 3 // 10)
@given(versions())
def test_round_trip(item):
    version = V(item[0])
    again = V(str(version))
    assert again == version
    assert str(again) == item[0]
    assert again.build == version.build
    assert again.fips_suffix == version.fips_suffix


@settings(max_examples=settings().max_examples // 2)
@given(st.text(max_size=80))
def test_garbage_only_raises_version_error(text):
    try:
        version = V(text)
    except VersionError:
        return
    assert str(version) == text.strip()
    assert V(str(version)) == version


NEAR_MISS = r"[0-9]\.[0-9]{1,2}\.[0-9]{1,2}[a-z]{0,3}(-[a-z]{1,6}[0-9]?)?"


@settings(max_examples=settings().max_examples * 3 // 10)
@given(st.from_regex(NEAR_MISS, fullmatch=True))
def test_near_miss_strings_only_raise_version_error(text):
    try:
        version = V(text)
    except VersionError:
        return
    assert str(version) == text
    assert text.startswith(version.branch)
