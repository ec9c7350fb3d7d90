# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse OpenSSL version texts.

Understands the first line of ``openssl version`` (``OpenSSL 3.0.19 27 Jan 2026 (Library:
OpenSSL 3.0.19 27 Jan 2026)``), the extra lines of ``openssl version -a``, the version text a
library embeds (``OpenSSL 1.1.1w  11 Sep 2023``) and the output of ``openssl list -providers``.

Look-alikes are never reported as an upstream OpenSSL version: LibreSSL, BoringSSL and AWS-LC
(``OpenSSL 1.1.1 (compatible; BoringSSL)``) get ``version: None`` and their own
``implementation``; quictls (``+quic`` build metadata) keeps its upstream base version.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError

MAX_TEXT = 1_000_000
MAX_LINE = 4096

_MONTHS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "May": 5,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}

# "3.0.19", "1.0.2k", "0.9.8za", "3.0.0-alpha17", "1.1.1-pre9", "0.9.7-beta3", "3.2.0-dev",
# "3.1.4+quic", "1.0.1e-fips"
VERSION_RE = re.compile(
    r"(?P<base>\d{1,3}\.\d{1,3}\.\d{1,3}(?P<letters>[a-z]{0,3}))"
    r"(?P<pre>-(?:alpha|beta|pre|dev|rc)\d*)?"
    r"(?P<fipsdash>-fips)?"
    r"(?P<meta>\+[0-9A-Za-z][0-9A-Za-z.\-]*)?$"
)
_DATE_RE = re.compile(r"\b(?P<day>\d{1,2}) (?P<mon>[A-Z][a-z]{2}) (?P<year>\d{4})\b|xx XXX xxxx")
_NAME_RE = re.compile(
    r"^(?P<name>OpenSSL|LibreSSL|BoringSSL|AWS-LC|quictls)\s+(?P<ver>\S+)(?P<rest>.*)$"
)
_COMPAT_RE = re.compile(r"\(compatible;\s*(?P<inner>[^)]*)\)")
_LIBRARY_RE = re.compile(r"^(?P<cli>.*?)\s*\(Library:\s*(?P<lib>[^)]*)\)\s*(?P<after>.*)$")
_A_KEYS = {
    "built on": "built_on",
    "platform": "platform",
    "options": "options",
    "compiler": "compiler_flags",
    "OPENSSLDIR": "openssldir",
    "ENGINESDIR": "enginesdir",
    "MODULESDIR": "modulesdir",
    "Seeding source": "seeding_source",
    "CPUINFO": "cpuinfo",
}


def series_of(version: str | None) -> str | None:
    """Return the release-branch key of an upstream version: "3.0", "1.1.1", "1.0.2"."""
    if not version:
        return None
    match = re.match(r"^(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        return None
    major, minor, fix = (int(part) for part in match.groups())
    if major >= 3:
        return f"{major}.{minor}"
    return f"{major}.{minor}.{fix}"


def _iso_date(text: str | None) -> str | None:
    if not text:
        return None
    match = _DATE_RE.search(text)
    if not match or match.group("day") is None:
        return None
    month = _MONTHS.get(match.group("mon"))
    day = int(match.group("day"))
    if month is None or not 1 <= day <= 31:
        return None
    return f"{match.group('year')}-{month:02d}-{day:02d}"


def _parse_part(text: str) -> dict[str, Any]:
    """Parse one "<Name> <version> [FIPS] [<date>] [extra]" text (no Library part)."""
    text = " ".join(text.split())
    result: dict[str, Any] = {
        "text": text,
        "name": None,
        "version": None,
        "raw_version": None,
        "fips": False,
        "build_date": None,
        "build_date_iso": None,
        "prerelease": None,
        "build_metadata": None,
        "extra": None,
        "valid": False,
    }
    match = _NAME_RE.match(text)
    if not match:
        return result
    result["name"] = match.group("name")
    raw = match.group("ver")
    result["raw_version"] = raw
    rest = match.group("rest").strip()
    vmatch = VERSION_RE.match(raw)
    if vmatch:
        result["valid"] = True
        version = vmatch.group("base") + (vmatch.group("pre") or "")
        meta = vmatch.group("meta")
        if meta:
            version += meta
            result["build_metadata"] = meta[1:]
        result["version"] = version
        if vmatch.group("pre"):
            result["prerelease"] = vmatch.group("pre")[1:]
        if vmatch.group("fipsdash"):
            result["fips"] = True
    if re.search(r"\bFIPS\b", rest):
        result["fips"] = True
        rest = re.sub(r"\bFIPS\b", "", rest).strip()
    dmatch = _DATE_RE.search(rest)
    if dmatch:
        result["build_date"] = dmatch.group(0)
        result["build_date_iso"] = _iso_date(dmatch.group(0))
        rest = (rest[: dmatch.start()] + " " + rest[dmatch.end() :]).strip()
    result["extra"] = " ".join(rest.split()) or None
    return result


def _empty_result(raw: str) -> dict[str, Any]:
    return {
        "raw": raw,
        "implementation": "unknown",
        "implementation_version": None,
        "compatible_with": None,
        "version": None,
        "series": None,
        "cli_version": None,
        "library_version": None,
        "cli_version_text": None,
        "library_version_text": None,
        "fips": False,
        "build_date": None,
        "build_date_iso": None,
        "library_build_date": None,
        "prerelease": None,
        "build_metadata": None,
        "vendor_suffix": None,
        "warnings": [],
    }


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:MAX_LINE]
    return ""


def _apply_compatible(result: dict[str, Any], line: str) -> bool:
    """BoringSSL / AWS-LC: ``OpenSSL 1.1.1 (compatible; AWS-LC 1.2.3)``. Must run first."""
    compat = _COMPAT_RE.search(line)
    if not compat:
        return False
    inner = compat.group("inner").strip()
    before = _parse_part(line[: compat.start()])
    result["compatible_with"] = before["version"]
    if inner.lower().startswith("boringssl"):
        result["implementation"] = "boringssl"
    elif inner.upper().startswith("AWS-LC"):
        result["implementation"] = "aws-lc"
        vmatch = re.search(r"\d+\.\d+\.\d+\S*", inner)
        result["implementation_version"] = vmatch.group(0) if vmatch else None
    else:
        result["implementation"] = "unknown"
        result["warnings"].append(f"unknown OpenSSL-compatible implementation: {inner!r}")
    result["cli_version_text"] = line
    return True


def _implementation(part: dict[str, Any]) -> str:
    name = part["name"]
    if name == "LibreSSL":
        return "libressl"
    if name == "BoringSSL":
        return "boringssl"
    if name == "AWS-LC":
        return "aws-lc"
    if name == "quictls" or (part["build_metadata"] or "").lower().startswith("quic"):
        return "quictls"
    if name == "OpenSSL" and part["valid"]:
        return "openssl"
    return "unknown"


def parse_version_line(text: str) -> dict[str, Any]:
    """Parse a version text leniently: never raises; unknown input gives implementation unknown.

    ``version`` is the runtime library's upstream version (the ``Library:`` part when present),
    ``cli_version`` the version the CLI was built against.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    line = _first_line(text[:MAX_TEXT])
    result = _empty_result(line)
    if not line:
        result["warnings"].append("empty version text")
        return result
    if _apply_compatible(result, line):
        return result
    lib_match = _LIBRARY_RE.match(line)
    cli = _parse_part(lib_match.group("cli") if lib_match else line)
    lib = _parse_part(lib_match.group("lib")) if lib_match else cli
    if cli["name"] is None and lib["name"] is None:
        result["warnings"].append(f"not an OpenSSL version text: {line[:120]!r}")
        return result
    impl = _implementation(lib if lib["name"] else cli)
    result["implementation"] = impl
    result["cli_version_text"] = cli["text"] if cli["name"] else None
    result["library_version_text"] = lib["text"] if lib["name"] else None
    result["fips"] = bool(cli["fips"] or lib["fips"])
    result["build_date"] = cli["build_date"]
    result["build_date_iso"] = cli["build_date_iso"]
    result["library_build_date"] = lib["build_date"]
    result["prerelease"] = lib["prerelease"]
    result["build_metadata"] = lib["build_metadata"]
    result["vendor_suffix"] = (
        lib["extra"]
        or cli["extra"]
        or (lib_match.group("after") if lib_match and lib_match.group("after") else None)
    )
    if impl in ("libressl", "boringssl", "aws-lc"):
        result["implementation_version"] = lib["version"] or lib["raw_version"]
        return result
    if impl == "unknown":
        result["warnings"].append(f"unrecognised version in {line[:120]!r}")
        return result
    if impl == "quictls":
        result["implementation_version"] = lib["version"]
    result["cli_version"] = cli["version"]
    result["library_version"] = lib["version"]
    result["version"] = lib["version"]
    result["series"] = series_of(lib["version"])
    return result


def parse_version_text(text: str) -> dict[str, Any]:
    """Strict variant of :func:`parse_version_line` plus the ``-a`` fields.

    Raises :class:`ParseError` when the text holds no recognisable implementation.
    """
    result = parse_version_line(text)
    if result["implementation"] == "unknown":
        raise ParseError("; ".join(result["warnings"]) or "unrecognised OpenSSL version text")
    result.update(parse_version_all(text))
    return result


def parse_version_all(text: str) -> dict[str, Any]:
    """Parse the ``key: value`` lines of ``openssl version -a``."""
    fields: dict[str, Any] = {value: None for value in _A_KEYS.values()}
    extra: dict[str, str] = {}
    if not isinstance(text, str):
        return {**fields, "other_fields": extra}
    for line in text[:MAX_TEXT].splitlines()[1:200]:
        if ":" not in line:
            continue
        key, _sep, value = line.partition(":")
        key = key.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        target = _A_KEYS.get(key)
        if target:
            fields[target] = value
        elif key and len(key) < 40:
            extra[key] = value
    fields["other_fields"] = extra
    return fields


def parse_providers(text: str) -> list[dict[str, Any]]:
    """Parse ``openssl list -providers`` (3.x). Older CLIs print an error: that gives ``[]``."""
    providers: list[dict[str, Any]] = []
    if not isinstance(text, str) or "Providers:" not in text:
        return providers
    current: dict[str, Any] | None = None
    for line in text[:MAX_TEXT].splitlines():
        if not line.strip() or line.strip() == "Providers:":
            continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent <= 2 and ":" not in stripped:
            current = {"id": stripped, "name": None, "version": None, "status": None}
            providers.append(current)
        elif current is not None and ":" in stripped:
            key, _sep, value = stripped.partition(":")
            if key.strip() in ("name", "version", "status", "buildinfo"):
                current[key.strip()] = value.strip()
    return providers


def fips_active(providers: list[dict[str, Any]]) -> bool:
    """True when a FIPS provider is loaded and active."""
    for prov in providers:
        ident = (prov.get("id") or "").lower()
        name = (prov.get("name") or "").lower()
        if (ident == "fips" or "fips" in name) and (prov.get("status") or "active") == "active":
            return True
    return False


# Embedded version texts inside binaries (bytes). A date is required for OpenSSL so that
# help texts ("OpenSSL 3.0 or later") do not count.
EMBEDDED_RE = re.compile(
    rb"(?:OpenSSL \d{1,3}\.\d{1,3}\.\d{1,3}[a-z]{0,3}(?:-[a-z]+\d*)?(?:\+[0-9A-Za-z.]+)?"
    rb"(?:-fips)? {1,2}(?:FIPS {1,2})?(?:\d{1,2} [A-Z][a-z]{2} \d{4}|xx XXX xxxx)"
    rb"|LibreSSL \d{1,3}\.\d{1,3}\.\d{1,3}(?=\x00)"
    rb"|AWS-LC \d{1,3}\.\d{1,3}\.\d{1,3}(?=\x00))"
)
