# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_tls_check as Ansible runs it: arguments in, JSON out, never a traceback."""

from __future__ import annotations

import json
import socket

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.modules import openssl_tls_check


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_tls_check.main()
    return json.loads(capsys.readouterr().out)


def _closed_port():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_failed_probe_is_reported_not_raised(capsys):
    port = _closed_port()
    out = _run(
        {
            "endpoints": [{"host": "127.0.0.1", "port": port, "sni": "example.test"}],
            "_ansible_check_mode": True,
        },
        capsys,
    )
    assert out["changed"] is False
    assert out["passed"] is False
    assert out.get("failed") is not True
    ep = out["endpoints"][0]
    assert ep["server_name"] == "example.test"
    assert ep["error"] == "connection refused"
    assert out["failures"] == [f"127.0.0.1:{port}: handshake failed: connection refused"]


def test_nothing_to_probe_passes(capsys):
    out = _run({}, capsys)
    assert out["passed"] is True
    assert out["endpoints"] == []
    assert out["health"] == []


def test_bad_arguments_fail_cleanly(capsys):
    out = _run({"endpoints": [{"port": 443}]}, capsys)
    assert out["failed"] is True
    assert "host" in out["msg"]
    out = _run({"timeout": 0}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "timeout must be greater than 0"
    out = _run({"min_protocol": "SSLv3"}, capsys)
    assert out["failed"] is True
