# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_packages as Ansible runs it, with run_command fed recorded Debian 12 outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops
from ansible_collections.patchwise.openssl.plugins.modules import openssl_packages

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pkgops"


def _answers(policy: str = "debian12-apt-cache-policy.txt") -> list:
    return [
        (["dpkg-query"], (0, (FIX / "debian12-dpkg-query-W.txt").read_text(), "")),
        (["apt-get", "update"], (0, (FIX / "debian12-apt-get-update-ok.txt").read_text(), "")),
        (["apt-cache"], (0, (FIX / policy).read_text(), "")),
        (["apt-get", "-s"], (0, (FIX / "debian12-apt-get-s-install.txt").read_text(), "")),
    ]


@pytest.fixture
def commands(monkeypatch, tmp_path):
    calls = []
    answers = _answers()

    def run_command(self, argv, cwd=None, environ_update=None, **kwargs):
        calls.append((list(argv), environ_update))
        for prefix, answer in answers:
            if list(argv[: len(prefix)]) == prefix:
                return answer
        return 1, "", f"unexpected {argv}"

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(
        AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/bin/{name}"
    )
    monkeypatch.setattr(pkgops, "lock_free", lambda paths=None: (True, ""))
    monkeypatch.setattr(pkgops, "private_lists_dir", lambda: str(tmp_path / "lists"))
    return calls, answers


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_packages.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_plans_and_changes_nothing(commands, capsys, tmp_path):
    calls, _state = commands
    out = _run({"_ansible_check_mode": True, "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["changed"] is True
    assert out["changed_packages"] == [
        {"name": "libssl3", "from": "3.0.20-1~deb12u2", "to": "3.0.22-1~deb12u2"},
        {"name": "openssl", "from": "3.0.20-1~deb12u2", "to": "3.0.22-1~deb12u2"},
    ]
    assert out["rollback_point"] == {}
    assert not (tmp_path / "rb").exists()
    argvs = [c[0] for c in calls]
    assert not any(a[:2] == ["apt-get", "install"] for a in argvs)
    update = next(a for a in argvs if a[:2] == ["apt-get", "update"])
    assert f"Dir::State::Lists={tmp_path / 'lists'}" in update
    assert all(env["DEBIAN_FRONTEND"] == "noninteractive" for _a, env in calls)
    assert all(env["NEEDRESTART_SUSPEND"] == "1" for _a, env in calls)


def test_unreachable_repository_fails_before_any_change(commands, capsys, tmp_path):
    _calls, answers = commands
    answers[1] = (
        ["apt-get", "update"],
        (0, (FIX / "debian12-apt-get-update-unreachable.txt").read_text(), ""),
    )
    out = _run({"rollback_dir": str(tmp_path / "rb")}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith("pre-flight: a package repository is unreachable: Err:1")
    assert not (tmp_path / "rb").exists()


def test_pinned_missing_version_fails_clearly(commands, capsys, tmp_path):
    out = _run({"version": "3.0.99-1", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert "target version not available" in out["msg"]
    assert "3.0.99-1 is not offered" in out["msg"]


def test_downgrade_is_refused(commands, capsys, tmp_path):
    out = _run({"version": "3.0.17-1~deb12u2", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert "refusing to downgrade" in out["msg"]
    assert "state=restored" in out["msg"]


def test_restore_without_rollback_point(commands, capsys, tmp_path):
    out = _run({"state": "restored", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert out["msg"] == f"no rollback point under {tmp_path}"
    out = _run({"state": "restored", "run_id": "../x", "rollback_dir": str(tmp_path)}, capsys)
    assert "letters, digits" in out["msg"]
