# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pkgops on a Debian 12 host where an OpenSSL package is on hold (recorded outputs, see
tests/unit/fixtures/pkgops/held/SOURCES.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import packages, pkgops
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from hypothesis import given, settings
from hypothesis import strategies as st

HELD = Path(__file__).resolve().parents[3] / "fixtures" / "pkgops" / "held"
ORIG = "3.0.22-1~deb12u2"
NEW = "3.0.22-1~deb12u2+patchwise1"


def text(name: str) -> str:
    return (HELD / name).read_text()


def by_name(parsed: list) -> dict:
    return {p["name"]: p for p in parsed}


# --- dpkg's view of a held package ---


def test_recorded_status_of_a_held_package():
    """``hi `` and ``hold ok installed``: selection hold, fully installed."""
    for line in text("debian12-held-dpkg-query-status.txt").splitlines():
        binary, abbrev, words = line.split("\t")
        short, long = pkgops.parse_dpkg_status(abbrev), pkgops.parse_dpkg_status(words)
        assert short == long
        expected = "hold" if binary == "libssl3:amd64" else "install"
        assert short == {
            "want": expected,
            "state": "installed",
            "reinst_required": False,
            "unfinished": False,
        }


def test_a_held_package_is_installed_and_held():
    rows = by_name(pkgops.parse_dpkg_query(text("debian12-held-dpkg-query-W.txt")))
    assert rows["libssl3"]["status"] == "hi"
    assert rows["libssl3"]["installed"] is True
    assert rows["libssl3"]["held"] is True
    assert rows["libssl3"]["want"] == "hold"
    assert rows["openssl"]["held"] is False and rows["openssl"]["installed"] is True
    assert [name for name, row in rows.items() if row["held"]] == ["libssl3"]
    assert all(row["installed"] for row in rows.values())


@pytest.mark.parametrize(
    ("abbrev", "installed", "held"),
    [
        ("ii ", True, False),
        ("hi ", True, True),
        ("hF ", False, True),
        ("hiR", False, True),
        ("ri ", False, False),
        ("rc ", False, False),
        ("hc ", False, True),
        ("zz ", False, False),
    ],
)
def test_installed_and_held_per_status(abbrev, installed, held):
    line = f"libssl3:amd64\tlibssl3\tamd64\t{ORIG}\topenssl\t{ORIG}\t{abbrev}\t\n"
    (row,) = pkgops.parse_dpkg_query(line)
    assert (row["installed"], row["held"]) == (installed, held)


def test_selection_keeps_held_openssl_packages():
    installed = pkgops.parse_dpkg_query(text("debian12-held-both-dpkg-query-W.txt"))
    selected, leftover = pkgops.select_openssl(installed, "apt")
    assert [(p["name"], p["held"]) for p in selected] == [("libssl3", True), ("openssl", True)]
    assert leftover == []


def test_held_packages_carry_the_plan():
    installed = pkgops.parse_dpkg_query(text("debian12-held-dpkg-query-W.txt"))
    selected, _leftover = pkgops.select_openssl(installed, "apt")
    policy = pkgops.parse_apt_cache_policy(text("debian12-held-apt-cache-policy.txt"))
    plan = pkgops.plan_apt(selected, policy)
    assert pkgops.held_packages(selected) == [
        {
            "name": "libssl3",
            "binary": "libssl3:amd64",
            "arch": "amd64",
            "version": ORIG,
            "to": None,
            "action": None,
        }
    ]
    (held,) = pkgops.held_packages(selected, plan)
    assert (held["to"], held["action"]) == (NEW, "upgrade")


def test_held_message_names_version_target_and_both_ways_on():
    blocked = [{"name": "libssl3", "version": ORIG, "to": NEW}]
    msg = pkgops.held_message(blocked, ["openssl"])
    assert msg.startswith(
        f"pre-flight: OpenSSL packages on hold (apt-mark hold) would be upgraded: libssl3 {ORIG}"
        f" -> {NEW}."
    )
    assert "so openssl is not upgraded either" in msg
    assert "'apt-mark unhold libssl3'" in msg
    assert "allow_held=true (patch role: patch_allow_held: true)" in msg
    both = [*blocked, {"name": "openssl", "version": ORIG, "to": NEW}]
    msg = pkgops.held_message(both)
    assert f"openssl {ORIG} -> {NEW}" in msg and "'apt-mark unhold libssl3 openssl'" in msg
    assert "either" in msg and "move together" not in msg


# --- apt's simulation names the held packages it would change ---


def test_simulation_lists_the_held_package():
    sim = pkgops.parse_apt_get_simulate(text("debian12-held-apt-get-s-install.txt"))
    assert sim["held"] == ["libssl3"]
    assert [(e["name"], e["old"], e["new"]) for e in sim["install"]] == [
        ("libssl3", ORIG, NEW),
        ("openssl", ORIG, NEW),
    ]
    assert sim["errors"] == []
    plan = [
        {"name": "libssl3", "action": "upgrade"},
        {"name": "openssl", "action": "upgrade"},
    ]
    assert pkgops.check_simulation(sim, plan) == ["apt would change libssl3, which is on hold"]
    assert pkgops.check_simulation(sim, plan, allow_held=True) == []


def test_simulation_without_the_held_package_is_what_the_old_selection_did():
    """Leaving the held libssl3 out planned openssl alone: a newer openssl on an older libssl3."""
    sim = pkgops.parse_apt_get_simulate(text("debian12-held-apt-get-s-install-openssl-only.txt"))
    assert sim["held"] == []
    assert [e["name"] for e in sim["install"]] == ["openssl"]


def test_real_install_refusal_is_an_error():
    sim = pkgops.parse_apt_get_simulate(text("debian12-held-apt-get-install-y.txt"))
    assert sim["held"] == ["libssl3"]
    assert sim["errors"] == [
        "Held packages were changed and -y was used without --allow-change-held-packages."
    ]


def test_a_held_package_outside_the_plan_is_a_problem_even_when_allowed():
    sim = pkgops.parse_apt_get_simulate(text("debian12-held-apt-get-s-install.txt"))
    plan = [{"name": "openssl", "action": "upgrade"}]
    problems = pkgops.check_simulation(sim, plan, allow_held=True)
    assert "apt would change libssl3, which is on hold" in problems


# --- the facts module reports a held package ---


def test_facts_query_lists_a_held_package():
    """The facts' earlier five-column query (recorded with libssl3 held) lists it as
    installed; it cannot say it is held (``held`` unknown)."""
    rows = by_name(packages.parse_dpkg_query(text("debian12-held-facts-query.txt")))
    assert rows["libssl3"]["version"] == ORIG
    assert rows["libssl3"]["status"] == "installed"
    assert rows["libssl3"]["source"] == "openssl"
    assert rows["libssl3"]["held"] is None


def test_facts_query_reports_a_held_package():
    """The facts' query with ${db:Status-Want}, recorded with libssl3 held (fixtures/facts/dpkg)."""
    dpkg = Path(__file__).parents[3] / "fixtures" / "facts" / "dpkg"
    held_text = (dpkg / "debian12-dpkg-query-want-held.txt").read_text()
    rows = by_name(packages.parse_dpkg_query(held_text))
    plain = by_name(packages.parse_dpkg_query((dpkg / "debian12-dpkg-query-want.txt").read_text()))
    assert (rows["libssl3"]["held"], rows["openssl"]["held"]) == (True, False)
    assert (plain["libssl3"]["held"], plain["openssl"]["held"]) == (False, False)
    assert rows["libssl3"]["status"] == "installed"


# --- properties ---

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
_HELD_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "The following held packages will be changed:",
                "  libssl3 openssl:amd64",
                "  libssl3",
                "The following packages will be upgraded:",
                "E: Held packages were changed and -y was used without "
                "--allow-change-held-packages.",
                f"Inst libssl3 [{ORIG}] ({NEW} patchwise [amd64])",
                "",
                " ",
            ]
        ),
        _TEXT,
    ),
    max_size=12,
).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(_HELD_LINES)
def test_simulation_parser_on_held_blocks(value):
    sim = pkgops.parse_apt_get_simulate(value)
    assert len(sim["held"]) == len(set(sim["held"]))
    assert all(name and ":" not in name and " " not in name for name in sim["held"])


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=12000), _TEXT)
def test_query_parser_on_mutated_held_recording(cut, noise):
    recorded = text("debian12-held-dpkg-query-W.txt")
    with contextlib.suppress(ParseError):
        for row in pkgops.parse_dpkg_query(recorded[:cut] + noise + recorded[cut:]):
            assert row["held"] == (row["want"] == "hold")
            assert not (row["installed"] and row["unfinished"])
            assert not row["installed"] or row["state"] == "installed"
