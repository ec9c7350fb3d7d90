# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static security checks over the whole collection (see docs/security.md).

* Secrets are ``no_log``: every role option, module or action option named like a secret, and
  every task of a role or playbook that passes a secret variable (unless it passes it to a
  parameter the target module itself declares ``no_log``).
* Commands are argv lists: no shell tasks, no ``shell=True``, no ``os.system``/``os.popen``, no
  command string built from input for ``run_command``.
* Reports and change records are written atomically with mode 0600 in 0700 directories,
  whatever the umask, and a failed write leaves the previous file intact.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    change_record,
    report,
)

REPO = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(r"password|passwd|token|secret|passphrase|private_key|credentials$")
# module parameters that the modules themselves declare no_log (awx.awx's controller
# connection options)
NO_LOG_PARAMETERS = {"controller_password", "controller_oauthtoken"}


def _role_options() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for spec_file in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        specs = yaml.safe_load(spec_file.read_text())["argument_specs"]
        for entry in specs.values():
            for name, option in (entry.get("options") or {}).items():
                yield spec_file.parts[-3], name, option


def test_secret_role_options_are_no_log() -> None:
    secret = [(role, name) for role, name, _option in _role_options() if SECRET_NAME.search(name)]
    assert ("awx_configure", "awx_configure_controller_password") in secret  # the check sees
    missing = [
        (role, name)
        for role, name, option in _role_options()
        if SECRET_NAME.search(name) and option.get("no_log") is not True
    ]
    assert missing == []


def _spec_dicts(path: Path) -> Iterator[tuple[str, ast.Dict]]:
    """(option name, option dict) of every ``"name": {"type": ...}`` literal in a plugin."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values):
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and isinstance(value, ast.Dict)
                and any(isinstance(k, ast.Constant) and k.value == "type" for k in value.keys)
            ):
                yield key.value, value


def test_secret_module_and_action_options_are_no_log() -> None:
    found = []
    for path in sorted([*REPO.glob("plugins/modules/*.py"), *REPO.glob("plugins/action/*.py")]):
        for name, option in _spec_dicts(path):
            found.append(name)
            if SECRET_NAME.search(name):
                flags = {
                    k.value: v
                    for k, v in zip(option.keys, option.values)
                    if isinstance(k, ast.Constant)
                }
                no_log = flags.get("no_log")
                assert isinstance(no_log, ast.Constant) and no_log.value is True, (path, name)
    assert "scan_budget" in found and "lock_timeout" in found  # the walk sees the specs


def _secret_variables() -> set[str]:
    return {name for _role, name, option in _role_options() if option.get("no_log") is True}


def _tasks(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if "hosts" in node:  # a play
            for key in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                yield from _tasks(node.get(key) or [])
            return
        yield node
        for key in ("block", "rescue", "always"):
            yield from _tasks(node.get(key) or [])


def _uses(value: Any, variable: str, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths (keys) under which ``value`` references ``variable`` in a template."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _uses(item, variable, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _uses(item, variable, path)
    elif (
        isinstance(value, str)
        and re.search(rf"\b{variable}\b", value)
        # the credentials list is shown by name only
        and not re.search(rf"{variable}\s*\|\s*map\(attribute='name'\)", value)
    ):
        yield path


def test_secret_variables_reach_only_no_log_tasks() -> None:
    secrets = _secret_variables()
    assert {"awx_configure_controller_password", "awx_configure_credentials"} <= secrets
    files = [
        *REPO.glob("roles/*/tasks/*.yml"),
        *REPO.glob("roles/*/handlers/*.yml"),
        *REPO.glob("playbooks/*.yml"),
    ]
    seen, leaks = 0, []
    for path in sorted(files):
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            body = {k: v for k, v in task.items() if k not in ("block", "rescue", "always")}
            for variable in secrets:
                for where in _uses(body, variable):
                    seen += 1
                    if task.get("no_log") is True or where[-1] in NO_LOG_PARAMETERS:
                        continue
                    leaks.append(f"{path.relative_to(REPO)}: {task.get('name')}: {where}")
    assert seen >= 3  # the controller password, the token and the credentials are used
    assert leaks == []


def test_tasks_run_commands_as_argv_only() -> None:
    shell_tasks = []
    for path in sorted([*REPO.glob("roles/*/tasks/*.yml"), *REPO.glob("playbooks/*.yml")]):
        for task in _tasks(yaml.safe_load(path.read_text()) or []):
            for key in ("ansible.builtin.shell", "shell", "ansible.builtin.raw", "raw"):
                if key in task:
                    shell_tasks.append(f"{path.relative_to(REPO)}: {task.get('name')}")
            for key in ("ansible.builtin.command", "command"):
                if key in task and not (isinstance(task[key], dict) and "argv" in task[key]):
                    shell_tasks.append(f"{path.relative_to(REPO)}: {task.get('name')} (no argv)")
    assert shell_tasks == []


def _calls(tree: ast.AST, name: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                yield node


def test_python_runs_commands_as_argv_only() -> None:
    problems = []
    checked = 0
    for path in sorted(REPO.glob("plugins/**/*.py")):
        tree = ast.parse(path.read_text())
        for keyword in (
            k for node in ast.walk(tree) if isinstance(node, ast.Call) for k in node.keywords
        ):
            if keyword.arg in ("shell", "use_unsafe_shell") and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                problems.append(f"{path.name}: {keyword.arg}=")
        for name in ("system", "popen", "getoutput", "getstatusoutput"):
            problems += [f"{path.name}: {name}()" for _call in _calls(tree, name)]
        for call in _calls(tree, "run_command"):
            checked += 1
            first = call.args[0] if call.args else None
            if isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                problems.append(f"{path.name}:{call.lineno}: run_command with a string")
    assert checked >= 3
    assert problems == []


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.mark.parametrize(
    "writer", [report.write_atomic, change_record.write_atomic], ids=["report", "change_record"]
)
def test_reports_and_records_are_private_whatever_the_umask(
    tmp_path: Path, open_umask: None, writer: Any
) -> None:
    target = tmp_path / "new" / "deeper" / "host.json"
    assert writer(str(target), "{}\n") is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for directory in (target.parent, target.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    target.chmod(0o644)  # a copy someone made readable: the next write closes it again
    assert writer(str(target), "{}\n") is False
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_write_keeps_the_previous_record(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "run.json"
    change_record.write_atomic(str(target), '{"outcome": "in_progress"}\n')
    seen = {}

    def interrupted(src: str, dst: str) -> None:
        seen["mode"] = stat.S_IMODE(os.stat(src).st_mode)  # the temporary copy is private too
        seen["content"] = Path(src).read_text()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(change_record.ChangeRecordError, match="No space left"):
        change_record.write_atomic(str(target), '{"outcome": "patched"}\n')
    assert seen == {"mode": 0o600, "content": '{"outcome": "patched"}\n'}
    assert target.read_text() == '{"outcome": "in_progress"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temporary file left
