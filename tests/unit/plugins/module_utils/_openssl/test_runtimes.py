# SPDX-License-Identifier: GPL-3.0-or-later
"""runtimes.probe: the interpreter running the module is answered in-process."""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import runtimes


def _no_run(argv: list[str]) -> tuple[int, str, str]:
    raise AssertionError(f"no process expected, got {argv}")


def test_running_interpreter_is_read_in_process() -> None:
    warnings: list[str] = []
    (res,) = runtimes.probe([sys.executable], _no_run, warnings)
    assert res["version_text"] == ssl.OPENSSL_VERSION
    assert res["real_path"] == os.path.realpath(sys.executable)
    assert res["error"] is None and warnings == []


def test_symlink_to_running_interpreter_is_read_in_process(tmp_path: Path) -> None:
    link = tmp_path / "python3"
    link.symlink_to(os.path.realpath(sys.executable))
    (res,) = runtimes.probe(
        [str(link)], _no_run, [], own_version=lambda: "OpenSSL 3.0.19 27 Jan 2026\n"
    )
    assert (res["implementation"], res["version"]) == ("openssl", "3.0.19")


def test_other_interpreters_are_started(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        calls.append(argv)
        return 0, "OpenSSL 1.1.1w  11 Sep 2023\n", ""

    other = str(tmp_path / "python3.9")
    res = runtimes.probe([other, sys.executable], run, [])
    assert calls == [[other, "-I", "-c", runtimes.PROBE]]
    assert res[0]["version"] == "1.1.1w"
    assert res[1]["version_text"] == ssl.OPENSSL_VERSION


def test_running_interpreter_without_ssl_is_an_error_not_a_traceback() -> None:
    def broken() -> str:
        raise ImportError("No module named '_ssl'")

    warnings: list[str] = []
    (res,) = runtimes.probe([sys.executable], _no_run, warnings, own_version=broken)
    assert res["version"] is None and "_ssl" in res["error"]
    assert len(warnings) == 1


def test_unknown_running_interpreter_starts_the_probe(tmp_path: Path) -> None:
    outputs = iter([(0, "OpenSSL 3.0.19 27 Jan 2026\n", "")])
    (res,) = runtimes.probe([sys.executable], lambda argv: next(outputs), [], running="")
    assert res["version"] == "3.0.19"
