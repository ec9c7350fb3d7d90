# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find every libssl/libcrypto copy: dynamic linker cache, extra directories, mapped files."""

from __future__ import annotations

import os
import re
import time
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.procscan import (
    library_kind,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    parse_version_line,
)

LDCONFIG_RE = re.compile(
    r"^\s*(?P<name>\S+)\s+\((?P<flags>[^)]*)\)(?:\s+OS ABI:[^=]*)?\s+=>\s+(?P<path>/\S.*)$"
)
MAX_DEPTH = 8


def parse_ldconfig(text: str) -> list[dict[str, str]]:
    """``ldconfig -p`` lines of OpenSSL libraries: ``[{name, flags, path}]``."""
    found = []
    for line in text.splitlines():
        match = LDCONFIG_RE.match(line)
        if match and library_kind(match.group("path")):
            found.append(
                {
                    "name": match.group("name"),
                    "flags": match.group("flags"),
                    "path": match.group("path").strip(),
                }
            )
    return found


def walk_extra_dirs(
    dirs: list[str], budget: float, warnings: list[str], clock: Callable[[], float] = time.monotonic
) -> list[str]:
    """libssl/libcrypto files under ``dirs`` (depth-limited, symlinked dirs not followed)."""
    found: list[str] = []
    deadline = clock() + budget
    for top in dirs:
        stack = [(top, 0)]
        while stack:
            if clock() > deadline:
                warnings.append(
                    f"library search under {', '.join(dirs)} stopped after "
                    f"{budget:.1f}s; results may be incomplete"
                )
                return found
            directory, depth = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    items = list(entries)
            except OSError:
                continue
            for entry in items:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if depth < MAX_DEPTH:
                            stack.append((entry.path, depth + 1))
                    elif library_kind(entry.name) and entry.is_file():
                        found.append(entry.path)
                except OSError:
                    continue
    return sorted(found)


def _version_from_texts(texts: list[str]) -> dict[str, Any]:
    if not texts:
        return {"version_text": None, "implementation": None, "version": None, "series": None}
    parsed = parse_version_line(texts[0])
    return {
        "version_text": texts[0],
        "implementation": parsed["implementation"],
        "version": parsed["version"],
        "series": parsed["series"],
    }


def _soname_suffix(lib: dict[str, Any]) -> str:
    name = lib.get("soname") or os.path.basename(lib["real_path"])
    return name.split(".so", 1)[1] if ".so" in name else ""


def build_inventory(
    sources: list[tuple[str, str]], inspect: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per real file from ``[(path, origin)]``; aliases are merged.

    Versions come from the embedded version text; a libssl without one borrows the version of
    the libcrypto next to it with the same SONAME suffix (``version_source: sibling``).
    """
    by_real: dict[str, dict[str, Any]] = {}
    for path, origin in sources:
        real = os.path.realpath(path)
        kind = library_kind(real) or library_kind(path)
        if kind is None:
            continue
        lib = by_real.get(real)
        if lib is None:
            if not os.path.isfile(real):
                continue
            info = inspect(real)
            lib = {
                "path": path,
                "real_path": real,
                "paths": [path],
                "kind": kind,
                "soname": info.get("soname"),
                "build_id": info.get("build_id"),
                "version_source": "embedded" if info.get("version_texts") else None,
                "package": None,
                "package_version": None,
                "unpackaged": None,
                "origin": [origin],
                "leftover_series": False,
                "in_use": False,
                "error": info.get("error"),
            }
            lib.update(_version_from_texts(info.get("version_texts") or []))
            by_real[real] = lib
        else:
            if path not in lib["paths"]:
                lib["paths"].append(path)
            if origin not in lib["origin"]:
                lib["origin"].append(origin)
    libs = list(by_real.values())
    for lib in libs:
        if lib["version"] is None and lib["kind"] == "libssl":
            sibling = _sibling_crypto(lib, libs) or _sibling_on_disk(lib, inspect)
            if sibling is not None:
                for key in ("implementation", "version", "series"):
                    lib[key] = sibling[key]
                lib["version_source"] = "sibling"
    libs.sort(key=lambda lib: lib["real_path"])
    return libs


def _sibling_on_disk(
    lib: dict[str, Any], inspect: Callable[[str], dict[str, Any]]
) -> dict[str, Any] | None:
    """libcrypto.so<suffix> next to a libssl that is not in the inventory itself."""
    path = os.path.join(os.path.dirname(lib["real_path"]), "libcrypto.so" + _soname_suffix(lib))
    if not os.path.isfile(path):
        return None
    found = _version_from_texts(inspect(os.path.realpath(path)).get("version_texts") or [])
    return found if found["version"] else None


def _sibling_crypto(lib: dict[str, Any], libs: list[dict[str, Any]]) -> dict[str, Any] | None:
    directory = os.path.dirname(lib["real_path"])
    suffix = _soname_suffix(lib)
    for other in libs:
        if (
            other["kind"] == "libcrypto"
            and other["version"]
            and os.path.dirname(other["real_path"]) == directory
            and _soname_suffix(other) == suffix
        ):
            return other
    return None


def mark_leftovers(libs: list[dict[str, Any]]) -> None:
    """A packaged library of an older series than the newest packaged series is a leftover
    (e.g. libssl1.1 still installed on Debian 12)."""

    def key(series: str) -> tuple[int, ...]:
        return tuple(int(p) for p in series.split(".") if p.isdigit())

    series = [
        lib["series"]
        for lib in libs
        if lib["series"] and lib["package"] and lib["implementation"] == "openssl"
    ]
    if not series:
        return
    newest = max(series, key=key)
    for lib in libs:
        lib["leftover_series"] = bool(
            lib["series"]
            and lib["package"]
            and lib["implementation"] == "openssl"
            and key(lib["series"]) < key(newest)
        )
