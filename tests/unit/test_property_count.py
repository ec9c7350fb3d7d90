# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example count of tests/unit/conftest.py counts what ran and enforces the minimum.

An inner pytest session in a scratch directory gets a copy of the conftest and property tests of
a known number of examples; it runs under pytest-xdist (the count crosses workers) with the
minimum just above that number, then alone with the minimum at it and on a part of the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
PROPERTY_TEST = '''
from hypothesis import given, settings, strategies as st

@settings(max_examples=40)
@given(st.integers())
def test_forty(number):
    assert isinstance(number, int)

@given(st.text())
def test_profile_default(text):
    assert isinstance(text, str)

def test_plain():
    assert True
'''


def _inner(tmp_path: Path, minimum: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``args``: ``-n 2`` for two xdist workers."""
    env = {**os.environ, "PATCHWISE_MIN_EXAMPLES": str(minimum), "PATCHWISE_PROPERTY_SCALE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    pytest.importorskip("xdist")
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(PROPERTY_TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


def test_counts_across_workers_and_enforces_the_minimum(scratch: Path) -> None:
    expected = 40 + 1000  # test_forty, and the shared profile's default for the other
    below = _inner(scratch, expected + 1, "-n", "2")
    assert below.returncode == 1, below.stdout
    assert f"{expected} generated inputs executed by 2 property tests" in below.stdout
    assert f"FAILED: fewer than the required {expected + 1} generated inputs" in below.stdout
    assert "3 passed" in below.stdout  # every test passed: only the count fails the run

    enough = _inner(scratch, expected)
    assert enough.returncode == 0, enough.stdout
    assert f"{expected} generated inputs" in enough.stdout

    partial = _inner(scratch, expected + 1, "-k", "forty")
    assert partial.returncode == 0, partial.stdout
    assert "40 generated inputs" in partial.stdout
    assert "not checked: only part of tests/unit ran" in partial.stdout
