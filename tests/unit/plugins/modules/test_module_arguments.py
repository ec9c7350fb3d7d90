# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong module arguments: a failed result whose message names the option, never a traceback,
and nothing run on the host (the modules fail before their first command)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.modules import (
    openssl_facts,
    openssl_packages,
    openssl_refresh,
    openssl_tls_check,
)

MODULES = {
    "openssl_facts": openssl_facts,
    "openssl_packages": openssl_packages,
    "openssl_refresh": openssl_refresh,
    "openssl_tls_check": openssl_tls_check,
}

# (module, arguments, texts the message must contain)
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("openssl_facts", {"scan_budget": "soon"}, ["scan_budget", "float"]),
    ("openssl_facts", {"scan_budget": -1}, ["scan_budget must not be negative"]),
    ("openssl_facts", {"processes": "maybe"}, ["processes"]),
    ("openssl_facts", {"scan_paths": {"a": 1}}, ["scan_paths"]),
    ("openssl_facts", {"scan_path": ["/opt"]}, ["Unsupported parameters", "scan_path"]),
    ("openssl_packages", {"state": "present"}, ["state", "latest, restored", "present"]),
    ("openssl_packages", {"lock_timeout": "long"}, ["lock_timeout"]),
    ("openssl_packages", {"lock_timeout": -5}, ["lock_timeout must not be negative"]),
    ("openssl_packages", {"min_free_mb": -1}, ["min_free_mb must not be negative"]),
    ("openssl_packages", {"keep": 0}, ["keep must be at least 1"]),
    ("openssl_packages", {"run_id": "../etc"}, ["run_id", "letters, digits"]),
    (
        "openssl_packages",
        {"state": "restored", "run_id": "a", "manifest": "/x/manifest.json"},
        ["mutually exclusive", "manifest", "run_id"],
    ),
    (
        "openssl_packages",
        {"state": "restored", "version": "3.0.19-1"},
        ["version applies to state=latest only"],
    ),
    (
        "openssl_packages",
        {"state": "restored", "packages": ["libssl3"]},
        ["packages applies to state=latest only"],
    ),
    (
        "openssl_packages",
        {"state": "latest", "manifest": "/x/manifest.json"},
        ["manifest applies to state=restored only"],
    ),
    ("openssl_packages", {"pkg_mgr": "pacman"}, ["pkg_mgr", "pacman"]),
    ("openssl_refresh", {"phase": "later"}, ["phase", "later"]),
    ("openssl_refresh", {"timeout": 0}, ["timeout must be a positive number"]),
    ("openssl_refresh", {"strategies": {"nginx": "reboot"}}, ["strategies", "reboot"]),
    ("openssl_refresh", {"strategies": {"nginx": ["hup"]}}, ["strategies", "['hup']"]),
    (
        "openssl_refresh",
        {"recover": [{"service": "x;reboot", "service_source": "init"}]},
        ["recover", "invalid service name"],
    ),
    ("openssl_refresh", {"restart_ok": "sure"}, ["restart_ok"]),
    ("openssl_tls_check", {"timeout": 0}, ["timeout must be greater than 0"]),
    ("openssl_tls_check", {"endpoints": [{"port": 443}]}, ["host", "endpoints"]),
    (
        "openssl_tls_check",
        {"endpoints": [{"host": "a", "port": 70000}]},
        ["endpoints[0].port must be 1-65535, got 70000"],
    ),
    (
        "openssl_tls_check",
        {"endpoints": [{"host": "a", "timeout": -1}]},
        ["endpoints[0].timeout must be greater than 0"],
    ),
    (
        "openssl_tls_check",
        {"health_urls": [{"url": "https://a", "status": 42}]},
        ["health_urls[0].status must be 100-599, got 42"],
    ),
    ("openssl_tls_check", {"min_protocol": "SSLv3"}, ["min_protocol", "SSLv3"]),
]


def _run(module: Any, args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    CASES,
    ids=[f"{c[0]}-{'-'.join(c[1])}-{i}" for i, c in enumerate(CASES)],
)
def test_bad_arguments_name_the_option(
    monkeypatch, capsys, name: str, args: dict[str, Any], expected: list[str]
) -> None:
    def no_command(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a command ran before the arguments were checked")

    monkeypatch.setattr("ansible.module_utils.basic.AnsibleModule.run_command", no_command)
    out = _run(MODULES[name], args, capsys)
    assert out["failed"] is True, out
    for text in expected:
        assert text in out["msg"], f"{text!r} not in {out['msg']!r}"
    assert "Traceback" not in out["msg"]
