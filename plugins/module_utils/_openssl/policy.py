# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""System TLS policy: the ``system_default`` section of openssl.cnf and RHEL crypto-policies.

Follows ``.include`` directives (files and directories, bounded depth) and the chain
``openssl_conf`` -> ``ssl_conf`` -> ``system_default`` the way OpenSSL's CONF module does.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

MAX_INCLUDE_DEPTH = 8
MAX_CONF_BYTES = 4 * 1024 * 1024
SECTION_RE = re.compile(r"^\s*\[\s*([^\]\s]+)\s*\]")
INCLUDE_RE = re.compile(r"^\s*\.include\s*=?\s*(\S+)")
PRAGMA_RE = re.compile(r"^\s*\.pragma\b")
SECLEVEL_RE = re.compile(r"@SECLEVEL=(\d+)")

Reader = Callable[[str], "str | None"]


def _default_reader(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_CONF_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def _include_targets(target: str, base_dir: str, listdir: Callable[[str], list[str]]) -> list[str]:
    path = target if os.path.isabs(target) else os.path.join(base_dir, target)
    try:
        names = listdir(path)
    except OSError:
        return [path]
    return [os.path.join(path, n) for n in sorted(names) if n.endswith((".cnf", ".conf"))]


def parse_conf(
    path: str,
    read: Reader = _default_reader,
    listdir: Callable[[str], list[str]] = os.listdir,
    warnings: list[str] | None = None,
) -> dict[str, dict[str, str]]:
    """Parse an OpenSSL config file into ``{section: {key: value}}`` (``default`` first)."""
    sections: dict[str, dict[str, str]] = {"default": {}}
    warnings = warnings if warnings is not None else []
    _parse_into(path, read, listdir, sections, "default", 0, warnings, set())
    return sections


def _parse_into(
    path: str,
    read: Reader,
    listdir: Callable[[str], list[str]],
    sections: dict[str, dict[str, str]],
    section: str,
    depth: int,
    warnings: list[str],
    seen: set[str],
) -> str:
    if depth > MAX_INCLUDE_DEPTH or path in seen:
        warnings.append(f"include loop or depth limit at {path}")
        return section
    seen.add(path)
    text = read(path)
    if text is None:
        if depth:
            warnings.append(f"included file not readable: {path}")
        return section
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() or PRAGMA_RE.match(line):
            continue
        inc = INCLUDE_RE.match(line)
        if inc:
            for target in _include_targets(inc.group(1), os.path.dirname(path), listdir):
                section = _parse_into(
                    target, read, listdir, sections, section, depth + 1, warnings, seen
                )
            continue
        sec = SECTION_RE.match(line)
        if sec:
            section = sec.group(1)
            sections.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        if sep:
            sections.setdefault(section, {})[key.strip()] = value.strip().strip('"')
    return section


def system_default(sections: dict[str, dict[str, str]]) -> dict[str, str]:
    init = sections.get("default", {}).get("openssl_conf")
    if not init:
        return {}
    ssl_sect = sections.get(init, {}).get("ssl_conf")
    if not ssl_sect:
        return {}
    default_sect = sections.get(ssl_sect, {}).get("system_default")
    if not default_sect:
        return {}
    return sections.get(default_sect, {})


def seclevel_from_flags(compiler_flags: str | None) -> int | None:
    match = re.search(r"-DOPENSSL_TLS_SECURITY_LEVEL=(\d+)", compiler_flags or "")
    return int(match.group(1)) if match else None


def gather(
    openssldir: str | None,
    compiler_flags: str | None = None,
    read: Reader = _default_reader,
    listdir: Callable[[str], list[str]] = os.listdir,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    warnings = warnings if warnings is not None else []
    conf = os.path.join(openssldir or "/usr/lib/ssl", "openssl.cnf")
    result: dict[str, Any] = {
        "openssl_cnf": None,
        "min_protocol": None,
        "max_protocol": None,
        "cipher_string": None,
        "ciphersuites": None,
        "seclevel": None,
        "seclevel_source": None,
        "crypto_policy": None,
    }
    if read(conf) is not None:
        result["openssl_cnf"] = os.path.realpath(conf)
        sect = system_default(parse_conf(conf, read, listdir, warnings))
        result["min_protocol"] = sect.get("MinProtocol")
        result["max_protocol"] = sect.get("MaxProtocol")
        result["cipher_string"] = sect.get("CipherString")
        result["ciphersuites"] = sect.get("Ciphersuites") or sect.get("CipherSuites")
        level = SECLEVEL_RE.search(result["cipher_string"] or "")
        if level:
            result["seclevel"] = int(level.group(1))
            result["seclevel_source"] = "openssl.cnf"
    if result["seclevel"] is None:
        built_in = seclevel_from_flags(compiler_flags)
        if built_in is not None:
            result["seclevel"] = built_in
            result["seclevel_source"] = "build default (-DOPENSSL_TLS_SECURITY_LEVEL)"
    policy = read("/etc/crypto-policies/config")
    if policy is not None:
        lines = [ln.strip() for ln in policy.splitlines() if ln.strip() and not ln.startswith("#")]
        result["crypto_policy"] = lines[0] if lines else None
    return result
