# SPDX-License-Identifier: GPL-3.0-or-later
"""The openssl_version filter exposes the same parser as openssl_facts."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter.openssl_version import (
    FilterModule,
    openssl_version,
)

FIX = Path(__file__).parents[2] / "fixtures" / "facts" / "version"


def test_registered() -> None:
    assert FilterModule().filters()["openssl_version"] is openssl_version


def test_recorded_version_a() -> None:
    r = openssl_version((FIX / "debian12-3.0.19-version-a.txt").read_text())
    assert r["version"] == "3.0.19"
    assert r["openssldir"] == "/usr/lib/ssl"


def test_lenient_and_strict() -> None:
    assert openssl_version("nonsense")["implementation"] == "unknown"
    with pytest.raises(AnsibleFilterError):
        openssl_version("nonsense", strict=True)
    with pytest.raises(AnsibleFilterError):
        openssl_version(42)  # type: ignore[arg-type]
