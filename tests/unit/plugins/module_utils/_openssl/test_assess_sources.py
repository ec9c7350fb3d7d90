# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The derived changelog CVE maps of the assessment fixtures still match the recorded files."""

from __future__ import annotations

import gzip
import json
import pathlib

import pytest

changelogs = pytest.importorskip(
    "ansible_collections.patchwise.openssl.plugins.module_utils._openssl.changelogs"
)

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "assess"
DERIVED = json.loads((FIXTURES / "changelog-cves.json").read_text())


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_derived_cve_map_matches_recorded_changelog(name):
    path = FIXTURES / "changelog" / name
    if name.endswith(".gz"):
        parsed = changelogs.parse_debian_changelog(gzip.decompress(path.read_bytes()).decode())
    else:
        parsed = changelogs.parse_rpm_changelog(path.read_text(encoding="utf-8"))
    assert parsed["cves"] == DERIVED[name]["cves"]
    assert parsed["entries"] == DERIVED[name]["entries"]
    assert parsed["trimmed"] == DERIVED[name]["trimmed"]


def test_every_recorded_changelog_is_derived():
    assert sorted(p.name for p in (FIXTURES / "changelog").iterdir()) == sorted(DERIVED)
