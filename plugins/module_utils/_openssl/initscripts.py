# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SysV init script names of processes on hosts whose PID 1 is not systemd.

A process belongs to the init script of the package that ships its executable (haproxy: both
in ``haproxy``). Debian often splits a daemon into several binary packages built from one
source package: nginx's init script is in ``nginx-common``, its executable in ``nginx``;
apache2's script in ``apache2``, the server in ``apache2-bin``. A script of such a sibling
package names the process only when the pid file that script manages, at Debian's
conventional place (``/run/<script>.pid`` or ``/run/<script>/<script>.pid``), holds the pid of
the process or of its master: the same source package alone would also hand nginx's or
openssh's init script to every other program of that source (an ``ssh`` client, ``ab``).
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

PID_DIRS = ("/run", "/var/run")
# the kernel's upper bound of pid_max (PID_MAX_LIMIT on 64-bit)
PID_MAX = 4194304
PID_FILE_LIMIT = 4096
_PID = re.compile(r"[0-9]{1,7}")

Owner = "tuple[str, str | None, str | None]"


def parse_pid_file(text: str) -> list[int]:
    """Process ids of a pid file: decimal numbers separated by white space (haproxy writes one
    per line when it runs several processes). A file with anything else in it, or a number
    that cannot be a pid, names no process: ``[]``."""
    words = text.split()
    pids = []
    for word in words:
        if not _PID.fullmatch(word):
            return []
        pid = int(word)
        if not 0 < pid <= PID_MAX:
            return []
        pids.append(pid)
    return pids


def pid_file_paths(script: str) -> list[str]:
    """Where Debian's init script ``script`` keeps its pid file, by convention."""
    if not script or "/" in script or script in (".", ".."):
        return []
    paths = []
    for root in PID_DIRS:
        paths += [os.path.join(root, f"{script}.pid"), os.path.join(root, script, f"{script}.pid")]
    return paths


class InitServices:
    """Init script names by package and by source package, and the pids their pid files name.

    ``by_package``: package name -> names of the init scripts it ships. ``source_of``: package
    name -> source package name. ``read`` reads a pid file (path -> text or ``None``; the facts
    pass their bounded file reader, ``PID_FILE_LIMIT`` bytes).
    """

    def __init__(
        self,
        by_package: dict[str, list[str]],
        source_of: dict[str, str] | None = None,
        *,
        read: Callable[[str], str | None],
    ) -> None:
        self.by_package = by_package
        self.source_of = dict(source_of or {})
        self.by_source: dict[str, list[str]] = {}
        for package, names in sorted(by_package.items()):
            source = self.source_of.get(package, package)
            self.by_source.setdefault(source, []).extend(names)
        self.read = read
        self._pids: dict[str, set[int]] = {}

    @classmethod
    def from_owners(
        cls,
        script_owners: dict[str, Owner],
        installed: list[dict[str, Any]],
        read: Callable[[str], str | None],
    ) -> InitServices:
        """From the owner (name, arch, version) of each init script path."""
        by_package: dict[str, list[str]] = {}
        for path, owner in sorted(script_owners.items()):
            by_package.setdefault(owner[0], []).append(os.path.basename(path))
        source_of = {p["name"]: p.get("source") or p["name"] for p in installed}
        return cls(by_package, source_of, read=read)

    def pids(self, script: str) -> set[int]:
        """The pids named by the pid files of ``script`` (each file read once a run)."""
        if script not in self._pids:
            found: set[int] = set()
            seen: set[str] = set()
            for path in pid_file_paths(script):
                real = os.path.realpath(path)
                if real in seen:
                    continue
                seen.add(real)
                text = self.read(path)
                if text is not None:
                    found.update(parse_pid_file(text))
            self._pids[script] = found
        return self._pids[script]

    def service_of(self, proc: dict[str, Any], package: str | None) -> str | None:
        """The init script name(s) of a process whose executable ``package`` ships."""
        if not package:
            return None
        names = self.by_package.get(package)
        if not names:
            source = self.source_of.get(package, package)
            ids = {proc.get("pid"), proc.get("master_pid")} - {None}
            names = [n for n in self.by_source.get(source, []) if ids & self.pids(n)]
        if not names:
            return None
        return names[0] if len(names) == 1 else ",".join(sorted(names))


def script_families(script_owners: set[str], installed: list[dict[str, Any]]) -> set[str]:
    """The packages (by the package manager's spelling) that ship an init script, and every
    installed package built from the same source: the packages whose file lists can hold the
    executable of an init script's daemon."""
    spelling = {p.get("binary") or p["name"]: p for p in installed}
    sources = {
        spelling[o].get("source") or spelling[o]["name"] for o in script_owners if o in spelling
    }
    return set(script_owners) | {
        b for b, p in spelling.items() if (p.get("source") or p["name"]) in sources
    }
