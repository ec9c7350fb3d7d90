# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only connection: one ``podman exec -i`` per command, with pipelining.

Used by benchmarks/fleet.py next to containers.podman.podman. That plugin cannot pipeline
(it runs ``podman exec`` without ``-i``), so every module costs a ``podman mount``, a temporary
directory, a file copy, a ``chmod`` and the module run: four podman invocations. Over SSH with
pipelining and ControlPersist a module is one exchange on a warm connection. This plugin gives
the containers that shape — one ``podman exec -i <name> /bin/sh -c '<python>'`` with the module
on stdin — so the fleet figure is not flattered by a slow transport. Not part of the collection.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from ansible.errors import AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

DOCUMENTATION = r"""
name: pw_podman_exec
short_description: podman exec with pipelining (benchmarks only)
description:
  - Runs every command with C(podman exec -i) in the container named by the inventory
    host; modules are pipelined on stdin. Files are copied with C(podman cp).
extends_documentation_fragment:
  - connection_pipelining
options:
  remote_addr:
    description: Name of the running container.
    default: inventory_hostname
    type: str
    vars:
      - name: inventory_hostname
      - name: ansible_host
"""


class Connection(ConnectionBase):
    """``podman exec -i`` per command; pipelining supported."""

    transport = "pw_podman_exec"
    has_pipelining = True

    def _podman(self, argv: list[str], in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        podman = shutil.which("podman")
        if podman is None:
            raise AnsibleError("podman is not installed")
        proc = subprocess.run(
            [podman, *argv],
            input=in_data,
            stdin=None if in_data is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    def _connect(self) -> Connection:
        self._connected = True
        return self

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        name = str(self.get_option("remote_addr"))
        argv = ["exec", *(["-i"] if in_data is not None else []), name, *shlex.split(cmd)]
        display.vvv(f"EXEC podman {shlex.join(argv)}", host=name)
        return self._podman(argv, in_data)

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        self._copy(in_path, f"{self.get_option('remote_addr')}:{out_path}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        self._copy(f"{self.get_option('remote_addr')}:{in_path}", out_path)

    def _copy(self, source: str, dest: str) -> None:
        rc, _out, err = self._podman(["cp", source, dest])
        if rc != 0:
            raise AnsibleError(f"podman cp {source} {dest} failed: {err.decode(errors='replace')}")

    def close(self) -> None:
        self._connected = False
