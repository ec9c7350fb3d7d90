# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backport evidence: CVE ids named in Debian and RPM package changelogs.

Each CVE id is attributed to the changelog entry it sits in. When several entries name the
same CVE (a fix, then a regression fix, then a re-import), ``cves`` maps the CVE to the
**oldest** entry naming it: that is the first package version the maintainers say carries the
fix. ``cve_entries`` keeps every entry (newest first) for audit.
"""

from __future__ import annotations

import gzip
import re
import zlib
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError

CVE_RE = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)
MAX_CHANGELOG_BYTES = 32 * 1024 * 1024

DEB_HEADER_RE = re.compile(
    r"^(?P<source>[a-z0-9][a-z0-9+.\-]*) \((?P<version>[^()\s]+)\) (?P<dists>[^;]*);(?P<meta>.*)$"
)
DEB_TRAILER_RE = re.compile(r"^ -- (?P<maint>.*?)  (?P<date>\S.*)$")
DEB_TRIMMED_MARK = "Older entries have been removed from this changelog"

RPM_HEADER_RE = re.compile(
    r"^\* (?P<dow>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<year>\d{4})"
    r"(?: +(?P<rest>.*))?$"
)
RPM_VERSION_RE = re.compile(r"^(?:\d+:)?[0-9][0-9A-Za-z.+~^_]*(?:-[0-9A-Za-z.+~^_]+)?$")


def _empty(fmt: str) -> dict[str, Any]:
    return {
        "format": fmt,
        "entries": 0,
        "top_version": None,
        "cves": {},
        "cve_entries": {},
        "trimmed": False,
        "warnings": [],
    }


def _attribute(result: dict[str, Any], version: str | None, text: str) -> None:
    for raw in CVE_RE.findall(text):
        cve = raw.upper()
        entries = result["cve_entries"].setdefault(cve, [])
        if version in entries:
            entries.remove(version)
        entries.append(version)
        # entries are newest first: the last one seen is the oldest naming the CVE
        result["cves"][cve] = version


def parse_debian_changelog(text: str) -> dict[str, Any]:
    """Parse a ``changelog.Debian`` text. Raises :class:`ParseError` if no entry is found."""
    if not isinstance(text, str):
        raise ParseError("changelog text must be a string")
    result = _empty("debian")
    version = None
    body: list[str] = []
    for line in text.splitlines():
        header = DEB_HEADER_RE.match(line)
        if header:
            if version is not None:
                _attribute(result, version, "\n".join(body))
            version = header.group("version")
            body = []
            result["entries"] += 1
            if result["top_version"] is None:
                result["top_version"] = version
            continue
        if DEB_TRIMMED_MARK in line:
            result["trimmed"] = True
            continue
        if version is not None and not DEB_TRAILER_RE.match(line):
            body.append(line)
    if version is not None:
        _attribute(result, version, "\n".join(body))
    if not result["entries"]:
        raise ParseError("no Debian changelog entry found")
    return result


def _rpm_entry_version(rest: str | None) -> str | None:
    """Version-release after the packager: ``Name <mail> - 1:3.0.7-28`` / ``<mail> 1.1.1g-9``."""
    if not rest:
        return None
    tail = rest.rsplit(">", 1)[1] if ">" in rest else rest
    tail = tail.strip()
    if tail.startswith("-"):
        tail = tail[1:].strip()
    if not tail:
        return None
    candidate = tail.split()[-1]
    return candidate if RPM_VERSION_RE.match(candidate) else None


def parse_rpm_changelog(text: str) -> dict[str, Any]:
    """Parse ``rpm -q --changelog`` output (or a spec's %changelog).

    Raises :class:`ParseError` if no entry header is found.
    """
    if not isinstance(text, str):
        raise ParseError("changelog text must be a string")
    result = _empty("rpm")
    result["unversioned_entries"] = 0
    version: str | None = None
    started = False
    body: list[str] = []
    for line in text.splitlines():
        header = RPM_HEADER_RE.match(line)
        if header:
            if started:
                _attribute(result, version, "\n".join(body))
            version = _rpm_entry_version(header.group("rest"))
            if version is None:
                result["unversioned_entries"] += 1
            started = True
            body = []
            result["entries"] += 1
            if result["top_version"] is None:
                result["top_version"] = version
            continue
        if started:
            body.append(line)
    if started:
        _attribute(result, version, "\n".join(body))
    if not result["entries"]:
        raise ParseError("no RPM changelog entry found")
    return result


def read_gzip_text(path: str, limit: int = MAX_CHANGELOG_BYTES) -> str:
    """Read a (possibly gzip-compressed) text file, bounded. Raises OSError / ParseError."""
    with open(path, "rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(limit + 1)
            except (OSError, EOFError, zlib.error) as exc:
                raise ParseError(f"corrupt gzip file {path}: {exc}") from exc
        else:
            data = fh.read(limit + 1)
    if len(data) > limit:
        raise ParseError(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8", "replace")
