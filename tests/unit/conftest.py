# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: one shared hypothesis profile, and a count of the inputs they really ran.

The profile ``patchwise`` (loaded for every unit test) sets the default number of examples of
a property test to ``BASE_EXAMPLES`` times ``PATCHWISE_PROPERTY_SCALE`` (default 1); a test that
needs another number states it relative to the profile (``settings().max_examples * 2``), so
the scale applies to every test alike.

Every example hypothesis executes is counted (the test's inner function is wrapped, as
hypothesis documents for ``.hypothesis.inner_test``), per test and in total, also across
pytest-xdist workers; the total is printed at the end of the session. With
``PATCHWISE_MIN_EXAMPLES=<n>`` (``make unit`` sets 100000), or ``CI=true`` (then 100000), a
complete run of tests/unit that executed fewer examples fails. ``-v`` (or
``PATCHWISE_EXAMPLES_TABLE=1``) lists every property test with its examples and time.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

BASE_EXAMPLES = 1000
CI_MIN_EXAMPLES = 100_000
SCALE = max(1, int(os.environ.get("PATCHWISE_PROPERTY_SCALE", "1") or "1"))

settings.register_profile(
    "patchwise",
    max_examples=BASE_EXAMPLES * SCALE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "patchwise"))

_KEY = "hypothesis_examples"
_counter = {"examples": 0}
_results: dict[str, tuple[int, float]] = {}


def _count_examples(inner: Any) -> Any:
    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _counter["examples"] += 1
        return inner(*args, **kwargs)

    counted._patchwise_counted = True  # type: ignore[attr-defined]
    return counted


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None:
        yield
        return
    if not getattr(handle.inner_test, "_patchwise_counted", False):
        handle.inner_test = _count_examples(handle.inner_test)
    _counter["examples"] = 0
    start = time.perf_counter()
    yield
    item.user_properties.append((_KEY, (_counter["examples"], time.perf_counter() - start)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collects the counts on the process that reports (the xdist controller, or the only one)."""
    if report.when != "call":
        return
    for key, value in report.user_properties:
        if key == _KEY:
            _results[report.nodeid] = (int(value[0]), float(value[1]))


def _minimum() -> int:
    explicit = os.environ.get("PATCHWISE_MIN_EXAMPLES", "").strip()
    if explicit:
        return int(explicit)
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return CI_MIN_EXAMPLES
    return 0


def _complete_run(config: pytest.Config) -> bool:
    """True when the whole of tests/unit ran (no -k, -m, --deselect, narrower paths or
    --collect-only)."""
    if (
        config.getoption("keyword", "")
        or config.getoption("markexpr", "")
        or config.getoption("deselect", None)
        or config.getoption("collectonly", False)
    ):
        return False
    unit = Path(__file__).resolve().parent
    args = [arg for arg in config.args if not arg.startswith("-")] or ["."]
    return any(
        Path(config.invocation_params.dir, arg).resolve() in (unit, *unit.parents) for arg in args
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if _is_worker(config):
        return
    total = sum(count for count, _seconds in _results.values())
    minimum = _minimum()
    config._patchwise_examples = (total, minimum)  # type: ignore[attr-defined]
    if minimum and total < minimum and _complete_run(config) and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _is_worker(config) or not _results:
        return
    total, minimum = getattr(config, "_patchwise_examples", (0, 0))
    seconds = sum(sec for _count, sec in _results.values())
    writer = terminalreporter
    writer.section("property tests (hypothesis)")
    if config.getoption("verbose", 0) > 0 or os.environ.get("PATCHWISE_EXAMPLES_TABLE"):
        for nodeid, (count, sec) in sorted(_results.items(), key=lambda kv: -kv[1][0]):
            writer.write_line(f"{count:8d} examples {sec:7.2f} s  {nodeid}")
    writer.write_line(
        f"{total} generated inputs executed by {len(_results)} property tests in "
        f"{seconds:.1f} s of test time (PATCHWISE_PROPERTY_SCALE={SCALE})"
    )
    if minimum and total < minimum:
        if _complete_run(config):
            writer.write_line(
                f"FAILED: fewer than the required {minimum} generated inputs", red=True
            )
        else:
            writer.write_line(f"(minimum {minimum} not checked: only part of tests/unit ran)")
