# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in search for vendored or static OpenSSL copies under ``scan_paths``.

Walks the given directories (no symlinked directories, no other file systems' pseudo files),
looks at regular ELF files only and scans them for an embedded version text. The walk stops
when the time budget is spent; the result says whether it was complete.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.elf import (
    ELF_MAGIC,
    find_version_texts,
    read_elf_info,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.procscan import (
    library_kind,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    parse_version_line,
)

MIN_SIZE = 4096
MAX_SIZE = 2 * 1024 * 1024 * 1024
SKIP_DIRS = frozenset({"/proc", "/sys", "/dev", "/run"})


def _walk(top: str, deadline: float, clock: Callable[[], float], state: dict[str, Any]):
    stack = [top]
    while stack:
        if clock() > deadline:
            state["complete"] = False
            return
        directory = stack.pop()
        if directory in SKIP_DIRS:
            continue
        try:
            with os.scandir(directory) as entries:
                items = list(entries)
        except OSError as exc:
            state["errors"] += 1
            if exc.errno not in (2, 20):
                state["last_error"] = f"{directory}: {exc.strerror or exc}"
            continue
        for entry in items:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry
            except OSError:
                state["errors"] += 1


def scan(
    paths: list[str],
    budget: float,
    skip: set[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Return ``{found: [...], scan: {paths, budget_seconds, elapsed_seconds, complete,
    files_examined}}``."""
    skip = skip or set()
    start = clock()
    deadline = start + max(0.0, budget)
    state: dict[str, Any] = {"complete": True, "errors": 0, "last_error": None}
    found: list[dict[str, Any]] = []
    examined = linked = 0
    seen: set[tuple[int, int]] = set()
    for top in paths:
        for entry in _walk(top, deadline, clock, state):
            if clock() > deadline:
                state["complete"] = False
                break
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not MIN_SIZE <= st.st_size <= MAX_SIZE:
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in seen or os.path.realpath(entry.path) in skip:
                continue
            seen.add(ident)
            examined += 1
            texts, links_openssl = _texts(entry.path)
            if texts and links_openssl:
                # the text is the compile-time header version of a program that loads the
                # system libcrypto at run time: not a copy of OpenSSL
                linked += 1
            elif texts:
                parsed = parse_version_line(texts[0])
                found.append(
                    {
                        "path": entry.path,
                        "version_text": texts[0],
                        "other_version_texts": texts[1:],
                        "implementation": parsed["implementation"],
                        "version": parsed["version"],
                        "series": parsed["series"],
                        "package": None,
                    }
                )
        if not state["complete"]:
            break
    elapsed = round(clock() - start, 3)
    return {
        "found": found,
        "scan": {
            "paths": list(paths),
            "budget_seconds": budget,
            "elapsed_seconds": elapsed,
            "complete": state["complete"],
            "files_examined": examined,
            "dynamically_linked_skipped": linked,
            "errors": state["errors"],
            "last_error": state["last_error"],
        },
    }


def _texts(path: str) -> tuple[list[str], bool]:
    """(embedded version texts, whether the file links a shared libssl/libcrypto)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != ELF_MAGIC:
                return [], False
            texts = find_version_texts(fh)
            if not texts:
                return [], False
            try:
                needed = read_elf_info(fh).get("needed") or []
            except ParseError:
                needed = []
            return texts, any(library_kind(n) for n in needed)
    except OSError:
        return [], False
