# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_facts without privilege escalation degrades, it does not fail.

The module runs twice on this host as a separate process with the host's own python3 (the
interpreter a managed Debian host uses): as root, and as ``nobody`` through ``setpriv`` with
every capability dropped. A root-owned process that maps libssl runs meanwhile. As root the
module lists it with its libraries; as nobody it cannot read that process's
``/proc/PID/maps`` and reports it under ``unreadable_processes`` instead, with
``privileged: false`` and a warning - and still returns the CLI, libraries and packages.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[4]
MODULE = REPO / "plugins" / "modules" / "openssl_facts.py"
HOST_PYTHON = Path("/usr/bin/python3")
# ansible's module_utils for the host's python3: the test environment's site-packages
SITE = Path(sys.prefix, "lib", "python{}.{}".format(*sys.version_info[:2]), "site-packages")
ARGS = {"runtimes": False, "candidates": False, "changelog": False, "_ansible_check_mode": True}


def _host_python_matches() -> bool:
    if not HOST_PYTHON.exists():
        return False
    proc = subprocess.run(
        [str(HOST_PYTHON), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() == str(sys.version_info[:2])


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or shutil.which("setpriv") is None
    or not _host_python_matches()
    or not (REPO / ".cache" / "collections").exists(),
    reason="needs root, setpriv, the host's python3 of the same version and .cache/collections",
)


def _nobody() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def _run(workdir: Path, as_nobody: bool) -> tuple[dict[str, Any], str]:
    args = workdir / "args.json"
    argv = [str(HOST_PYTHON), str(MODULE), str(args)]
    if as_nobody:
        user = _nobody()
        argv = [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            *argv,
        ]
    env = {
        "HOME": str(workdir),
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "PYTHONPATH": f"{REPO / '.cache' / 'collections'}:{SITE}",
    }
    proc = subprocess.run(
        argv, capture_output=True, text=True, check=False, env=env, cwd=workdir, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)["ansible_facts"]["openssl"], proc.stderr


@pytest.fixture
def workdir() -> Any:
    """A directory nobody can read (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pw-unprivileged-"))
    path.chmod(0o755)
    (path / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": ARGS}))
    (path / "args.json").chmod(0o644)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def root_tls_process(workdir: Path) -> Any:
    """A process of root that maps libssl (Python's ssl module), for as long as the test runs.

    Started detached (``setsid --fork``: its parent is init, not this test): the module leaves
    out its own process tree, and the test process is an ancestor of the module's process.
    """
    pid_file = workdir / "helper.pid"
    code = (
        f"import os, ssl, time; open({str(pid_file)!r}, 'w').write(str(os.getpid()));"
        " time.sleep(300)"
    )
    subprocess.run(["setsid", "--fork", str(HOST_PYTHON), "-c", code], check=True)
    for _attempt in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    yield pid
    os.kill(pid, signal.SIGKILL)


def test_facts_as_nobody_are_partial_and_say_so(workdir: Path, root_tls_process: int) -> None:
    privileged, _err = _run(workdir, as_nobody=False)
    # as root (``privileged`` is also false as root when some process stays unreadable, for
    # example one of another user namespace: not the case of ours)
    assert not any("not running as root" in w for w in privileged["warnings"])
    assert root_tls_process not in {p["pid"] for p in privileged["unreadable_processes"]}
    mine = [p for p in privileged["processes"] if p["pid"] == root_tls_process]
    assert mine and any(lib["kind"] == "libssl" for lib in mine[0]["libraries"])

    facts, stderr = _run(workdir, as_nobody=True)
    assert "Traceback" not in stderr
    assert facts["privileged"] is False
    assert any("not running as root" in w and "partial" in w for w in facts["warnings"])
    assert root_tls_process not in {p["pid"] for p in facts["processes"]}
    hidden = {p["pid"]: p for p in facts["unreadable_processes"]}
    assert root_tls_process in hidden
    assert "permission denied" in hidden[root_tls_process]["error"]
    # what needs no privilege is still there
    assert facts["cli"] == privileged["cli"]
    assert {lib["path"] for lib in facts["libraries"]} == {
        lib["path"] for lib in privileged["libraries"]
    }
    assert [p["name"] for p in facts["packages"]] == [p["name"] for p in privileged["packages"]]
