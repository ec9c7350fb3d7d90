# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the vulnerability database from OpenSSL's published records.

Input: a copy of github.com/openssl/release-metadata (``secjson/CVE-*.json``,
``secjson/statements.json``, ``secadv/*.txt``, ``data.json``) and optionally the legacy
``news/vulnerabilities.xml`` of github.com/openssl/web (last version, June 2022).
Output: the database object of docs/vulndb.md, serialised deterministically by :func:`dumps_db`.

Every quirk of the upstream data (docs/vulndb.md, "Quirks") is handled here, each with a
``note`` in the output so a reader can see what was changed and why. Runs on the controller
(CLI ``tools/build-vulndb`` and the action plugin ``openssl_vulndb_update``); standard library
only. Commands (``git``) run through an injected ``run(argv) -> (rc, out, err)`` callable.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    VersionError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versions import (
    FIPS_MODULE,
    OpenSSLVersion,
    branch_first_release,
    branch_sort_key,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.vulndb import (
    FORMAT,
    validate_db,
    validate_record,
)

RunFn = Callable[[list], "tuple[int, str, str]"]

REPOSITORY = "https://github.com/openssl/release-metadata"
LEGACY_REPOSITORY = "https://github.com/openssl/web"
LEGACY_PATH = "news/vulnerabilities.xml"
ATTRIBUTION = (
    "Vulnerability data \u00a9 The OpenSSL Project, Apache-2.0 (openssl/openssl#17830: the "
    "OpenSSL maintainers license the vulnerability data of openssl.org under Apache 2.0). "
    "Converted from github.com/openssl/release-metadata (and the 2022 news/vulnerabilities.xml "
    "of github.com/openssl/web) by patchwise.openssl; see data/NOTICE.md."
)

# Branches before 3.0 (data.json covers 3.0 and later). Dates: OpenSSL release-strategy page
# history; 0.9.6 / 0.9.7 release dates from the header of the legacy vulnerabilities.xml, their
# end of support was never dated (statements.json only says "out of support").
PRE3_BRANCHES: dict[str, dict[str, Any]] = {
    "0.9.6": {"released": "2000-09-24", "eol": None, "lts": False, "premium": False},
    "0.9.7": {"released": "2002-12-31", "eol": None, "lts": False, "premium": False},
    "0.9.8": {"released": "2005-07-05", "eol": "2015-12-31", "lts": False, "premium": False},
    "1.0.0": {"released": "2010-03-29", "eol": "2015-12-31", "lts": False, "premium": False},
    "1.0.1": {"released": "2012-03-14", "eol": "2016-12-31", "lts": False, "premium": False},
    "1.0.2": {"released": "2015-01-22", "eol": "2019-12-31", "lts": True, "premium": True},
    "1.1.0": {"released": "2016-08-25", "eol": "2019-09-11", "lts": False, "premium": False},
    "1.1.1": {"released": "2018-09-11", "eol": "2023-09-11", "lts": True, "premium": True},
}
# Last public release of the branches with premium support; later fixes are premium-only.
LAST_PUBLIC_RELEASE = {"1.0.2": "1.0.2u", "1.1.1": "1.1.1w"}

_SEVERITY = {"critical": "critical", "high": "high", "moderate": "moderate", "low": "low"}
_RATINGS_START = "2014-10-01"  # OpenSSL rated no issue before its October 2014 policy
_MONTHS = {
    name: index
    for index, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_CVE_RE = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_MAX_JSON_BYTES = 4 * 1024 * 1024
_MAX_XML_BYTES = 16 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# small helpers


def _err(origin: Any, field: str, problem: str) -> DatabaseError:
    return DatabaseError(f"{origin}: {field}: {problem}")


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > _MAX_JSON_BYTES:
            raise _err(path, "file", "too large")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _err(path, "file", f"cannot read ({exc.strerror})") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _err(path, "file", f"not valid JSON ({exc})") from exc


def _get(data: Any, origin: Any, *keys: Any) -> Any:
    """``data[k1][k2]...`` or a DatabaseError naming the missing field."""
    where = ""
    for key in keys:
        where += f"[{key}]" if isinstance(key, int) else (f".{key}" if where else key)
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise _err(origin, where, "missing or wrong type") from exc
    return data


def _list_of(container: dict, key: str, origin: Any, where: str) -> list:
    """``container[key]`` (default ``[]``) or a DatabaseError when it is not a list."""
    value = container.get(key, [])
    if not isinstance(value, list):
        raise _err(origin, where, f"expected a list, got {type(value).__name__}")
    return value


def _parse_version(text: Any, origin: Any, field: str) -> OpenSSLVersion:
    try:
        return OpenSSLVersion.parse(text)
    except VersionError as exc:
        raise _err(origin, field, str(exc)) from exc


def parse_upstream_date(text: Any, origin: Any = "data.json", field: str = "date") -> tuple:
    """Parse ``14 Apr 2026``, ``Oct 2027`` (month only) or ``2026-04-14``.

    Returns ``(iso_date, precision)`` with precision ``day`` or ``month`` (first of the month).
    """
    if not isinstance(text, str):
        raise _err(origin, field, f"expected a date string, got {text!r}")
    value = text.strip()
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return datetime.date.fromisoformat(value).isoformat(), "day"
        match = re.fullmatch(
            r"(?:([0-9]{1,2})(?:st|nd|rd|th)? )?([A-Za-z]{3})[a-z]* ([0-9]{4})", value
        )
        if match and match.group(2).lower() in _MONTHS:
            month = _MONTHS[match.group(2).lower()]
            day = int(match.group(1) or 1)
            iso = datetime.date(int(match.group(3)), month, day).isoformat()
            return iso, "day" if match.group(1) else "month"
    except ValueError as exc:
        raise _err(origin, field, f"invalid date {text!r}") from exc
    raise _err(origin, field, f"unrecognised date {text!r}")


def _iso_datetime(text: str) -> datetime.datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _unwrap(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------------------------
# provenance


def parse_sources_file(text: str) -> list:
    """Blocks of ``key : value`` lines of a SOURCES.txt provenance file (blank-line separated)."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text):
        fields = {}
        for line in chunk.splitlines():
            match = re.match(r"\s*([A-Za-z0-9_]+)\s+:\s+(.*\S)\s*$", line)
            if match:
                fields[match.group(1).lower()] = match.group(2)
        fields["_text"] = chunk
        blocks.append(fields)
    return blocks


def _sources_commit(value: str) -> tuple:
    """``<sha>  (2026-06-10 09:47:25 +0200)`` -> (sha, ISO date or None)."""
    sha = _SHA_RE.search(value)
    date = re.search(
        r"\(([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9:]{8}) ([+-][0-9]{2})([0-9]{2})\)", value
    )
    iso = None
    if date:
        iso = f"{date.group(1)}T{date.group(2)}{date.group(3)}:{date.group(4)}"
    return (sha.group(0) if sha else None), iso


def _find_sources_file(src: Path) -> Path | None:
    for candidate in (src / "SOURCES.txt", src.parent / "SOURCES.txt"):
        if candidate.is_file():
            return candidate
    return None


def _git_provenance(src: Path, run: RunFn | None) -> dict | None:
    if run is None:
        return None
    rc, out, _err = run(["git", "-C", str(src), "rev-parse", "--show-toplevel"])
    if rc != 0 or Path(out.strip()).resolve() != src.resolve():
        return None  # not a checkout of its own (maybe inside an unrelated repository)
    rc, out, err = run(["git", "-C", str(src), "log", "-1", "--format=%H%n%cI"])
    lines = out.split()
    if rc != 0 or len(lines) != 2 or not _SHA_RE.fullmatch(lines[0]):
        raise DatabaseError(f"{src}: git log failed: {err.strip() or out.strip()}")
    return {"commit": lines[0], "commit_date": lines[1], "from": "git"}


def read_provenance(
    src: Path,
    run: RunFn | None = None,
    commit: str | None = None,
    commit_date: str | None = None,
) -> dict:
    """Source commit and date: explicit parameters, else a git checkout, else SOURCES.txt."""
    if commit or commit_date:
        if not (commit and commit_date):
            raise DatabaseError("provenance: give both commit and commit_date")
        try:
            _iso_datetime(commit_date)
        except ValueError as exc:
            raise DatabaseError(f"provenance: commit_date {commit_date!r} is not ISO 8601") from exc
        return {"commit": commit, "commit_date": commit_date, "from": "parameters"}
    found = _git_provenance(src, run)
    if found:
        return found
    sources = _find_sources_file(src)
    if sources is not None:
        for block in parse_sources_file(sources.read_text(encoding="utf-8", errors="replace")):
            if "release-metadata" in block.get("repository", "") and "commit" in block:
                sha, date = _sources_commit(block["commit"])
                if sha and date:
                    return {"commit": sha, "commit_date": date, "from": str(sources)}
    raise DatabaseError(
        f"{src}: provenance unknown: not a git checkout and no SOURCES.txt naming the "
        "release-metadata commit; pass commit and commit_date explicitly"
    )


def legacy_provenance(xml_path: Path, sha256: str) -> dict:
    """Commit of the legacy XML from a SOURCES.txt next to it (only if its sha256 matches)."""
    info: dict[str, Any] = {"commit": None, "sha256": sha256, "path": LEGACY_PATH}
    for candidate in (xml_path.parent / "SOURCES.txt", xml_path.parent.parent / "SOURCES.txt"):
        if not candidate.is_file():
            continue
        for block in parse_sources_file(candidate.read_text(encoding="utf-8", errors="replace")):
            if block.get("sha256", "").lower() == sha256 and "commit" in block:
                info["commit"] = _sources_commit(block["commit"])[0]
                return info
    return info


# --------------------------------------------------------------------------------------------
# advisories (secadv/*.txt)


def _advisory_sections(text: str) -> dict:
    """Map CVE id -> the text of its section in a multi-issue advisory."""
    lines = text.splitlines()
    heads = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"\s*[=-]{3,}\s*", lines[i + 1])
    ]
    sections: dict[str, str] = {}
    for n, start in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        body = "\n".join(lines[start:end])
        for cve in _CVE_RE.findall(lines[start]):
            sections.setdefault(cve, body)
    mentioned = set(_CVE_RE.findall(text))
    if len(mentioned) == 1 and not sections:
        sections[mentioned.pop()] = text
    return sections


def load_advisories(secadv: Path) -> dict:
    """``{file name: {"text": str, "sections": {cve: text}}}`` for ``secadv/*.txt``."""
    out = {}
    if not secadv.is_dir():
        return out
    for path in sorted(secadv.glob("*.txt")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise _err(path, "file", f"cannot read ({exc.strerror})") from exc
        out[path.name] = {"text": text, "sections": _advisory_sections(text)}
    return out


_BRANCH_LIST = r"((?:[0-9]+\.[0-9]+(?:\.[0-9]+)?(?:\.x)?(?:,? (?:and )?)?)+)"
_NOT_AFFECTED_RE = re.compile(
    r"OpenSSL (?:versions? )?" + _BRANCH_LIST + r" (?:is|are) not affected by this issue"
)
_VULNERABLE_RE = re.compile(r"OpenSSL (?:versions? )?" + _BRANCH_LIST + r" (?:is|are) vulnerable")
_UPGRADE_RE = re.compile(
    r"OpenSSL ([0-9]+\.[0-9]+(?:\.[0-9]+)?) users should upgrade to "
    r"(?:OpenSSL )?([0-9][0-9a-z.]+[0-9a-z])"
)


def _branches_in(listing: str) -> list:
    names = []
    for item in re.findall(r"[0-9]+\.[0-9]+(?:\.[0-9]+)?", listing):
        parts = item.split(".")
        if int(parts[0]) >= 3:
            item = ".".join(parts[:2])
        try:
            branch_sort_key(item)
        except VersionError:
            continue
        names.append(item)
    return names


def advisory_facts(section: str | None) -> dict:
    """Statements of one advisory section: branches said to be (not) affected, upgrade targets."""
    if not section:
        return {"not_affected": [], "vulnerable": [], "upgrade": {}}
    text = _unwrap(section)
    upgrade = {}
    for branch, target in _UPGRADE_RE.findall(text):
        upgrade.setdefault(branch, target)
    return {
        "not_affected": sorted(
            {b for m in _NOT_AFFECTED_RE.findall(text) for b in _branches_in(m)},
            key=branch_sort_key,
        ),
        "vulnerable": sorted(
            {b for m in _VULNERABLE_RE.findall(text) for b in _branches_in(m)}, key=branch_sort_key
        ),
        "upgrade": upgrade,
    }


# --------------------------------------------------------------------------------------------
# legacy XML


def _safe_xml(raw: bytes, origin: Any) -> ET.Element:
    if len(raw) > _MAX_XML_BYTES:
        raise _err(origin, "file", "too large")
    if re.search(rb"<!(DOCTYPE|ENTITY)", raw, re.IGNORECASE):
        raise _err(origin, "file", "DTDs and entities are refused in the legacy XML")
    try:
        return ET.fromstring(raw)  # noqa: S314 -- no DTD/entities (checked above), size capped
    except (ET.ParseError, ValueError, LookupError) as exc:  # unknown or multi-byte encoding
        raise _err(origin, "file", f"not well-formed XML ({exc})") from exc


def load_legacy_xml(path: Path) -> tuple:
    """Parse the legacy XML: ``({cve: {"affects": {base: [versions]}, "fixed": {base: ver}}},
    sha256, warnings)``."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # a gzip-compressed copy (e.g. vulnerabilities.xml.gz)
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
                raw = gz.read(_MAX_XML_BYTES + 1)  # bounded: _safe_xml refuses the excess
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _err(path, "file", f"cannot read ({reason})") from exc
    root = _safe_xml(raw, path)
    if root.tag != "security":
        raise _err(path, "root element", f"expected <security>, got <{root.tag}>")
    issues: dict[str, Any] = {}
    warnings = []
    for number, issue in enumerate(root.iter("issue"), 1):
        names = [c.get("name", "") for c in issue.findall("cve")]
        if not names or not all(names):
            warnings.append(f"{path.name}: issue #{number} ({issue.get('public')}) has no CVE id")
            continue
        affects: dict[str, list] = {}
        for element in issue.findall("affects"):
            base, version = element.get("base"), element.get("version")
            if not base or not version:
                raise _err(path, f"issue #{number} <affects>", "base and version required")
            affects.setdefault(base, []).append(_parse_version(version, path, f"CVE-{names[0]}"))
        fixed = {}
        for element in issue.findall("fixed"):
            base, version = element.get("base"), element.get("version")
            if not base or not version:
                raise _err(path, f"issue #{number} <fixed>", "base and version required")
            fixed[base] = _parse_version(version, path, f"CVE-{names[0]}")
        for name in names:
            issues[f"CVE-{name}"] = {"affects": affects, "fixed": fixed}
    return issues, hashlib.sha256(raw).hexdigest(), warnings


# --------------------------------------------------------------------------------------------
# one CVE record


def _severity(record: Any, origin: Path, published: str) -> tuple:
    metrics = _get(record, origin, "containers", "cna", "metrics")
    if not isinstance(metrics, list):
        raise _err(origin, "containers.cna.metrics", "expected a list")
    texts = []
    for m in metrics:
        if isinstance(m, dict) and m.get("format") == "other":
            other = m.get("other")
            content = other.get("content") if isinstance(other, dict) else None
            texts.append(content.get("text") if isinstance(content, dict) else None)
    if not texts:
        return None, "no OpenSSL severity in the record"
    raw = texts[0]
    if not isinstance(raw, str):
        raise _err(origin, "containers.cna.metrics[0].other.content.text", f"bad value {raw!r}")
    value = raw.strip().lower()
    if value == "unknown":
        if published >= _RATINGS_START:
            return None, "OpenSSL gave no severity rating"
        return None, None  # OpenSSL did not rate issues before October 2014
    if value not in _SEVERITY:
        raise _err(origin, "containers.cna.metrics[0].other.content.text", f"unknown {raw!r}")
    return _SEVERITY[value], None


def _description(cna: dict, origin: Any) -> str:
    for item in _list_of(cna, "descriptions", origin, "containers.cna.descriptions"):
        lang = item.get("lang", "en") if isinstance(item, dict) else None
        if isinstance(lang, str) and lang.startswith("en"):
            return str(item.get("value", "")).strip()
    return ""


def _title(cna: dict, description: str) -> tuple:
    title = cna.get("title")
    if isinstance(title, str) and title.strip():
        return _unwrap(title), False
    text = _unwrap(description)
    text = re.sub(r"^Issue summary: ", "", text)
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0] if text else ""
    if len(first) > 120:
        return first[:117].rsplit(" ", 1)[0].rstrip(",;:") + "...", True
    return first.rstrip(".") or "(no title)", True


def _advisory_name(references: list) -> str | None:
    for ref in references:
        match = re.search(r"/secadv/([0-9A-Za-z_.-]+\.txt)$", ref.get("url", ""))
        if match:
            return match.group(1)
    return None


def _range_from_entry(entry: Any, origin: Path, where: str, facts: dict, notes: list) -> dict:
    if not isinstance(entry, dict):
        raise _err(origin, where, "expected an object")
    introduced = _parse_version(entry.get("version"), origin, f"{where}.version")
    branch = introduced.branch
    rng: dict[str, Any] = {
        "branch": branch,
        "introduced": str(introduced),
        "fixed": None,
        "last_affected": None,
        "premium_only": False,
        "source": "secjson",
        "note": None,
    }
    range_notes = []
    if "lessThan" in entry:
        fixed = _parse_version(entry["lessThan"], origin, f"{where}.lessThan")
        if fixed.kind != introduced.kind or fixed.branch != branch:
            raise _err(origin, f"{where}.lessThan", f"{fixed} is not on branch {branch}")
        if fixed.snapshot:
            range_notes.append(
                f"upstream says lessThan {fixed}: fixed only in the branch's CVS head, never in "
                f"a {branch} release; treated as never fixed"
            )
        elif fixed == introduced:
            start = branch_first_release(branch) if introduced.kind != FIPS_MODULE else None
            if start is None or _parse_version(start, origin, where) >= fixed:
                raise _err(origin, where, f"empty range {introduced} .. {fixed}")
            rng["introduced"] = start
            rng["fixed"] = str(fixed)
            confirmed = branch in facts["vulnerable"]
            range_notes.append(
                f"upstream range is empty (version {introduced}, lessThan {fixed}); taken as "
                f"introduced in {start}, the branch's first release"
                + ("; the advisory says OpenSSL " + branch + " is vulnerable" if confirmed else "")
            )
        elif fixed < introduced:
            raise _err(origin, f"{where}.lessThan", f"{fixed} is before version {introduced}")
        else:
            rng["fixed"] = str(fixed)
    elif "lessThanOrEqual" in entry:
        last = _parse_version(entry["lessThanOrEqual"], origin, f"{where}.lessThanOrEqual")
        if last.kind != introduced.kind or last.branch != branch or last < introduced:
            raise _err(origin, f"{where}.lessThanOrEqual", f"{last} does not fit {introduced}")
        rng["last_affected"] = str(last)
        target = facts["upgrade"].get(branch)
        note = f"upstream gives lessThanOrEqual {last} (last affected release)"
        if target:
            try:
                upgrade = OpenSSLVersion.parse(target)
            except VersionError:
                upgrade = None
            if upgrade is not None and upgrade.branch == branch and upgrade > last:
                rng["fixed"] = str(upgrade)
                note += f"; the advisory names {upgrade} as the fixed release"
        range_notes.append(note)
    else:
        raise _err(origin, where, "affected entry without lessThan or lessThanOrEqual")
    public = LAST_PUBLIC_RELEASE.get(branch)
    if (
        rng["fixed"]
        and public
        and OpenSSLVersion.parse(rng["fixed"]) > OpenSSLVersion.parse(public)
    ):
        rng["premium_only"] = True
        range_notes.append(
            f"{rng['fixed']} was released to premium-support customers only; the last public "
            f"{branch} release is {public}"
        )
    if range_notes:
        rng["note"] = "; ".join(range_notes)
    return rng


def convert_record(path: Path, data: Any, advisories: dict) -> dict:
    """Turn one CVE JSON 5 record into a database record."""
    cve_id = _get(data, path, "cveMetadata", "cveId")
    if not isinstance(cve_id, str) or not _CVE_RE.fullmatch(cve_id):
        raise _err(path, "cveMetadata.cveId", f"not a CVE id: {cve_id!r}")
    if path.name != f"{cve_id}.json":
        raise _err(path, "cveMetadata.cveId", f"{cve_id} does not match the file name")
    state = _get(data, path, "cveMetadata").get("state", "PUBLISHED")
    if state != "PUBLISHED":
        raise _err(path, "cveMetadata.state", f"{state!r} (only PUBLISHED records are used)")
    cna = _get(data, path, "containers", "cna")
    published_raw = _get(data, path, "containers", "cna", "datePublic")
    published = str(published_raw)[:10]
    try:
        datetime.date.fromisoformat(published)
    except ValueError as exc:
        raise _err(path, "containers.cna.datePublic", f"bad date {published_raw!r}") from exc
    severity, severity_note = _severity(data, path, published)
    references = []
    for index, ref in enumerate(_list_of(cna, "references", path, "containers.cna.references")):
        if not isinstance(ref, dict) or not isinstance(ref.get("url"), str):
            raise _err(path, f"containers.cna.references[{index}].url", "missing")
        tags = _list_of(ref, "tags", path, f"containers.cna.references[{index}].tags")
        references.append({"url": ref["url"], "name": ref.get("name"), "tags": list(tags)})
    advisory = _advisory_name(references)
    section = advisories.get(advisory, {}).get("sections", {}).get(cve_id) if advisory else None
    facts = advisory_facts(section)
    notes = []
    if severity_note:
        notes.append(severity_note)
    affected_list = _get(data, path, "containers", "cna", "affected")
    if not isinstance(affected_list, list) or not affected_list:
        raise _err(path, "containers.cna.affected", "missing or empty")
    ranges: list = []
    unaffected: set = set()
    kinds = set()
    for a_index in range(len(affected_list)):
        versions = _get(data, path, "containers", "cna", "affected", a_index, "versions")
        if not isinstance(versions, list):
            raise _err(path, f"containers.cna.affected[{a_index}].versions", "not a list")
        for v_index, entry in enumerate(versions):
            where = f"containers.cna.affected[{a_index}].versions[{v_index}]"
            status = entry.get("status") if isinstance(entry, dict) else None
            if status == "unaffected":
                version = _parse_version(entry.get("version"), path, f"{where}.version")
                unaffected.add(version.branch)
                notes.append(f"upstream marks branch {version.branch} as unaffected")
                continue
            if status != "affected":
                raise _err(path, f"{where}.status", f"unexpected {status!r}")
            rng = _range_from_entry(entry, path, where, facts, notes)
            kinds.add(OpenSSLVersion.parse(rng["introduced"]).kind)
            ranges.append(rng)
    branches_listed = {r["branch"] for r in ranges}
    if len(branches_listed) != len(ranges):
        raise _err(path, "containers.cna.affected", "more than one range for one branch")
    for branch in facts["not_affected"]:
        if branch in branches_listed:
            notes.append(f"the advisory says {branch} is not affected, but a range lists it")
        elif branch not in unaffected:
            unaffected.add(branch)
            notes.append(f"the advisory says OpenSSL {branch} is not affected")
    description = _description(cna, path)
    title, derived = _title(cna, description)
    fips_only = kinds == {FIPS_MODULE}
    if fips_only:
        notes.append("about the FIPS object module only, not the OpenSSL library")
    record = {
        "id": cve_id,
        "published": published,
        "severity": severity,
        "title": title,
        "title_derived": derived,
        "description": description,
        "disputed": False,
        "fips_module_only": fips_only,
        "affected": ranges,
        "unaffected_branches": sorted(unaffected, key=branch_sort_key),
        "references": references,
        "advisory": f"secadv/{advisory}" if advisory else None,
        "notes": notes,
    }
    return record


# --------------------------------------------------------------------------------------------
# the whole database


def _sort_ranges(ranges: list) -> list:
    def key(rng: dict) -> tuple:
        version = OpenSSLVersion.parse(rng["introduced"])
        return (version.kind != FIPS_MODULE, version.sort_key)

    return sorted(ranges, key=key, reverse=True)


def _merge_legacy(cves: dict, legacy: dict, warnings: list) -> None:
    for cve_id in sorted(legacy):
        entry = legacy[cve_id]
        record = cves.get(cve_id)
        if record is None:
            warnings.append(f"{cve_id}: only in the legacy XML, not in the CVE JSON; skipped")
            continue
        listed = {r["branch"] for r in record["affected"]} | set(record["unaffected_branches"])
        for base in sorted(entry["affects"]):
            versions = sorted(entry["affects"][base])
            branch = versions[0].branch
            if branch in listed or base in listed:
                continue
            fixed = entry["fixed"].get(base)
            rng = {
                "branch": branch,
                "introduced": str(versions[0]),
                "fixed": str(fixed) if fixed else None,
                "last_affected": None,
                "premium_only": False,
                "source": "legacy-xml",
                "note": (
                    f"branch {branch} listed as affected ({versions[0]} .. {versions[-1]}) "
                    "in the 2022 vulnerabilities.xml but missing from the CVE JSON record; "
                    + (f"fixed in {fixed}" if fixed else "no fixed release: never fixed")
                ),
            }
            record["affected"] = _sort_ranges([*record["affected"], rng])
            record["notes"].append(f"branch {branch} added from the legacy XML")


def check_statements(statements: Any, origin: Any) -> dict:
    """The shape of secjson/statements.json: an object whose ``statements`` and ``disputed``
    (both optional) are lists."""
    if not isinstance(statements, dict):
        raise _err(origin, "top level", "expected an object")
    for key in ("statements", "disputed"):
        _list_of(statements, key, origin, key)
    return statements


def _disputed(statements: dict, origin: Path, cves: dict) -> None:
    for index, item in enumerate(statements.get("disputed", [])):
        cve_id = _get(item, origin, "cve") if isinstance(item, dict) else None
        if not isinstance(cve_id, str) or not _CVE_RE.fullmatch(cve_id):
            raise _err(origin, f"disputed[{index}].cve", f"not a CVE id: {cve_id!r}")
        text = str(item.get("text", "")).strip()
        if cve_id in cves:
            cves[cve_id]["disputed"] = True
            cves[cve_id]["notes"].append(f"disputed by OpenSSL: {text}")
            continue
        cves[cve_id] = {
            "id": cve_id,
            "published": None,
            "severity": None,
            "title": re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text) or "Disputed",
            "title_derived": True,
            "description": text,
            "disputed": True,
            "fips_module_only": item.get("base") == "fips",
            "affected": [],
            "unaffected_branches": [],
            "references": [
                {"url": url, "name": None, "tags": []}
                for url in re.findall(r"\((https?://[^)]+)\)", text)
            ],
            "advisory": None,
            "notes": [
                f"disputed by OpenSSL (statements.json, base {item.get('base')}): not counted "
                "as a vulnerability in OpenSSL"
            ],
        }


def _branch_table(data_json: Any, origin: Path, statements: dict, cves: dict) -> dict:
    if not isinstance(data_json, dict) or not data_json:
        raise _err(origin, "top level", "expected an object of branches")
    branches: dict[str, dict] = {}
    for name, spec in PRE3_BRANCHES.items():
        branches[name] = {
            "released": spec["released"],
            "released_precision": "day",
            "eol": spec["eol"],
            "eol_precision": "day" if spec["eol"] else None,
            "lts": spec["lts"],
            "premium_support_after_eol": spec["premium"],
            "source": "openssl.org release strategy (history)",
        }
    for name, spec in data_json.items():
        try:
            key = branch_sort_key(name)
        except VersionError as exc:
            raise _err(origin, name, str(exc)) from exc
        if key[0] < 3:
            continue  # pre-3.0 come from the table above
        released, released_precision = parse_upstream_date(
            _get(spec, origin, "release") if isinstance(spec, dict) else None,
            origin,
            f"{name}.release",
        )
        eol, eol_precision = parse_upstream_date(_get(spec, origin, "eol"), origin, f"{name}.eol")
        lts = spec.get("lts")
        if not isinstance(lts, bool):
            raise _err(origin, f"{name}.lts", f"expected true or false, got {lts!r}")
        branches[name] = {
            "released": released,
            "released_precision": released_precision,
            "eol": eol,
            "eol_precision": eol_precision,
            "lts": lts,
            "premium_support_after_eol": bool(spec.get("premium_support_after_eol", False)),
            "source": "data.json",
        }
    for item in statements.get("statements", []):
        base = item.get("base") if isinstance(item, dict) else None
        if isinstance(base, str) and base in branches:
            branches[base]["statement"] = str(item.get("text", "")).strip()
    for name, info in branches.items():
        fixes = []
        listed = []
        for record in cves.values():
            for rng in record["affected"]:
                if rng["branch"] != name:
                    continue
                listed.append(record["published"])
                if rng["fixed"] and not rng["premium_only"]:
                    fixes.append(OpenSSLVersion.parse(rng["fixed"]))
            if name in record["unaffected_branches"]:
                listed.append(record["published"])
        info["latest_public_fix"] = str(max(fixes)) if fixes else None
        info["last_listed"] = max(listed) if listed else None
        info.setdefault("statement", None)
    return dict(sorted(branches.items(), key=lambda item: branch_sort_key(item[0])))


def _generated_at(value: str | None) -> str:
    if value:
        return value
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch and epoch.isdigit()
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_db(
    src: str | os.PathLike,
    legacy_xml: str | os.PathLike | None = None,
    *,
    commit: str | None = None,
    commit_date: str | None = None,
    run: RunFn | None = None,
    generated_at: str | None = None,
    generator_version: str = "unknown",
) -> tuple:
    """Build the database from a release-metadata copy. Returns ``(db, warnings)``.

    Raises :class:`DatabaseError` naming the file and field for any corrupt input.
    """
    root = Path(src)
    secjson = root / "secjson"
    if not secjson.is_dir() or not (root / "data.json").is_file():
        raise DatabaseError(
            f"{root}: not a copy of openssl/release-metadata (need secjson/ and data.json)"
        )
    provenance = read_provenance(root, run, commit, commit_date)
    warnings: list = []
    advisories = load_advisories(root / "secadv")
    if not advisories:
        warnings.append(f"{root}: no secadv/*.txt advisories; advisory statements not used")
    cves: dict[str, dict] = {}
    files = sorted(secjson.glob("CVE-*.json"))
    if not files:
        raise DatabaseError(f"{secjson}: no CVE-*.json records")
    for path in files:
        record = convert_record(path, _read_json(path), advisories)
        record["affected"] = _sort_ranges(record["affected"])
        cves[record["id"]] = record
    statements_path = secjson / "statements.json"
    statements = check_statements(
        _read_json(statements_path) if statements_path.is_file() else {}, statements_path
    )
    if not statements:
        warnings.append(f"{statements_path}: missing; disputed CVEs and statements not used")
    legacy_info = None
    if legacy_xml is not None:
        legacy, sha256, legacy_warnings = load_legacy_xml(Path(legacy_xml))
        warnings.extend(legacy_warnings)
        _merge_legacy(cves, legacy, warnings)
        legacy_info = legacy_provenance(Path(legacy_xml), sha256)
        legacy_info["repository"] = LEGACY_REPOSITORY
    _disputed(statements, statements_path, cves)
    branches = _branch_table(_read_json(root / "data.json"), root / "data.json", statements, cves)
    general = [
        str(s.get("text", "")).strip()
        for s in statements.get("statements", [])
        if isinstance(s, dict) and s.get("base") == "none"
    ]
    published = [r["published"] for r in cves.values() if r["published"]]
    db = {
        "format": FORMAT,
        "generated_at": _generated_at(generated_at),
        "generator": f"patchwise.openssl {generator_version}",
        "source": {
            "repository": REPOSITORY,
            "commit": provenance["commit"],
            "commit_date": provenance["commit_date"],
            "provenance": provenance["from"]
            if provenance["from"] in ("git", "parameters")
            else "SOURCES.txt",
            "records": len(files),
            "newest_record": max(published),
            "advisories": len(advisories),
            "legacy_xml": legacy_info,
        },
        "attribution": ATTRIBUTION,
        "statement": general[0] if general else None,
        "branches": branches,
        "cves": dict(sorted(cves.items(), key=lambda item: _cve_key(item[0]))),
    }
    for cve_id, record in db["cves"].items():
        validate_record(cve_id, record, str(secjson / f"{cve_id}.json"))
    validate_db(db, str(root))
    return db, warnings


def _cve_key(cve_id: str) -> tuple:
    parts = cve_id.split("-")
    return int(parts[1]), int(parts[2])


def dumps_db(db: dict) -> str:
    """Deterministic JSON text: sorted keys, fixed indentation, trailing newline."""
    return json.dumps(db, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


# --------------------------------------------------------------------------------------------
# refresh support: freshness and diffs

_VOLATILE = ("generated_at", "generator")


def _stable(db: dict) -> dict:
    return {key: value for key, value in db.items() if key not in _VOLATILE}


def same_content(old: dict | None, new: dict) -> bool:
    """True when two databases differ at most in generation time and generator."""
    if old is None:
        return False
    return _stable(old) == _stable(new)


def check_not_older(old: dict | None, new: dict, allow_downgrade: bool = False) -> list:
    """Refuse a database built from older (or truncated) input than ``old``.

    Returns a list of warnings (when ``allow_downgrade`` let a problem through); raises
    :class:`DatabaseError` otherwise.
    """
    if not old:
        return []
    problems = []
    old_src, new_src = old.get("source", {}), new["source"]
    try:
        old_date = _iso_datetime(str(old_src.get("commit_date")))
        new_date = _iso_datetime(str(new_src["commit_date"]))
    except ValueError:
        old_date = new_date = None
    if old_date and new_date and new_date < old_date:
        problems.append(
            f"the input (commit {new_src['commit'][:12]} of {new_src['commit_date']}) is older "
            f"than the current database (commit {str(old_src.get('commit'))[:12]} of "
            f"{old_src.get('commit_date')})"
        )
    old_newest = old_src.get("newest_record")
    if old_newest and new_src.get("newest_record", "") < old_newest:
        problems.append(
            f"the newest record of the input ({new_src.get('newest_record')}) is older than the "
            f"newest of the current database ({old_newest})"
        )
    old_ids = set(old.get("cves", {}))
    lost = old_ids - set(new["cves"])
    if old_ids and len(lost) > max(3, len(old_ids) // 10):
        problems.append(f"the input lacks {len(lost)} of {len(old_ids)} known CVEs (truncated?)")
    if problems and not allow_downgrade:
        raise DatabaseError(
            "refusing to replace the vulnerability database: "
            + "; ".join(problems)
            + " (set allow_downgrade to accept)"
        )
    return problems


def _range_view(record: dict) -> list:
    return [
        {k: r.get(k) for k in ("branch", "introduced", "fixed", "last_affected", "premium_only")}
        for r in record.get("affected", [])
    ]


def diff_dbs(old: dict | None, new: dict) -> dict:
    """What changed between two databases (``old`` may be None)."""
    old_cves = (old or {}).get("cves", {})
    new_cves = new.get("cves", {})
    added = sorted(set(new_cves) - set(old_cves), key=_cve_key)
    removed = sorted(set(old_cves) - set(new_cves), key=_cve_key)
    ranges, severities, other = {}, {}, []
    for cve_id in sorted(set(old_cves) & set(new_cves), key=_cve_key):
        before, after = old_cves[cve_id], new_cves[cve_id]
        if _range_view(before) != _range_view(after):
            ranges[cve_id] = {"before": _range_view(before), "after": _range_view(after)}
        if before.get("severity") != after.get("severity"):
            severities[cve_id] = {"before": before.get("severity"), "after": after.get("severity")}
        if cve_id not in ranges and cve_id not in severities and before != after:
            other.append(cve_id)
    old_branches = (old or {}).get("branches", {})
    branches = sorted(
        {
            n
            for n in set(old_branches) | set(new.get("branches", {}))
            if old_branches.get(n) != new.get("branches", {}).get(n)
        },
        key=branch_sort_key,
    )
    return {
        "new_cves": added,
        "removed_cves": removed,
        "edited_ranges": ranges,
        "edited_severities": severities,
        "edited_other": other,
        "edited_branches": branches,
        "source": {
            "before": (old or {}).get("source", {}).get("commit"),
            "after": new.get("source", {}).get("commit"),
        },
    }


def _ranges_text(ranges: list) -> str:
    return ", ".join(
        f"{r['branch']}:{r['introduced']}..{r['fixed'] or r['last_affected'] or 'unfixed'}"
        for r in ranges
    )


def diff_lines(diff: dict, new: dict | None = None) -> list:
    """Human-readable summary lines of :func:`diff_dbs` output."""
    cves = (new or {}).get("cves", {})
    lines = []
    for cve_id in diff["new_cves"]:
        record = cves.get(cve_id, {})
        severity = record.get("severity") or "unrated"
        lines.append(f"new {cve_id} [{severity}] {record.get('title', '')}".rstrip())
    lines.extend(f"removed {cve_id}" for cve_id in diff["removed_cves"])
    for cve_id, change in diff["edited_severities"].items():
        lines.append(f"severity {cve_id}: {change['before']} -> {change['after']}")
    for cve_id, change in diff["edited_ranges"].items():
        before, after = _ranges_text(change["before"]), _ranges_text(change["after"])
        lines.append(f"ranges {cve_id}: {before} -> {after}")
    if diff["edited_other"]:
        lines.append(f"other edits: {', '.join(diff['edited_other'])}")
    if diff["edited_branches"]:
        lines.append(f"branch table changed: {', '.join(diff['edited_branches'])}")
    return lines


def collection_version(root: Path) -> str:
    """Version of the collection from ``galaxy.yml`` or an installed ``MANIFEST.json``."""
    manifest = root / "MANIFEST.json"
    if manifest.is_file():
        try:
            return str(json.loads(manifest.read_text())["collection_info"]["version"])
        except (ValueError, KeyError, TypeError, OSError):
            pass
    galaxy = root / "galaxy.yml"
    if galaxy.is_file():
        match = re.search(r"^version:\s*['\"]?([^'\"\s]+)", galaxy.read_text(), re.MULTILINE)
        if match:
            return match.group(1)
    return "unknown"


def iter_notes(db: dict) -> Iterable:
    """``(cve, text)`` for every note in the database (for docs and reviews)."""
    for cve_id, record in db["cves"].items():
        for note in record.get("notes", []):
            yield cve_id, note
        for rng in record["affected"]:
            if rng.get("note"):
                yield cve_id, f"{rng['branch']}: {rng['note']}"


def notice_text(db: dict) -> str:
    """Text of ``data/NOTICE.md``: attribution, licence and provenance of the shipped data."""
    source = db["source"]
    legacy = source.get("legacy_xml") or {}
    lines = [
        "# Vulnerability data: attribution and provenance",
        "",
        "`openssl_vulndb.json` in this directory is generated from data published by the",
        "OpenSSL Project. Vulnerability data \u00a9 The OpenSSL Project.",
        "",
        "Licence: the upstream repositories carry no LICENSE file; asked which licence governs",
        'the vulnerability data of openssl.org, an OpenSSL maintainer answered "Apache 2."',
        "(https://github.com/openssl/openssl/issues/17830, 2022-03-07). The data is therefore",
        "redistributed under the Apache License 2.0",
        "(https://www.apache.org/licenses/LICENSE-2.0), with this attribution. The database is",
        "a converted (modified) form: ranges were normalised and upstream quirks corrected; every",
        "change is recorded in a `note` field of the affected record (see docs/vulndb.md).",
        "",
        "Sources:",
        "",
        f"- {source['repository']} commit `{source['commit']}` ({source['commit_date']}):",
        f"  `secjson/` ({source['records']} CVE JSON records and `statements.json`),",
        f"  `secadv/` ({source.get('advisories', 0)} advisories), `data.json`.",
    ]
    if legacy:
        commit = f"commit `{legacy['commit']}`" if legacy.get("commit") else "unknown commit"
        lines += [
            f"- {legacy.get('repository', LEGACY_REPOSITORY)} `{legacy.get('path', LEGACY_PATH)}`,",
            f"  {commit}, sha256 `{legacy['sha256']}`",
            "  (the list as of June 2022, before its removal).",
        ]
    lines += [
        "",
        f"Generated by {db['generator']} on {db['generated_at']}.",
        "Rebuild or refresh: `tools/build-vulndb`, or the playbook",
        "`patchwise.openssl.vulndb_update`.",
        "",
    ]
    return "\n".join(lines)


def write_atomic(path: str | os.PathLike, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory + os.replace."""
    target = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
