# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Language runtimes and the OpenSSL they are linked to (Python 3: ``ssl.OPENSSL_VERSION``).

``ssl.OPENSSL_VERSION_INFO`` is not used: it decodes 3.x version numbers with the pre-3.0
scheme (3.0.19 becomes ``(3, 0, 0, 19, 0)``).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    parse_version_line,
)

PYTHON_RE = re.compile(r"^python3(?:\.\d{1,2})?$")
COMMON_DIRS = ("/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/usr/local/sbin", "/opt/bin")
MAX_INTERPRETERS = 32
PROBE = "import ssl; print(ssl.OPENSSL_VERSION)"


def find_pythons(
    path_env: str | None,
    extra_dirs: tuple[str, ...] = COMMON_DIRS,
    listdir: Callable[[str], list[str]] = os.listdir,
) -> list[str]:
    """Every ``python3``/``python3.N`` executable on PATH and in common dirs, one per real file."""
    dirs = [d for d in (path_env or "").split(os.pathsep) if d] + list(extra_dirs)
    found: list[str] = []
    seen_real: set[str] = set()
    for directory in dict.fromkeys(dirs):
        try:
            names = sorted(listdir(directory))
        except OSError:
            continue
        for name in names:
            if not PYTHON_RE.match(name):
                continue
            path = os.path.join(directory, name)
            real = os.path.realpath(path)
            if real in seen_real or not os.access(path, os.X_OK) or not _is_elf(real):
                continue
            seen_real.add(real)
            found.append(path)
            if len(found) >= MAX_INTERPRETERS:
                return found
    return found


def _is_elf(path: str) -> bool:
    """Interpreters are ELF files; wrapper scripts (pyenv shims, venv launchers) are skipped."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def _own_openssl_version() -> str:
    """``ssl.OPENSSL_VERSION`` of the interpreter running this code (no process started)."""
    import ssl

    return ssl.OPENSSL_VERSION + "\n"


def _is_running_interpreter(path: str, running: str | None) -> bool:
    if not running:
        return False
    try:
        return os.path.realpath(path) == os.path.realpath(running)
    except (OSError, ValueError):
        return False


def probe(
    paths: list[str],
    run: Callable[[list], tuple],
    warnings: list[str],
    running: str | None = sys.executable,
    own_version: Callable[[], str] = _own_openssl_version,
) -> list[dict[str, Any]]:
    """Probe each interpreter. The interpreter that runs this code (``running``, by real path)
    is answered in-process with its own ``ssl.OPENSSL_VERSION``: same binary, same ``_ssl``
    module, no second interpreter start."""
    runtimes = []
    for path in paths:
        if _is_running_interpreter(path, running):
            try:
                rc, out, err = 0, own_version(), ""
            except ImportError as exc:  # an interpreter built without _ssl
                rc, out, err = 1, "", f"{type(exc).__name__}: {exc}"
        else:
            rc, out, err = run([path, "-I", "-c", PROBE])
        if rc != 0:
            detail = (err or out).strip().splitlines()
            warnings.append(f"{path}: cannot import ssl ({detail[-1][:120] if detail else rc})")
            runtimes.append(
                {
                    "path": path,
                    "real_path": os.path.realpath(path),
                    "language": "python",
                    "version_text": None,
                    "implementation": None,
                    "version": None,
                    "error": detail[-1][:200] if detail else f"exit {rc}",
                }
            )
            continue
        parsed = parse_version_line(out)
        runtimes.append(
            {
                "path": path,
                "real_path": os.path.realpath(path),
                "language": "python",
                "version_text": parsed["raw"] or None,
                "implementation": parsed["implementation"],
                "version": parsed["version"],
                "error": None,
            }
        )
    return runtimes
