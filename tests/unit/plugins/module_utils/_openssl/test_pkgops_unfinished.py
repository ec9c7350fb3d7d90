# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkgops on hosts where dpkg did not finish an earlier run (recorded Debian 12 outputs)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "pkgops"
UNF = FIX / "unfinished"

BROKEN = "3.0.22-1~deb12u2+patchwisebroken1"
ORIG = "3.0.22-1~deb12u2"


def rows(name: str) -> list:
    return pkgops.parse_dpkg_query((UNF / name).read_text())


def by_name(parsed: list) -> dict:
    return {p["name"]: p for p in parsed}


# --- dpkg's status: both spellings, recorded ---


def _status_words(name: str) -> dict:
    """{package: (version, ${Status})} of a recorded ``-f='${binary:Package}\t${Version}\t
    ${Status}\n'`` query."""
    result = {}
    for line in (UNF / name).read_text().splitlines():
        package, version, status = line.split("\t")
        result[package.split(":")[0]] = (version, status)
    return result


def test_status_long_form_of_a_failed_postinst():
    words = _status_words("debian12-postinst-failed-dpkg-query-status.txt")
    assert words["libssl3"] == (BROKEN, "install ok half-configured")
    libssl3 = pkgops.parse_dpkg_status(words["libssl3"][1])
    openssl = pkgops.parse_dpkg_status(words["openssl"][1])
    libc6 = pkgops.parse_dpkg_status(words["libc6"][1])
    assert libssl3 == {
        "want": "install",
        "state": "half-configured",
        "reinst_required": False,
        "unfinished": True,
    }
    assert (openssl["state"], openssl["unfinished"]) == ("unpacked", True)
    assert (libc6["state"], libc6["unfinished"]) == ("installed", False)


def test_status_long_form_of_an_interrupted_unpack():
    words = _status_words("debian12-interrupted-dpkg-query-status.txt")
    assert pkgops.parse_dpkg_status(words["openssl"][1]) == {
        "want": "install",
        "state": "half-installed",
        "reinst_required": True,
        "unfinished": True,
    }


@pytest.mark.parametrize(
    ("abbrev", "state", "unfinished"),
    [
        ("ii ", "installed", False),
        ("hi ", "installed", False),
        ("iF ", "half-configured", True),
        ("iU ", "unpacked", True),
        ("iHR", "half-installed", True),
        ("iW ", "triggers-awaited", True),
        ("it ", "triggers-pending", True),
        ("rc ", "config-files", False),
        ("un ", "not-installed", False),
        ("pnR", "not-installed", False),
    ],
)
def test_status_abbreviations(abbrev, state, unfinished):
    parsed = pkgops.parse_dpkg_status(abbrev)
    assert (parsed["state"], parsed["unfinished"]) == (state, unfinished)


@pytest.mark.parametrize(
    "bad", ["", "  ", "xx", "iZ", "iiX", "install ok", "install fine installed", "iFRR"]
)
def test_status_rejects_what_dpkg_does_not_write(bad):
    with pytest.raises(ParseError):
        pkgops.parse_dpkg_status(bad)


# --- dpkg-query rows ---


def test_query_of_a_failed_postinst_keeps_the_last_configured_version():
    parsed = by_name(rows("debian12-postinst-failed-dpkg-query-W.txt"))
    assert len(parsed) == 124
    libssl3, openssl = parsed["libssl3"], parsed["openssl"]
    assert (libssl3["version"], libssl3["status"], libssl3["state"]) == (
        BROKEN,
        "iF",
        "half-configured",
    )
    assert (libssl3["installed"], libssl3["unfinished"], libssl3["config_version"]) == (
        False,
        True,
        ORIG,
    )
    assert (openssl["state"], openssl["unfinished"], openssl["config_version"]) == (
        "unpacked",
        True,
        ORIG,
    )
    # A fully installed package has no Config-Version.
    assert parsed["libc6"]["config_version"] is None
    assert [p["name"] for p in parsed.values() if p["unfinished"]] == ["libssl3", "openssl"]


def test_post_change_problems_on_the_recorded_failed_postinst():
    """What the module reports after an upgrade or a restore, from the recorded database."""
    parsed = by_name(rows("debian12-postinst-failed-dpkg-query-W.txt"))
    touched = {n: parsed[n] for n in ("libssl3", "openssl")}
    wrong = pkgops.post_change_problems(
        touched,
        {"libssl3": ORIG, "openssl": BROKEN},
        "recorded",
        [{"name": "openssl"}],  # was on hold before the change
    )
    assert wrong == [
        f"libssl3 is {BROKEN}, recorded {ORIG}",
        f"libssl3 {BROKEN} is half-configured",
        f"openssl {BROKEN} is unpacked, not configured",
        "openssl is no longer on hold",
    ]
    fine = {n: dict(row, unfinished=False, held=True) for n, row in touched.items()}
    assert pkgops.post_change_problems(fine, {n: BROKEN for n in fine}, "planned", []) == []
    assert pkgops.dpkg_state_text("iF") == "half-configured"
    assert pkgops.dpkg_state_text("??") == "dpkg state '??'"


def test_query_of_an_interrupted_unpack():
    parsed = by_name(rows("debian12-interrupted-dpkg-query-W.txt"))
    openssl = parsed["openssl"]
    # dpkg still names the old version: the new one was never completely unpacked.
    assert (openssl["version"], openssl["status"], openssl["state"]) == (
        ORIG,
        "iHR",
        "half-installed",
    )
    assert openssl["unfinished"] is True
    assert parsed["libssl3"]["unfinished"] is False


def test_older_seven_column_rows_still_parse():
    parsed = by_name(
        pkgops.parse_dpkg_query((FIX / "debian12-dpkg-query-W-half-configured.txt").read_text())
    )
    assert parsed["libssl3"]["state"] == "half-configured"
    assert parsed["libssl3"]["config_version"] is None


def test_query_format_asks_for_the_config_version():
    assert pkgops.DPKG_QUERY_FORMAT.endswith("\\t${db:Status-Abbrev}\\t${Config-Version}\\n")


# --- selection: unfinished packages are part of the run, not left out ---


def test_selection_keeps_half_configured_openssl_packages():
    selected, leftover = pkgops.select_openssl(
        rows("debian12-postinst-failed-dpkg-query-W.txt"), "apt"
    )
    assert {p["name"]: (p["version"], p["status"]) for p in selected} == {
        "libssl3": (BROKEN, "iF"),
        "openssl": (BROKEN, "iU"),
    }
    assert leftover == []


def test_selection_of_explicit_names_keeps_them_too():
    selected, _leftover = pkgops.select_openssl(
        rows("debian12-interrupted-dpkg-query-W.txt"), "apt", names=["openssl"]
    )
    assert [(p["name"], p["status"]) for p in selected] == [("openssl", "iHR")]


def test_selection_leaves_removed_packages_out():
    text = (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text()
    text = text.replace(f"{BROKEN}\tiU \t{ORIG}", f"{BROKEN}\trc \t")
    selected, _leftover = pkgops.select_openssl(pkgops.parse_dpkg_query(text), "apt")
    assert [p["name"] for p in selected] == ["libssl3"]


# --- what is known about the last good version, and the message ---

POINTS = [
    {"run_id": "r1", "packages": [{"name": "libssl3", "version": "3.0.20-1~deb12u2"}]},
    {
        "run_id": "r2",
        "packages": [{"name": "libssl3", "version": ORIG}, {"name": "openssl", "version": ORIG}],
    },
    {"run_id": "r3", "packages": [{"name": "libssl3", "version": "3.0.21-1~deb12u2"}]},
]


def test_unfinished_packages_name_the_rollback_point_holding_the_good_version():
    found = pkgops.unfinished_packages(rows("debian12-postinst-failed-dpkg-query-W.txt"), POINTS)
    assert found == [
        {
            "name": "libssl3",
            "arch": "amd64",
            "version": BROKEN,
            "status": "iF",
            "state": "half-configured",
            "config_version": ORIG,
            "openssl": True,
            "rollback_points": ["r2"],
        },
        {
            "name": "openssl",
            "arch": "amd64",
            "version": BROKEN,
            "status": "iU",
            "state": "unpacked",
            "config_version": ORIG,
            "openssl": True,
            "rollback_points": ["r2"],
        },
    ]
    message = pkgops.unfinished_message(found)
    assert message == (
        "pre-flight: dpkg did not finish an earlier package run (a maintainer script failed or "
        f"it was interrupted): libssl3 {BROKEN} is half-configured (dpkg 'iF'; last configured "
        f"version {ORIG}, kept in rollback point r2); openssl {BROKEN} is unpacked, not "
        f"configured (dpkg 'iU'; last configured version {ORIG}, kept in rollback point r2). "
        "An upgrade on top would make apt configure these first and could not record their "
        "previous good version; nothing was changed. Fix it first: roll back with "
        "state=restored run_id=r2 (the rollback role does this), or repair the cause and "
        "finish it with 'dpkg --configure -a' until 'dpkg --audit' reports nothing, then run "
        "again"
    )


def test_without_a_config_version_any_other_recorded_version_is_offered_newest_first():
    text = (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text()
    text = text.replace(f"iF \t{ORIG}", "iF \t")
    found = pkgops.unfinished_packages(pkgops.parse_dpkg_query(text), POINTS)
    assert found[0]["config_version"] is None
    assert found[0]["rollback_points"] == ["r3", "r2", "r1"]
    message = pkgops.unfinished_message(found)
    assert "no earlier configured version known to dpkg; rollback point r3 holds another" in message
    # r2 is the newest point that holds a good version of both packages.
    assert "state=restored run_id=r2" in message


def test_no_rollback_point_means_only_the_dpkg_way_out():
    found = pkgops.unfinished_packages(rows("debian12-interrupted-dpkg-query-W.txt"), [])
    assert [(p["name"], p["state"], p["rollback_points"]) for p in found] == [
        ("openssl", "half-installed", [])
    ]
    message = pkgops.unfinished_message(found)
    assert "state=restored" not in message
    # dpkg --configure -a clears dpkg's journal, only a reinstall makes openssl whole (tried on
    # the recording host: iHR until 'apt-get install --reinstall openssl=3.0.22-1~deb12u2').
    assert message.endswith(
        "Fix it first: repair the cause and finish it with 'dpkg --configure -a', reinstall what "
        f"dpkg half-installed ('apt-get install --reinstall openssl={ORIG}') until "
        "'dpkg --audit' reports nothing, then run again"
    )


def test_an_unfinished_package_of_another_source_is_reported_but_never_restored():
    text = (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text()
    text = text.replace(
        "gzip\tgzip\tamd64\t1.12-1\tgzip\t1.12-1\tii \t",
        "gzip\tgzip\tamd64\t1.12-1\tgzip\t1.12-1\tiF \t1.12-1",
    )
    found = pkgops.unfinished_packages(pkgops.parse_dpkg_query(text), POINTS)
    assert [(p["name"], p["openssl"]) for p in found] == [
        ("gzip", False),
        ("libssl3", True),
        ("openssl", True),
    ]
    assert "state=restored" not in pkgops.unfinished_message(found)


def test_a_consistent_host_has_nothing_unfinished():
    assert (
        pkgops.unfinished_packages(
            pkgops.parse_dpkg_query((FIX / "debian12-dpkg-query-W.txt").read_text()), POINTS
        )
        == []
    )


# --- property tests ---

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
_ABBREV = st.text(alphabet="uihrpncHUFWti R\t", min_size=0, max_size=4)
_WORDS = st.lists(
    st.sampled_from(
        [
            "install",
            "hold",
            "deinstall",
            "purge",
            "unknown",
            "ok",
            "reinstreq",
            "installed",
            "half-configured",
            "unpacked",
            "half-installed",
            "config-files",
            "not-installed",
            "triggers-awaited",
            "triggers-pending",
            "x",
        ]
    ),
    max_size=4,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_TEXT, _ABBREV, _WORDS))
def test_status_parser_raises_only_parse_error(value):
    try:
        parsed = pkgops.parse_dpkg_status(value)
    except ParseError:
        return
    assert parsed["state"] in pkgops.DPKG_STATES.values()
    assert parsed["unfinished"] == (
        parsed["state"] in pkgops.UNFINISHED_STATES
        or (parsed["reinst_required"] and parsed["state"] not in ("not-installed", "config-files"))
    )


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=12000), _TEXT)
def test_query_parser_on_mutated_recording(cut, noise):
    text = (UNF / "debian12-postinst-failed-dpkg-query-W.txt").read_text()
    with contextlib.suppress(ParseError):
        for row in pkgops.parse_dpkg_query(text[:cut] + noise + text[cut:]):
            assert row["unfinished"] in (True, False)
            assert row["state"] is None or row["state"] in pkgops.DPKG_STATES.values()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "run_id": st.text(min_size=1, max_size=8),
                "packages": st.lists(
                    st.fixed_dictionaries(
                        {
                            "name": st.sampled_from(["libssl3", "openssl", "gzip"]),
                            "version": st.sampled_from([ORIG, BROKEN, "3.0.20-1~deb12u2"]),
                        }
                    ),
                    max_size=3,
                ),
            }
        ),
        max_size=4,
    )
)
def test_unfinished_report_and_message_never_fail(points):
    found = pkgops.unfinished_packages(rows("debian12-postinst-failed-dpkg-query-W.txt"), points)
    for pkg in found:
        for run_id in pkg["rollback_points"]:
            assert any(
                p["run_id"] == run_id and {"name": pkg["name"], "version": ORIG} in p["packages"]
                for p in points
            )
    message = pkgops.unfinished_message(found)
    assert message.startswith("pre-flight: dpkg did not finish")
    assert "libssl3" in message and "openssl" in message
