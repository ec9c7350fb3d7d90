# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_facts as Ansible runs it: arguments in, facts out, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from ansible_collections.patchwise.openssl.plugins.modules import openssl_facts


def _run(args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_facts.main()
    return json.loads(capsys.readouterr().out)


def test_options_reach_gather_and_facts_are_returned(monkeypatch, capsys) -> None:
    seen: dict[str, Any] = {}

    def gather(run, get_bin_path, options):
        seen.update(options)
        rc, out, _err = run(["echo", "hi"])
        missing = run(["/nonexistent/openssl", "version"])
        return {"schema_version": 1, "echo": (rc, out.strip()), "missing": missing[0]}

    monkeypatch.setattr(openssl_facts, "gather", gather)
    out = _run({"scan_paths": ["/opt"], "scan_budget": 2, "_ansible_check_mode": True}, capsys)
    assert out["changed"] is False
    assert out["ansible_facts"]["openssl"]["echo"] == [0, "hi"]
    assert out["ansible_facts"]["openssl"]["missing"] == 127
    assert seen["scan_paths"] == ["/opt"] and seen["scan_budget"] == 2.0
    assert seen["extra_library_paths"] == ["/usr/local", "/opt"]
    assert seen["changelog"] is True and seen["candidates"] is True


def test_collection_errors_fail_cleanly(monkeypatch, capsys) -> None:
    def gather(run, get_bin_path, options):
        raise ParseError("bad input")

    monkeypatch.setattr(openssl_facts, "gather", gather)
    out = _run({}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "openssl_facts: bad input"


def test_bad_arguments(capsys) -> None:
    assert _run({"scan_budget": -1}, capsys)["msg"] == "scan_budget must not be negative"
    assert _run({"processes": "maybe"}, capsys)["failed"] is True


def test_real_run_on_this_host(capsys) -> None:
    """The module on the machine running the tests: schema complete, no traceback."""
    out = _run({"runtimes": False, "candidates": False, "_ansible_check_mode": True}, capsys)
    facts = out["ansible_facts"]["openssl"]
    for key in (
        "cli",
        "libraries",
        "packages",
        "processes",
        "unreadable_processes",
        "policy",
        "livepatch",
        "distro",
        "vendored_scan",
        "summary",
    ):
        assert key in facts
    assert facts["schema_version"] == 1
    for proc in facts["processes"]:
        assert proc["stale"] == any(lib["stale"] for lib in proc["libraries"])


def test_examples_are_accepted_by_the_module(monkeypatch, capsys) -> None:
    """Every EXAMPLES task of this module passes argument validation and reaches gather()."""
    import yaml

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(
        openssl_facts, "gather", lambda run, gbp, options: seen.append(options) or {"ok": 1}
    )
    tasks = yaml.safe_load(openssl_facts.EXAMPLES)
    calls = [
        t["patchwise.openssl.openssl_facts"] or {}
        for t in tasks
        if "patchwise.openssl.openssl_facts" in t
    ]
    assert len(calls) == 3
    for args in calls:
        out = _run(dict(args), capsys)
        assert out.get("failed") is not True, out
    assert seen[1]["scan_paths"] == ["/opt"] and seen[1]["scan_budget"] == 60.0
    assert seen[2]["changelog"] is False and seen[2]["runtimes"] is False
