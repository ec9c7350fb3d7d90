# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline, backport-aware assessment of ``ansible_facts.openssl`` (controller side).

The decision table, the risk formula and every reason code are documented in
``docs/assessment.md``; this module implements them exactly.

Entry points: :class:`Assessor` (one database, one "today", many hosts) and
:func:`assess_host` (one-shot convenience). Everything that goes wrong on purpose raises a
:class:`~.errors.PatchwiseError` subclass; malformed facts never raise, they become explicit
``unknown`` results and ``warnings``.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    versiontext,
    vulndb,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    PatchwiseError,
    VersionError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.pkgversions import (
    package_compare,
    split_evr,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versions import (
    OpenSSLVersion,
)

SCHEMA_VERSION = 1

STATUSES = (
    "vulnerable",
    "fixed",
    "fixed_by_backport",
    "patched_in_memory",
    "unknown",
    "not_assessed",
)
SEVERITIES = ("critical", "high", "moderate", "low")
UNRATED = "unrated"
FAIL_ON_CHOICES = ("critical", "high", "moderate", "low", "none")

# --- risk formula (docs/assessment.md, "Risk score") ---------------------------------------
SEVERITY_WEIGHT = {"critical": 10.0, "high": 7.0, "moderate": 4.0, "low": 1.0, UNRATED: 5.0}
STATUS_FACTOR = {"vulnerable": 1.0, "unknown": 0.3}
EXPOSURE_FACTOR = {"network": 2.0, "loopback": 1.5, "loaded": 1.0, "unseen": 1.0, "none": 0.5}
EOL_POINTS = 10.0
PRIORITY_THRESHOLDS = (("critical", 40.0), ("high", 20.0), ("medium", 5.0), ("low", 0.0))
RISK_FORMULA = (
    "score = sum over distinct CVEs of max(severity_weight x status_factor x exposure_factor)"
    " + 10 per end-of-life branch in use; severity_weight critical 10, high 7, moderate 4,"
    " low 1, unrated 5; status_factor vulnerable 1.0, unknown 0.3, other 0;"
    " exposure_factor network 2.0, loopback 1.5, loaded or process list incomplete 1.0,"
    " on disk only 0.5"
)

DEFAULT_MAX_DB_AGE_DAYS = 3 * 365
STALE_DB_WARNING_DAYS = 120

EOL_STATUSES = ("end_of_life", "premium_only")
_EXPOSURE_RANK = {"none": 0, "loaded": 1, "loopback": 2, "network": 3}
ASSESSED_IMPLEMENTATIONS = ("openssl", "quictls")
LOOKALIKES = {"libressl": "LibreSSL", "boringssl": "BoringSSL", "aws-lc": "AWS-LC"}

_CVE_RE = re.compile(r"CVE-\d{4}-\d{4,}\Z")
_LOOPBACK_RE = re.compile(r"(127\.\d+\.\d+\.\d+|::1|localhost|::ffff:127\.\d+\.\d+\.\d+)\Z")


class AssessError(PatchwiseError):
    """The assessment cannot be made (bad arguments, clock far off, unusable database)."""


# =========================================================================================
# small, forgiving accessors for facts that may be malformed
# =========================================================================================


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _bool(value: Any) -> bool:
    return value is True


def _held(pkg: dict[str, Any]) -> bool | None:
    """A package's hold: True/False from dpkg's selection; None = unknown (rpm, facts of
    earlier versions, junk)."""
    held = pkg.get("held")
    return held if isinstance(held, bool) else None


def _date(value: Any) -> datetime.date | None:
    """ISO date or date-time (``2026-04-07``, ``2026-04-07T14:00:00Z``) -> date, else None."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _str(value)
    if text is None:
        return None
    try:
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_today(value: Any) -> datetime.date:
    """The assessment date from an override (``2026-11-22`` or ISO date-time) or the clock."""
    if value is None or value == "":
        return datetime.datetime.now(datetime.timezone.utc).date()
    parsed = _date(value)
    if parsed is None:
        raise AssessError(f"now/today must be an ISO date such as 2026-11-22, got {value!r}")
    return parsed


# =========================================================================================
# distribution package versions, for "is the fix in the running build" (see pkgversions.py)
# =========================================================================================


def upstream_of_package_version(version: str | None) -> str | None:
    """``1:3.0.7-27.el9`` -> ``3.0.7``; ``3.0.17-1~deb12u3`` -> ``3.0.17`` (if it parses)."""
    if not version:
        return None
    _epoch, upstream, _release = split_evr(version)
    upstream = upstream.split("+")[0]
    try:
        OpenSSLVersion.parse(upstream)
    except VersionError:
        return None
    return upstream


# =========================================================================================
# the database side: CVEs for a version, branches, lifecycle
# =========================================================================================


def _normalise_severity(value: Any) -> str:
    text = _str(value)
    if text is None:
        return UNRATED
    text = text.lower()
    return text if text in SEVERITIES else UNRATED


def _parse_version(text: Any) -> OpenSSLVersion | None:
    try:
        return OpenSSLVersion.parse(text)
    except VersionError:
        return None


class CveInfo:
    """The parts of one database record the engine needs, parsed once."""

    __slots__ = (
        "advisory",
        "disputed",
        "id",
        "published",
        "published_text",
        "record",
        "severity",
        "title",
    )

    def __init__(self, cve_id: str, record: dict[str, Any]) -> None:
        self.id = cve_id
        self.record = record
        self.severity = _normalise_severity(record.get("severity"))
        self.title = _str(record.get("title")) or ""
        self.published = _date(record.get("published"))
        self.published_text = str(self.published) if self.published else None
        self.disputed = _bool(record.get("disputed"))
        self.advisory = _str(record.get("advisory"))


class _Match:
    """One CVE that affects one upstream version, with the range of that version's branch."""

    __slots__ = ("cve", "entry", "fixed", "premium_only")

    def __init__(self, cve: CveInfo, entry: dict[str, Any] | None) -> None:
        self.cve = cve
        self.entry = entry or {}
        self.fixed = _str(self.entry.get("fixed"))
        self.premium_only = _bool(self.entry.get("premium_only"))

    def range_text(self) -> str:
        entry = self.entry
        intro = _str(entry.get("introduced")) or "?"
        if self.fixed:
            return f"{intro} <= v < {self.fixed}"
        if _str(entry.get("last_affected")):
            return f"{intro} <= v <= {entry['last_affected']}, no fixed release listed"
        return f"v >= {intro}, never fixed in a public release"


# =========================================================================================
# the assessor
# =========================================================================================


class Assessor:
    """Assess many hosts against one database on one day; results are cached per version.

    ``db`` is what :func:`vulndb.load_db` returns (or a dict in that format: it is validated).
    """

    def __init__(
        self,
        db: Any,
        today: Any = None,
        max_db_age_days: int = DEFAULT_MAX_DB_AGE_DAYS,
        memoize: bool = True,
    ) -> None:
        self.db = self._validate_db(db)
        self.today = parse_today(today)
        self.memoize = memoize
        self.warnings: list[str] = []
        self._package_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._library_cache: dict[tuple[Any, ...], _LibraryView] = {}
        self.class_rows_cache: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.data_date: datetime.date | None = None
        self._cve_info: dict[str, CveInfo] = {}
        self._match_cache: dict[str, tuple[_Match, ...]] = {}
        self._not_covered_cache: dict[str, tuple[CveInfo, ...]] = {}
        self._lifecycle_cache: dict[str, dict[str, Any]] = {}
        self._installed_cache: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
        self.generated_at = _date(self.db.get("generated_at"))
        self._check_clock(max_db_age_days, today not in (None, ""))
        source = _dict(self.db.get("source"))
        self.database = {
            "generated_at": self.db.get("generated_at"),
            "generator": self.db.get("generator"),
            "source_commit": source.get("commit"),
            "source_commit_date": source.get("commit_date"),
            "data_date": str(self.data_date),
            "records": len(self.db["cves"]),
            "path": getattr(self.db, "path", None),
        }

    # -- set-up -----------------------------------------------------------------------------

    @staticmethod
    def _validate_db(db: Any) -> dict[str, Any]:
        if not isinstance(db, vulndb.VulnDB):
            try:
                vulndb.validate_db(db, "vulnerability database")
            except PatchwiseError:
                raise
            except Exception as exc:  # a corrupt object must not be a traceback
                raise DatabaseError(f"vulnerability database: unusable ({exc})") from exc
        if _date(db.get("generated_at")) is None:
            raise DatabaseError("vulnerability database: generated_at is not an ISO date")
        return db

    def _check_clock(self, max_age_days: int, explicit: bool) -> None:
        """Refuse a date the data cannot be judged on (docs/assessment.md, "Clock")."""
        generated = self.generated_at
        if generated is None:  # pragma: no cover - _validate_db guarantees it
            raise DatabaseError("vulnerability database: no generation date")
        data_date = _date(_dict(self.db.get("source")).get("commit_date")) or generated
        self.data_date = data_date
        slack = datetime.timedelta(days=1)
        if self.today < data_date - slack:
            raise AssessError(
                f"the assessment date {self.today} is before the newest vulnerability data "
                f"({data_date}): the clock or the now/today argument is wrong"
            )
        if not explicit and self.today < generated - slack:
            raise AssessError(
                f"the controller clock ({self.today}) is before the vulnerability database was "
                f"generated ({generated}): fix the clock or pass now/today"
            )
        age = (self.today - data_date).days
        if age > max_age_days:
            raise AssessError(
                f"the vulnerability data is {age} days old (upstream {data_date}, limit "
                f"{max_age_days} days): refresh it with the patchwise.openssl.vulndb_update "
                "playbook, or check the clock / the now/today argument"
            )
        if age > STALE_DB_WARNING_DAYS:
            self.warnings.append(
                f"the vulnerability data is {age} days old (upstream {data_date}); CVEs "
                "published since then are not known to this assessment"
            )

    def prepare(self) -> Assessor:
        """Compute now what every host needs: the range index and, per branch, the CVEs its
        advisories left out. For a process that forks workers after this (ansible's controller
        does, one per host): they inherit the results instead of each computing them again.
        """
        for branch, info in sorted(_dict(self.db.get("branches")).items()):
            for text in (_dict(info).get("latest_public_fix"), f"{branch}.0", branch):
                version = _parse_version(text)
                if version is not None and version.is_release and version.branch == branch:
                    self.matches(version)
                    self.not_covered(version)
                    break
        return self

    # -- database look-ups (cached) ---------------------------------------------------------

    def cve(self, cve_id: str) -> CveInfo:
        info = self._cve_info.get(cve_id)
        if info is None:
            info = CveInfo(cve_id, _dict(self.db["cves"].get(cve_id)))
            self._cve_info[cve_id] = info
        return info

    def matches(self, version: OpenSSLVersion) -> tuple[_Match, ...]:
        """CVEs whose published ranges cover ``version``, each with the range that matched."""
        key = str(version)
        cached = self._match_cache.get(key)
        if cached is not None:
            return cached
        found = []
        for record, rng in vulndb.affecting_with_ranges(self.db, version):
            found.append(_Match(self.cve(record["id"]), rng))
        found.sort(key=lambda m: m.cve.id)
        result = tuple(found)
        self._match_cache[key] = result
        return result

    def not_covered(self, version: OpenSSLVersion) -> tuple[CveInfo, ...]:
        """CVEs whose advisory left ``version``'s branch out because it was end-of-life.

        From :func:`vulndb.coverage` (reason ``end_of_life_at_advisory``); the same for every
        release of a branch, so cached per branch. Pre-releases are not judged this way.
        """
        branch = version.branch
        if not version.is_release:
            return ()
        cached = self._not_covered_cache.get(branch)
        if cached is not None:
            return cached
        found = []
        for cve_id in sorted(self.db["cves"]):
            cover = vulndb.coverage(self.db, cve_id, version)
            if not cover["assessed"] and cover["reason"] == "end_of_life_at_advisory":
                found.append(self.cve(cve_id))
        result = tuple(found)
        self._not_covered_cache[branch] = result
        return result

    def lifecycle(self, version: OpenSSLVersion) -> dict[str, Any]:
        """Branch status on ``today`` (:func:`vulndb.branch_status`, computed from dates)."""
        key = str(version)
        cached = self._lifecycle_cache.get(key)
        if cached is None:
            cached = vulndb.branch_status(self.db, version, self.today)
            self._lifecycle_cache[key] = cached
        return cached

    # -- memoized per-host inputs ------------------------------------------------------------

    def package_evidence(self, raw: dict[str, Any]) -> dict[str, Any]:
        """:func:`_package_evidence` of one ``packages[]`` fact, shared between equal facts.

        A fleet has few distinct (package, version, changelog CVE map) combinations; each is
        normalised once. The result is shared: treat it as read-only.
        """
        key = _package_memo_key(raw) if self.memoize else None
        if key is None:
            return _package_evidence(raw)
        return _memoized(self._package_cache, key, lambda: _package_evidence(raw))

    def library_view(self, lib: dict[str, Any]) -> _LibraryView:
        """:func:`_library_view` of one process's library entry, shared between equal entries
        (every process of a host maps the same few files)."""
        if not self.memoize:
            return _library_view(lib)
        key = (
            lib.get("path"),
            lib.get("build_id"),
            lib.get("stale") is True,
            lib.get("deleted") is True,
            lib.get("stale_reason"),
            lib.get("package_version"),
            lib.get("version_text"),
        )
        return _memoized(self._library_cache, key, lambda: _library_view(lib))

    # -- installed view (cached per version + package evidence) -----------------------------

    def installed_view(
        self, version: OpenSSLVersion, pkg: dict[str, Any] | None
    ) -> tuple[dict[str, Any], ...]:
        """Status of every affecting / not-covered CVE for the bytes of ``version`` on disk.

        ``pkg`` is the normalised package evidence (see :func:`_package_evidence`) or None for
        an unpackaged copy. The result is cached and shared: treat it as read-only.
        """
        key = (str(version), pkg["key"] if pkg else None)
        cached = self._installed_cache.get(key)
        if cached is not None:
            return cached
        rows: list[dict[str, Any]] = []
        for match in self.matches(version):
            rows.append(self._decide(version, match, pkg))
        for info in self.not_covered(version):
            rows.append(
                {
                    "cve": info.id,
                    "status": "not_assessed",
                    "reason": "branch_eol_not_covered",
                    "detail": (
                        f"published {info.published} after branch {version.branch} reached "
                        "end of public support; the advisory does not cover that branch"
                    ),
                    "evidence": {"published": str(info.published), "branch": version.branch},
                }
            )
        result = tuple(rows)
        self._installed_cache[key] = result
        return result

    def _decide(
        self, version: OpenSSLVersion, match: _Match, pkg: dict[str, Any] | None
    ) -> dict[str, Any]:
        cve = match.cve
        evidence: dict[str, Any] = {"range": match.range_text(), "fixed_in": match.fixed}
        if match.premium_only:
            evidence["premium_only"] = True
        if pkg is not None and pkg["changelog_usable"]:
            entry = pkg["cves"].get(cve.id)
            if entry is not None:
                evidence.update(
                    package=pkg["name"],
                    package_version=pkg["version"],
                    changelog_entry=entry,
                    changelog=pkg["changelog_path"],
                )
                return {
                    "cve": cve.id,
                    "status": "fixed_by_backport",
                    "reason": "changelog_names_cve",
                    "detail": f"{pkg['name']} changelog entry {entry} names {cve.id}",
                    "evidence": evidence,
                }
        if pkg is not None and match.fixed and pkg["upstream"] is not None:
            fixed = _parse_version(match.fixed)
            try:
                newer = fixed is not None and pkg["upstream"] >= fixed
            except VersionError:
                newer = False
            if newer:
                evidence.update(package=pkg["name"], package_version=pkg["version"])
                return {
                    "cve": cve.id,
                    "status": "fixed",
                    "reason": "package_upstream_fixed",
                    "detail": (
                        f"package {pkg['name']} {pkg['version']} is upstream {pkg['upstream']},"
                        f" at or after the fix {match.fixed}"
                    ),
                    "evidence": evidence,
                }
        if pkg is not None:
            evidence.update(package=pkg["name"], package_version=pkg["version"])
            if pkg["changelog_usable"]:
                evidence["changelog"] = pkg["changelog_path"]
                if pkg["trimmed"]:
                    evidence["changelog_trimmed"] = True
                detail = (
                    f"{pkg['name']} {pkg['version']}: its changelog does not name {cve.id}; the "
                    "distribution may have fixed it silently or judged it not affecting"
                )
                reason = "changelog_silent"
            else:
                evidence["changelog_error"] = pkg["changelog_error"]
                detail = (
                    f"{pkg['name']} {pkg['version']}: no changelog evidence "
                    f"({pkg['changelog_error']})"
                )
                reason = "no_changelog"
            return {
                "cve": cve.id,
                "status": "unknown",
                "reason": reason,
                "detail": detail,
                "evidence": evidence,
            }
        if match.fixed is None:
            reason, detail = "no_public_fix", f"upstream {version} affected ({match.range_text()})"
        elif match.premium_only:
            reason = "premium_only_fix"
            detail = f"upstream {version} affected; fixed only in premium release {match.fixed}"
        else:
            reason = "upstream_version_affected"
            detail = f"upstream {version} affected ({match.range_text()})"
        return {
            "cve": cve.id,
            "status": "vulnerable",
            "reason": reason,
            "detail": detail,
            "evidence": evidence,
        }

    # -- hosts ------------------------------------------------------------------------------

    def assess(
        self,
        facts: Any,
        host: str | None = None,
        fail_on: str = "none",
        include_statuses: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Assess one host's ``ansible_facts.openssl``; see docs/assessment.md for the result."""
        if fail_on not in FAIL_ON_CHOICES:
            raise AssessError(
                f"fail_on must be one of {', '.join(FAIL_ON_CHOICES)}, got {fail_on!r}"
            )
        statuses = _check_statuses(include_statuses)
        with _no_cyclic_gc():
            return _HostAssessment(self, facts, host).run(fail_on, statuses)

    def assess_many(
        self,
        facts_by_host: dict[str, Any],
        fail_on: str = "none",
        include_statuses: Iterable[str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Assess many hosts (``{host: facts}``) in one go; the fast path for large fleets."""
        if fail_on not in FAIL_ON_CHOICES:
            raise AssessError(
                f"fail_on must be one of {', '.join(FAIL_ON_CHOICES)}, got {fail_on!r}"
            )
        statuses = _check_statuses(include_statuses)
        with _no_cyclic_gc():
            return {
                host: _HostAssessment(self, facts, host).run(fail_on, statuses)
                for host, facts in facts_by_host.items()
            }


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector.

    An assessment builds many small acyclic objects; the collector has nothing to find in them
    and would otherwise rescan every earlier result of a large fleet again and again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_statuses(include: Iterable[str] | None) -> tuple[str, ...] | None:
    if include is None:
        return None
    if isinstance(include, str):
        include = [include]
    result = tuple(include)
    bad = [s for s in result if s not in STATUSES]
    if bad:
        raise AssessError(f"unknown status(es) in include_statuses: {', '.join(map(str, bad))}")
    return result


def _package_evidence(pkg: dict[str, Any]) -> dict[str, Any]:
    """Normalise one ``packages[]`` fact into the evidence the decision table uses."""
    changelog = pkg.get("changelog")
    name = _str(pkg.get("name")) or "?"
    version = _str(pkg.get("version")) or "?"
    usable = False
    error = None
    cves: dict[str, str] = {}
    if not isinstance(changelog, dict):
        error = "no changelog in the facts"
    elif _str(changelog.get("error")):
        error = _str(changelog.get("error"))
    elif not isinstance(changelog.get("cves"), dict):
        error = "changelog has no CVE map"
    else:
        usable = True
        for cve_id, entry in changelog["cves"].items():
            if isinstance(cve_id, str) and cve_id.startswith("CVE-") and _CVE_RE.match(cve_id):
                cves[cve_id] = str(entry) if entry is not None else "?"
    upstream = _parse_version(
        _str(pkg.get("upstream_version")) or upstream_of_package_version(version)
    )
    cl = _dict(changelog)
    path, trimmed = _str(cl.get("path")), _bool(cl.get("trimmed"))
    return {
        "name": name,
        "version": version,
        "manager": _str(pkg.get("manager")),
        "candidate": _str(pkg.get("candidate")),
        "held": _held(pkg),
        "upstream": upstream,
        "changelog_usable": usable,
        "changelog_error": error,
        "changelog_path": path,
        "trimmed": trimmed,
        "cves": cves,
        # everything the decision table reads (Assessor.installed_view caches by it)
        "key": (
            name,
            version,
            str(upstream),
            usable,
            error,
            path,
            trimmed,
            tuple(sorted(cves.items())),
        ),
    }


_MEMO_LIMIT = 4096


def _memoized(cache: dict[Any, Any], key: Any, compute: Callable[[], Any]) -> Any:
    """``cache[key]``, computed once; bounded (cleared at ``_MEMO_LIMIT`` entries). A key that
    cannot be hashed (junk in malformed facts) is computed every time, never cached."""
    try:
        return cache[key]
    except KeyError:
        pass
    except TypeError:
        return compute()
    found = compute()
    if len(cache) >= _MEMO_LIMIT:
        cache.clear()
    cache[key] = found
    return found


def _package_memo_key(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    """Everything :func:`_package_evidence` reads from ``raw``, as a hashable key.

    Equal keys give equal evidence: the scalar fields only count through ``_str`` (a string
    never equals a non-string) and ``trimmed`` through ``is True``; changelog entries are
    rendered with ``str()``, so a map holding anything but strings and None (``1`` equals
    ``True`` and ``1.0``) is not memoized. None = do not memoize.
    """
    changelog = raw.get("changelog")
    log_key: tuple[Any, ...] | None = None
    if isinstance(changelog, dict):
        cves = changelog.get("cves")
        cve_key: tuple[Any, ...] | None = None
        if isinstance(cves, dict):
            for entry in cves.values():
                if entry is not None and not isinstance(entry, str):
                    return None
            cve_key = tuple(cves.items())
        log_key = (
            changelog.get("error"),
            changelog.get("path"),
            changelog.get("trimmed") is True,
            cve_key,
        )
    return (
        raw.get("name"),
        raw.get("version"),
        raw.get("manager"),
        raw.get("candidate"),
        _held(raw),
        raw.get("upstream_version"),
        log_key,
    )


_SOCKET_CACHE: dict[tuple[Any, Any, Any], tuple[str | None, str]] = {}


def _socket(sock: dict[str, Any]) -> tuple[str | None, str]:
    """``("tcp/443", "network")`` for one listening socket; cached, sockets repeat a lot."""
    key = (sock.get("proto"), sock.get("address"), sock.get("port"))
    try:
        return _SOCKET_CACHE[key]
    except (KeyError, TypeError):
        pass
    proto = _str(key[0]) or "tcp"
    port = _int(key[2])
    address = (_str(key[1]) or "").strip("[]")
    if proto.lower().startswith("unix"):
        level = "loaded"
    elif _LOOPBACK_RE.match(address):
        level = "loopback"
    else:
        level = "network"
    result = (f"{proto}/{port}" if port is not None else None, level)
    try:
        if len(_SOCKET_CACHE) > 65536:
            _SOCKET_CACHE.clear()
        _SOCKET_CACHE[key] = result
    except TypeError:
        pass
    return result


def _listening(listening: list[dict[str, Any]]) -> tuple[list[str], str]:
    """Ports (sorted ``proto/port``) and exposure level of a process's listening sockets."""
    ports = set()
    level = "loaded"
    for sock in listening:
        port, sock_level = _socket(sock)
        if port:
            ports.add(port)
        if _EXPOSURE_RANK[sock_level] > _EXPOSURE_RANK[level]:
            level = sock_level
    return sorted(ports), level


_DISTRO_LIBDIRS = ("/usr/lib/", "/lib/", "/usr/lib64/", "/lib64/", "/usr/lib32/")


def _text_implementation(text: str | None) -> str:
    if not text:
        return "unknown"
    try:
        return str(versiontext.parse_version_line(text).get("implementation") or "unknown")
    except PatchwiseError:
        return "unknown"


_RUNNING_CACHE: dict[tuple[Any, Any], OpenSSLVersion | None] = {}


def _running_version(lib: dict[str, Any]) -> OpenSSLVersion | None:
    """The upstream version of the bytes a process maps: its version text, else its package."""
    key = (lib.get("version_text"), lib.get("package_version"))
    return _memoized(_RUNNING_CACHE, key, lambda: _running_version_uncached(lib))


def _running_version_uncached(lib: dict[str, Any]) -> OpenSSLVersion | None:
    text = _str(lib.get("version_text"))
    if text:
        try:
            parsed = versiontext.parse_version_line(text)
        except PatchwiseError:
            parsed = {}
        if parsed.get("implementation") in ASSESSED_IMPLEMENTATIONS:
            version = _parse_version(parsed.get("version"))
            if version is not None:
                return version.release
    upstream = upstream_of_package_version(_str(lib.get("package_version")))
    version = _parse_version(upstream)
    return version.release if version is not None else None


_LibraryView = tuple[
    "str | None", "str | None", bool, "str | None", "str | None", "str | None", Any
]


def _library_view(lib: dict[str, Any]) -> _LibraryView:
    """One ``processes[].libraries[]`` entry, normalised: (path, build id in lower case,
    replaced, stale reason, package version, version text, upstream version of the bytes it
    maps). Every value depends only on the entry (the memo key of
    :meth:`Assessor.library_view`: the strings count through ``_str``, the flags through
    ``is True``)."""
    return (
        _str(lib.get("path")),
        (_str(lib.get("build_id")) or "").lower() or None,
        lib.get("stale") is True or lib.get("deleted") is True,
        _str(lib.get("stale_reason")),
        _str(lib.get("package_version")),
        _str(lib.get("version_text")),
        _running_version(lib),
    )


def _container_evidence(cid: str) -> dict[str, Any]:
    """Package evidence for a distribution path inside a container: none is visible."""
    return {
        "name": f"container {cid}",
        "version": "?",
        "manager": None,
        "candidate": None,
        "held": None,
        "upstream": None,
        "changelog_usable": False,
        "changelog_error": "the container's package database is not in the host facts",
        "changelog_path": None,
        "trimmed": False,
        "cves": {},
        "key": ("container", cid),
    }


class _Copy:
    """One OpenSSL copy on the host: a library directory pair, a vendored copy, a runtime, a CLI."""

    def __init__(
        self, copy_id: str, kind: str, implementation: str, version_text: str | None
    ) -> None:
        self.id = copy_id
        self.kind = kind
        self.implementation = implementation
        self.version_text = version_text
        self.version: OpenSSLVersion | None = None
        self.paths: list[str] = []
        self.package: dict[str, Any] | None = None
        self.package_name: str | None = None
        self.package_version: str | None = None
        self.leftover = False
        self.processes: dict[int, dict[str, Any]] = {}
        self.notes: list[str] = []
        self.container: str | None = None
        self._label: str | None = None

    @property
    def label(self) -> str:
        """Short human name: the package (for distro copies) or the path."""
        if self._label is None:
            self._label = self._make_label()
        return self._label

    def _make_label(self) -> str:
        where = self.paths[0] if self.paths else self.id
        if self.kind == "library":
            where = where.rsplit("/", 1)[0] or "/"
        if self.package_name:
            return f"{self.package_name} {self.package_version or ''}".strip() + f" ({where})"
        return where


class _HostAssessment:
    """One host's assessment; a short-lived helper of :class:`Assessor`."""

    def __init__(self, assessor: Assessor, facts: Any, host: str | None) -> None:
        self.a = assessor
        self.host = host
        self.warnings: list[str] = list(assessor.warnings)
        self.facts = self._check_facts(facts)
        self.copies: dict[str, _Copy] = {}
        self.groups: dict[tuple[Any, ...], _Copy] = {}
        self.packages: dict[str, list[dict[str, Any]]] = {}
        self.index_path: dict[str, _Copy] = {}
        self.index_build: dict[str, _Copy] = {}
        self.processes: dict[int, dict[str, Any]] = {}
        self.unmatched: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self._exposure_cache: dict[tuple[int, ...], tuple[dict[str, Any], str]] = {}
        self.privileged = _bool(self.facts.get("privileged"))
        self.livepatched: dict[int, list[Any]] = {}

    # -- input --------------------------------------------------------------------------------

    def _check_facts(self, facts: Any) -> dict[str, Any]:
        if not isinstance(facts, dict) or not facts:
            self.warnings.append(
                "no OpenSSL facts for this host (run patchwise.openssl.openssl_facts first): "
                "nothing could be assessed"
            )
            return {}
        schema = facts.get("schema_version")
        if schema != SCHEMA_VERSION:
            self.warnings.append(
                f"facts schema_version {schema!r} is not {SCHEMA_VERSION}: assessed what could "
                "be read"
            )
        for name in _list(facts.get("warnings")):
            if isinstance(name, str):
                self.warnings.append(f"facts: {name}")
        return facts

    # -- building copies ----------------------------------------------------------------------

    def _package(self, name: str | None, version: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        candidates = self.packages.get(name, [])
        for pkg in candidates:
            if version is None or pkg["version"] == version:
                return pkg
        if candidates:
            return candidates[0]
        return {
            "name": name,
            "version": version or "?",
            "manager": None,
            "candidate": None,
            "held": None,
            "upstream": _parse_version(upstream_of_package_version(version)),
            "changelog_usable": False,
            "changelog_error": "package not in the facts' package list",
            "changelog_path": None,
            "trimmed": False,
            "cves": {},
            "key": (name, version, None, False, "missing", None, False, ()),
        }

    def _new_copy(
        self, copy_id: str, kind: str, entry: dict[str, Any], version_key: str = "version"
    ) -> _Copy:
        impl = (_str(entry.get("implementation")) or "unknown").lower()
        copy = _Copy(copy_id, kind, impl, _str(entry.get(version_key)))
        if copy.version_text is not None:
            copy.version = _parse_version(copy.version_text)
        self.copies[copy_id] = copy
        return copy

    def _build(self) -> None:
        facts = self.facts
        for raw in _list(facts.get("packages")):
            raw = _dict(raw)
            if _str(raw.get("name")):
                pkg = self.a.package_evidence(raw)
                self.packages.setdefault(pkg["name"], []).append(pkg)
        self._build_libraries()
        self._build_vendored()
        self._build_runtimes()
        self._build_cli()
        self._attach_processes()

    def _index(self, copy: _Copy, path: str | None, build_id: str | None) -> None:
        if path:
            self.index_path.setdefault(path, copy)
        if build_id:
            self.index_build.setdefault(build_id.lower(), copy)

    def _build_libraries(self) -> None:
        for raw in _list(self.facts.get("libraries")):
            lib = _dict(raw)
            path = _str(lib.get("path"))
            real = _str(lib.get("real_path")) or path
            if real is None:
                self.warnings.append("a library entry without a path was skipped")
                continue
            directory = real.rsplit("/", 1)[0] or "/"
            package = _str(lib.get("package"))
            pkg_version = _str(lib.get("package_version"))
            impl = (_str(lib.get("implementation")) or "unknown").lower()
            version = _str(lib.get("version"))
            group = (directory, impl, version, package, pkg_version)
            copy = self.groups.get(group)
            if copy is None:
                copy_id = f"library:{directory}@{version or impl}"
                if copy_id in self.copies:
                    copy_id += f"#{len(self.copies)}"
                copy = self._new_copy(copy_id, "library", lib)
                self.groups[group] = copy
            for p in (real, path):
                if p and p not in copy.paths:
                    copy.paths.append(p)
                self._index(copy, p, None)
            self._index(copy, None, _str(lib.get("build_id")))
            copy.leftover = copy.leftover or _bool(lib.get("leftover_series"))
            if package and not _bool(lib.get("unpackaged")):
                copy.package_name, copy.package_version = package, pkg_version
                copy.package = self._package(package, pkg_version)

    def _build_vendored(self) -> None:
        for raw in _list(self.facts.get("vendored")):
            entry = _dict(raw)
            path = _str(entry.get("path"))
            if path is None:
                self.warnings.append("a vendored entry without a path was skipped")
                continue
            if path in self.index_path:
                continue
            copy = self._new_copy(f"vendored:{path}", "vendored", entry)
            copy.paths.append(path)
            self._index(copy, path, None)
            package = _str(entry.get("package"))
            if package:
                copy.package_name = package
                pkg = self._package(package, None)
                # A bundling package's changelog is evidence only when the facts have it.
                copy.package = pkg if pkg and pkg["changelog_usable"] else None
                if copy.package is None:
                    copy.notes.append(
                        f"vendored in package {package}; no changelog evidence: judged by "
                        "its own upstream version"
                    )

    def _same_system_copy(self, impl: str, version: str | None) -> _Copy | None:
        for copy in self.copies.values():
            if (
                copy.kind == "library"
                and copy.implementation == impl
                and copy.version_text == version
            ):
                return copy
        return None

    def _build_runtimes(self) -> None:
        for raw in _list(self.facts.get("runtimes")):
            entry = _dict(raw)
            path = _str(entry.get("path")) or "?"
            impl = (_str(entry.get("implementation")) or "unknown").lower()
            system = self._same_system_copy(impl, _str(entry.get("version")))
            if system is not None:
                system.notes.append(f"runtime {path} reports the same library version")
                continue
            copy = self._new_copy(f"runtime:{path}", "runtime", entry)
            copy.paths.append(path)
            copy.notes.append(
                f"{_str(entry.get('language')) or 'runtime'} {path} reports "
                f"{_str(entry.get('version_text')) or 'an OpenSSL'} that matches no library on disk"
            )

    def _build_cli(self) -> None:
        for raw in _list(self.facts.get("cli")):
            entry = _dict(raw)
            path = _str(entry.get("real_path")) or _str(entry.get("path")) or "?"
            impl = (_str(entry.get("implementation")) or "unknown").lower()
            version = _str(entry.get("library_version")) or _str(entry.get("version"))
            system = self._same_system_copy(impl, version)
            if system is not None:
                system.notes.append(f"command {path} uses this library version")
                continue
            copy = self._new_copy(f"cli:{path}", "cli", entry)
            copy.version_text = version
            copy.version = _parse_version(version) if version else None
            copy.paths.append(path)
            pkg = entry.get("package")
            name = _str(pkg.get("name")) if isinstance(pkg, dict) else _str(pkg)
            if name:
                copy.package_name = name
                copy.package = self._package(name, None)

    def _attach_processes(self) -> None:
        live = _dict(self.facts.get("livepatch"))
        for raw in _list(live.get("patched")):
            pid = _int(_dict(raw).get("pid"))
            if pid is not None:
                self.livepatched.setdefault(pid, []).append(raw)
        for proc in _list(self.facts.get("processes")):
            if not isinstance(proc, dict):
                continue
            pid = _int(proc.get("pid"))
            if pid is None:
                continue
            raw_listening = proc.get("listening")
            if raw_listening:
                listening = [s for s in _list(raw_listening) if isinstance(s, dict)]
                ports, exposure = _listening(listening)
            else:
                listening, ports, exposure = [], [], "loaded"
            info = {
                "pid": pid,
                "comm": _str(proc.get("comm")) or _str(proc.get("exe")) or "?",
                "service": _str(proc.get("service")),
                "container": proc.get("container") or None,
                "listening": listening,
                "ports": ports,
                "exposure": exposure,
                "libs": [],
            }
            self.processes[pid] = info
            for lib in _list(proc.get("libraries")):
                if isinstance(lib, dict):
                    self._attach_library(info, lib)

    def _attach_library(self, proc: dict[str, Any], lib: dict[str, Any]) -> None:
        path, build_id, stale, stale_reason, package_version, text, running = self.a.library_view(
            lib
        )
        copy = self.index_build.get(build_id) if build_id else None
        if copy is None and path and not proc["container"]:
            copy = self.index_path.get(path)
        if not stale and copy is not None:
            running = None
        if copy is None and proc["container"] and path:
            copy = self._container_copy(proc, path, running, text)
            stale_for_judging = False  # judged by the bytes it maps; restart still reported
        else:
            stale_for_judging = stale
        if copy is None:
            self.unmatched.append(
                {
                    "pid": proc["pid"],
                    "comm": proc["comm"],
                    "path": path,
                    "container": proc["container"],
                    "reason": "library not in the facts' library list",
                }
            )
            return
        mapping = {
            "pid": proc["pid"],
            "path": path,
            "stale": stale_for_judging,
            "replaced": stale,
            "stale_reason": stale_reason,
            "build_id": build_id,
            "package_version": package_version,
            "running_version": running,
        }
        previous = copy.processes.get(proc["pid"])
        # A process holding both a fresh and a stale file of one copy is judged by the stale one.
        if previous is None or (stale and not previous["replaced"]):
            copy.processes[proc["pid"]] = mapping
        proc["libs"].append(copy.id)

    def _container_copy(
        self, proc: dict[str, Any], path: str, running: OpenSSLVersion | None, text: str | None
    ) -> _Copy:
        """A library seen only inside a container: judged by the version text it maps.

        libssl and libcrypto of one container directory form one copy (only libcrypto embeds
        the version text); a second version in the same directory gets its own copy.
        """
        container = proc["container"]
        cid = _str(container.get("id")) if isinstance(container, dict) else _str(container)
        cid = (cid or "?")[:12]
        directory = path.rsplit("/", 1)[0] or "/"
        key = ("container", cid, directory)
        copy = self.groups.get(key)
        if (
            copy is not None
            and running is not None
            and copy.version is not None
            and copy.version != running
        ):
            key = ("container", cid, directory, str(running))
            copy = self.groups.get(key)
        if copy is None:
            copy_id = f"container:{cid}:{directory}"
            if copy_id in self.copies:
                copy_id += f"@{running}"
            impl = _text_implementation(text) if text else "openssl"
            copy = _Copy(copy_id, "container", impl, None)
            copy.container = cid
            copy.package_name = f"container {cid}"
            self.copies[copy.id] = copy
            self.groups[key] = copy
        if path not in copy.paths:
            copy.paths.append(path)
        if copy.version is None and running is not None:
            copy.version = running
            copy.version_text = str(running)
            copy.implementation = "openssl"
            if path.startswith(_DISTRO_LIBDIRS):
                copy.package = _container_evidence(cid)
        return copy

    # -- judging ------------------------------------------------------------------------------

    def run(self, fail_on: str, include: tuple[str, ...] | None) -> dict[str, Any]:
        if self.facts:
            self._build()
        copies_out = []
        for copy in self.copies.values():
            copies_out.append(self._judge_copy(copy))
        return self._result(copies_out, fail_on, include)

    def _copy_finding(self, copy: _Copy, status: str, reason: str, detail: str) -> None:
        self.findings.append(
            {
                "cve": None,
                "severity": None,
                "title": None,
                "copy": copy.id,
                "location": copy.label,
                "scope": "installed",
                "status": status,
                "reason": reason,
                "detail": detail,
                "evidence": {
                    "implementation": copy.implementation,
                    "version_text": copy.version_text,
                },
                "pids": sorted(copy.processes),
            }
        )

    def _judge_copy(self, copy: _Copy) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": copy.id,
            "type": copy.kind,
            "paths": copy.paths,
            "implementation": copy.implementation,
            "version": copy.version_text,
            "branch": None,
            "package": None,
            "leftover_series": copy.leftover,
            "assessed": False,
            "reason": None,
            "lifecycle": None,
            "advice": [],
            "pids": sorted(copy.processes),
            "stale_pids": sorted(p for p, m in copy.processes.items() if m["replaced"]),
            "notes": copy.notes,
        }
        if copy.package is not None:
            out["package"] = {
                "name": copy.package["name"],
                "version": copy.package["version"],
                "candidate": copy.package["candidate"],
                "held": copy.package.get("held"),
                "changelog": copy.package["changelog_path"],
                "changelog_error": copy.package["changelog_error"],
            }
        elif copy.package_name:
            out["package"] = {"name": copy.package_name, "version": copy.package_version}
        if copy.implementation in LOOKALIKES:
            name = LOOKALIKES[copy.implementation]
            out["reason"] = f"{name} is not OpenSSL: OpenSSL's vulnerability data does not apply"
            self._copy_finding(copy, "not_assessed", "not_openssl", out["reason"])
            return out
        if copy.implementation not in ASSESSED_IMPLEMENTATIONS:
            out["reason"] = f"implementation {copy.implementation!r} is not recognised"
            if copy.implementation == "unknown" and copy.version_text is None:
                out["reason"] = (
                    "the facts do not show which library this is (no readable version text)"
                )
            self._copy_finding(copy, "unknown", "implementation_unknown", out["reason"])
            return out
        if copy.version is None or copy.version.is_fips_module:
            out["reason"] = f"version {copy.version_text!r} cannot be read as an OpenSSL version"
            if copy.kind == "container" and copy.version_text is None:
                out["reason"] = (
                    "the facts do not show the version of this container library (no version "
                    "text in the mapped files)"
                )
            self._copy_finding(copy, "unknown", "version_unreadable", out["reason"])
            return out
        version = copy.version.release
        out["assessed"] = True
        out["branch"] = version.branch
        if copy.implementation == "quictls":
            copy.notes.append("quictls is an OpenSSL fork: judged by its OpenSSL base version")
        if copy.version.is_prerelease:
            copy.notes.append(f"{copy.version} is a pre-release: judged as such")
        life = self.a.lifecycle(version)
        out["lifecycle"] = life
        newest = _parse_version(life.get("latest_public_fix"))
        try:
            beyond = newest is not None and version > newest
        except VersionError:
            beyond = False
        if beyond:
            note = (
                f"OpenSSL {version} is newer than the newest {version.branch} release the "
                f"vulnerability data knows ({newest}): issues fixed after the data date are "
                "not known"
            )
            copy.notes.append(note)
            self.warnings.append(f"{copy.label}: {note}")
        out["advice"] = self._advice(copy, version, life)
        self._judge_cves(copy, version)
        return out

    def _advice(self, copy: _Copy, version: OpenSSLVersion, life: dict[str, Any]) -> list[str]:
        advice = []
        pkg = copy.package
        if pkg and pkg["candidate"] and pkg["candidate"] != pkg["version"]:
            advice.append(f"install the distribution's candidate {pkg['name']} {pkg['candidate']}")
            if pkg.get("held") is True:
                advice.append(
                    f"{pkg['name']} is on hold (apt-mark hold): the patch refuses to upgrade it "
                    f"unless patch_allow_held=true, or after 'apt-mark unhold {pkg['name']}'"
                )
        latest = _parse_version(life.get("latest_public_fix"))
        if life["status"] == "supported" and latest is not None:
            try:
                if version < latest:
                    advice.append(
                        f"upstream: {latest} is the latest public release of branch "
                        f"{version.branch}"
                    )
            except VersionError:
                pass
        if life["status"] in ("end_of_life", "premium_only", "unknown"):
            nxt = life.get("next_lts")
            what = {
                "end_of_life": f"branch {version.branch} reached end of life on {life['eol']}",
                "premium_only": (
                    f"branch {version.branch} left public support on {life['eol']}; fixes are "
                    "released to premium-support customers only"
                ),
                "unknown": f"branch {version.branch} is not in the vulnerability database",
            }[life["status"]]
            advice.append(what + (f": move to LTS branch {nxt}" if nxt else ""))
        if copy.leftover and not copy.processes:
            advice.append(
                "leftover older series no process maps: remove the package if nothing needs it"
            )
        if any(m["replaced"] for m in copy.processes.values()):
            advice.append("restart the processes that still map a replaced file")
        if copy.kind == "container":
            advice.append(
                "judged by the library version the container's processes map; update the "
                "container image or its packages"
            )
        return advice

    def _process_class(self, copy: _Copy, mapping: dict[str, Any]) -> tuple[Any, ...]:
        patch = self._livepatch_for(mapping, copy)
        running: tuple[Any, ...] = ()
        if mapping["stale"]:
            running = (mapping["package_version"], str(mapping["running_version"]))
        return (mapping["stale"], running, patch["key"] if patch else None)

    def _livepatch_for(self, mapping: dict[str, Any], copy: _Copy) -> dict[str, Any] | None:
        entries = self.livepatched.get(mapping["pid"])
        if not entries:
            return None
        live = _dict(self.facts.get("livepatch"))
        for raw in entries:
            entry = _dict(raw)
            obj = _str(entry.get("object"))
            bid = (_str(entry.get("build_id")) or "").lower() or None
            same = (bid and bid == mapping["build_id"]) or (
                obj and (obj == mapping["path"] or obj in copy.paths)
            )
            if not same:
                continue
            cves = [c for c in _list(entry.get("cves")) if isinstance(c, str)]
            if not cves:
                cves = [c for c in _list(live.get("cves")) if isinstance(c, str)]
            return {
                "key": (obj, bid, tuple(sorted(cves)), _str(entry.get("source"))),
                "cves": set(cves),
                "evidence": {
                    "pid": mapping["pid"],
                    "object": obj,
                    "build_id": bid,
                    "patch_level": entry.get("patch_level"),
                    "source": _str(entry.get("source")),
                    "cves": sorted(cves),
                },
            }
        return None

    def _judge_cves(self, copy: _Copy, version: OpenSSLVersion) -> None:
        installed = self.a.installed_view(version, copy.package)
        rows_by_cve: dict[str, dict[str, Any]] = {row["cve"]: row for row in installed}
        by_cve = dict(rows_by_cve)
        # Processes that run the same thing (same class) get the same statuses: judge once.
        classes: dict[tuple[Any, ...], list[int]] = {}
        reps: dict[tuple[Any, ...], dict[str, Any]] = {}
        for pid, mapping in copy.processes.items():
            key = self._process_class(copy, mapping)
            classes.setdefault(key, []).append(pid)
            reps.setdefault(key, mapping)
        installed_key = (str(version), copy.package["key"] if copy.package else None)
        judged: list[tuple[list[int], dict[str, dict[str, Any]], dict[str, Any]]] = []
        for key, pids in classes.items():
            running, slot_keys = self._class_rows(copy, version, reps[key], by_cve, installed_key)
            judged.append((pids, running, slot_keys))
            for cve_id, row in running.items():
                if cve_id not in rows_by_cve:
                    # Only the old build has it: the installed bytes are fixed upstream.
                    rows_by_cve[cve_id] = self._fixed_row(row, version)
        for cve_id, base in rows_by_cve.items():
            slots: dict[Any, tuple[dict[str, Any], list[int]]] = {"installed": (base, [])}
            for pids, running, slot_keys in judged:
                row = running.get(cve_id, base)
                slot_key: Any = "installed"
                if row is not base:
                    slot_key = slot_keys.get(cve_id) or _slot_key(row)
                slots.setdefault(slot_key, (row, []))[1].extend(pids)
            for slot_key, (row, pids) in slots.items():
                self.findings.append(
                    self._finding(copy, row, sorted(pids), slot_key == "installed")
                )
        unknown_build = sorted(
            pid
            for key, pids in classes.items()
            if reps[key]["stale"] and reps[key]["running_version"] is None
            for pid in pids
        )
        if unknown_build:
            self.findings.append(
                {
                    "cve": None,
                    "severity": None,
                    "title": None,
                    "copy": copy.id,
                    "location": copy.label,
                    "scope": "running",
                    "status": "unknown",
                    "reason": "running_build_unknown",
                    "detail": (
                        "these processes map a replaced file whose version the facts do not "
                        "show; CVEs fixed only in the installed version are not listed for "
                        "them: restart them"
                    ),
                    "evidence": {"replaced": True},
                    "pids": unknown_build,
                    "exposure": {"level": "loaded", "listening": []},
                }
            )

    def _class_rows(
        self,
        copy: _Copy,
        version: OpenSSLVersion,
        mapping: dict[str, Any],
        by_cve: dict[str, dict[str, Any]],
        installed_key: tuple[Any, ...],
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """The rows of one class of processes by CVE, and the slot key of each running row.

        Memoized in the assessor for classes without live-patch evidence (the live-patch
        evidence names the pid): the rows depend only on the installed view, the running build
        and why the file counts as replaced; hosts running the same builds share them.
        """
        memo = None
        if self.a.memoize and self._livepatch_for(mapping, copy) is None:
            running_version = mapping["running_version"]
            memo = (
                installed_key,
                mapping["stale"],
                mapping["package_version"] if mapping["stale"] else None,
                str(running_version) if mapping["stale"] and running_version else None,
                mapping["stale_reason"] if mapping["stale"] else None,
            )
            found = self.a.class_rows_cache.get(memo)
            if found is not None:
                return found
        running = {row["cve"]: row for row in self._running_view(copy, version, mapping, by_cve)}
        if memo is None:
            return running, {}
        slot_keys = {
            cve_id: _slot_key(row)
            for cve_id, row in running.items()
            if by_cve.get(cve_id) is not row
        }
        cache = self.a.class_rows_cache
        if len(cache) >= _MEMO_LIMIT:
            cache.clear()
        cache[memo] = (running, slot_keys)
        return running, slot_keys

    def _fixed_row(self, running_row: dict[str, Any], version: OpenSSLVersion) -> dict[str, Any]:
        info = self.a.cve(running_row["cve"])
        return {
            "cve": info.id,
            "status": "fixed",
            "reason": "installed_version_fixed",
            "detail": f"the installed upstream {version} is not affected; the fix is on disk",
            "evidence": {"installed_version": str(version)},
        }

    def _running_view(
        self,
        copy: _Copy,
        version: OpenSSLVersion,
        mapping: dict[str, Any],
        by_cve: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Statuses for the processes of one class; same objects as installed when unchanged."""
        patch = self._livepatch_for(mapping, copy)
        rows: list[dict[str, Any]] = []
        if not mapping["stale"]:
            base = list(by_cve.values())
        else:
            base = self._stale_rows(copy, version, mapping, by_cve)
        for row in base:
            if patch and row["cve"] in patch["cves"] and row["status"] in ("vulnerable", "unknown"):
                evidence = dict(patch["evidence"])
                row = {
                    "cve": row["cve"],
                    "status": "patched_in_memory",
                    "reason": "livepatch",
                    "detail": (
                        f"live patch ({evidence['source']}) covers {row['cve']} in this process"
                    ),
                    "evidence": evidence,
                }
            rows.append(row)
        return rows

    def _stale_rows(
        self,
        copy: _Copy,
        version: OpenSSLVersion,
        mapping: dict[str, Any],
        by_cve: dict[str, dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Statuses for a process that maps a replaced file (docs/assessment.md, table R).

        The running bytes are known by their version text or package version when the facts
        have them; a changelog entry counts for them only when it is provably not newer than
        the running build. Otherwise the fix on disk never counts: restart required.
        """
        pkg = copy.package
        running_pkg = mapping["package_version"]
        running: OpenSSLVersion | None = mapping["running_version"]
        if running is not None and running.branch != version.branch:
            running = None
        cve_ids = list(by_cve)
        affecting_running: set[str] | None = None
        if running is not None:
            affecting_running = {m.cve.id for m in self.a.matches(running)}
            cve_ids += sorted(affecting_running - set(by_cve))
        changelog = pkg["cves"] if pkg and pkg["changelog_usable"] else {}
        why = f"maps a replaced file ({mapping['stale_reason'] or 'deleted'})"
        rows: list[dict[str, Any]] = []
        for cve_id in cve_ids:
            installed = by_cve.get(cve_id)
            if affecting_running is not None and cve_id not in affecting_running:
                rows.append(installed)  # type: ignore[arg-type] # only installed rows get here
                continue
            entry = changelog.get(cve_id)
            carried = self._running_carries(pkg, entry, running_pkg, running)
            if carried is True:
                rows.append(self._running_backport_row(cve_id, pkg, entry, running_pkg, running))
            elif carried is None and entry:
                rows.append(self._ambiguous_row(cve_id, entry, running))
            elif (
                entry or installed is None or installed["status"] in ("fixed", "fixed_by_backport")
            ):
                rows.append(self._restart_row(cve_id, why, running_pkg, running, installed))
            else:
                rows.append(installed)
        return rows

    @staticmethod
    def _running_carries(
        pkg: dict[str, Any] | None,
        entry: str | None,
        running_pkg: str | None,
        running: OpenSSLVersion | None,
    ) -> bool | None:
        """Does the running build carry the fix of changelog ``entry``? None = cannot tell."""
        if not entry:
            return False
        if running_pkg:
            cmp = package_compare(pkg["manager"] if pkg else None, entry, running_pkg)
            if cmp is not None:
                return cmp <= 0
        entry_upstream = _parse_version(upstream_of_package_version(entry))
        if running is None or entry_upstream is None:
            return False
        try:
            if entry_upstream.release < running:
                return True
            if entry_upstream.release > running:
                return False
        except VersionError:
            return False
        return None  # same upstream version, revision unknown

    @staticmethod
    def _running_backport_row(
        cve_id: str,
        pkg: dict[str, Any] | None,
        entry: str | None,
        running_pkg: str | None,
        running: OpenSSLVersion | None,
    ) -> dict[str, Any]:
        name = pkg["name"] if pkg else "?"
        build = running_pkg or f"upstream {running}"
        return {
            "cve": cve_id,
            "status": "fixed_by_backport",
            "reason": "changelog_names_cve",
            "detail": (
                f"{name} changelog entry {entry} names {cve_id}; the replaced file this process "
                f"maps ({build}) already carries it"
            ),
            "evidence": {
                "package": name,
                "changelog_entry": entry,
                "running_package_version": running_pkg,
                "running_version": str(running) if running else None,
            },
        }

    @staticmethod
    def _ambiguous_row(cve_id: str, entry: str, running: OpenSSLVersion | None) -> dict[str, Any]:
        return {
            "cve": cve_id,
            "status": "unknown",
            "reason": "running_revision_unknown",
            "detail": (
                f"the fix came with package {entry}; the replaced file this process maps is "
                f"upstream {running} of an unknown package revision: restart to be sure"
            ),
            "evidence": {"changelog_entry": entry, "running_version": str(running)},
        }

    @staticmethod
    def _restart_row(
        cve_id: str,
        why: str,
        running_pkg: str | None,
        running: OpenSSLVersion | None,
        installed: dict[str, Any] | None,
    ) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "running_package_version": running_pkg,
            "running_version": str(running) if running else None,
        }
        if installed is not None:
            evidence["installed_fix"] = installed["detail"]
        return {
            "cve": cve_id,
            "status": "vulnerable",
            "reason": "restart_required",
            "detail": f"the fix is installed but the process {why}: restart required",
            "evidence": evidence,
        }

    def _exposure_of(self, pids: list[int]) -> tuple[dict[str, Any], str]:
        """Exposure of a group of processes, and its rationale words; cached per host."""
        key = tuple(pids)
        cached = self._exposure_cache.get(key)
        if cached is not None:
            return cached
        listening = []
        level = "none" if not pids else "loaded"
        for pid in pids:
            proc = self.processes.get(pid)
            if proc is None:
                continue
            if _EXPOSURE_RANK[proc["exposure"]] > _EXPOSURE_RANK[level]:
                level = proc["exposure"]
            if proc["ports"]:
                listening.append(
                    {
                        "pid": pid,
                        "comm": proc["comm"],
                        "service": proc["service"],
                        "ports": proc["ports"],
                    }
                )
        if level == "none" and not self.privileged:
            level = "unseen"
        who = ""
        if listening:
            ports = sorted({p for x in listening for p in x["ports"]})
            names = sorted({x["service"] or x["comm"] for x in listening})
            who = f"; loaded by {', '.join(names)[:80]} listening on {', '.join(ports)[:80]}"
        elif pids:
            who = f"; loaded by {len(pids)} process(es)"
        cached = ({"level": level, "listening": listening}, who)
        self._exposure_cache[key] = cached
        return cached

    def _finding(
        self, copy: _Copy, row: dict[str, Any], pids: list[int], installed: bool
    ) -> dict[str, Any]:
        info = self.a.cve(row["cve"])
        exposure, who = self._exposure_of(pids)
        return {
            "cve": info.id,
            "severity": info.severity,
            "title": info.title,
            "disputed": info.disputed,
            "published": info.published_text,
            "copy": copy.id,
            "location": copy.label,
            "scope": "installed" if installed else "running",
            "status": row["status"],
            "reason": row["reason"],
            "detail": row["detail"],
            "evidence": row["evidence"],
            "pids": pids,
            "exposure": exposure,
            "_who": who,
        }

    # -- result -------------------------------------------------------------------------------

    def _result(
        self, copies: list[dict[str, Any]], fail_on: str, include: tuple[str, ...] | None
    ) -> dict[str, Any]:
        risk = _score(self.findings, copies)
        summary = self._summary(copies)
        gate = evaluate_fail_on(self.findings, fail_on)
        findings = self.findings
        if include is not None:
            findings = [f for f in findings if f["status"] in include]
        by_path: dict[Any, list[Any]] = {}
        for item in self.unmatched:
            by_path.setdefault(item["path"], []).append(item["pid"])
        for path, pids in by_path.items():
            shown = ", ".join(str(p) for p in sorted(set(pids))[:10])
            more = " ..." if len(set(pids)) > 10 else ""
            self.warnings.append(
                f"{len(set(pids))} process(es) ({shown}{more}) map {path}, which is not in the "
                "facts' library list: not assessed"
            )
        facts = self.facts
        distro = _dict(facts.get("distro"))
        return {
            "schema_version": SCHEMA_VERSION,
            "host": self.host,
            "assessed_on": str(self.a.today),
            "database": self.a.database,
            "facts": {
                "collected_at": facts.get("collected_at"),
                "privileged": _bool(facts.get("privileged")),
                "distro": " ".join(
                    x for x in (_str(distro.get("id")), _str(distro.get("version_id"))) if x
                )
                or None,
            },
            "copies": copies,
            "findings": findings,
            "unassessed_processes": self.unmatched,
            "summary": summary,
            "risk": risk,
            "gate": gate,
            "warnings": self.warnings,
        }

    def _summary(self, copies: list[dict[str, Any]]) -> dict[str, Any]:
        counts = {s: 0 for s in STATUSES}
        worst: dict[str, str] = {}
        rank = {
            s: i
            for i, s in enumerate(
                (
                    "not_assessed",
                    "fixed",
                    "fixed_by_backport",
                    "patched_in_memory",
                    "unknown",
                    "vulnerable",
                )
            )
        }
        vulnerable_pids = set()
        restart = set()
        exposed = set()
        for f in self.findings:
            counts[f["status"]] += 1
            if f["cve"]:
                prev = worst.get(f["cve"])
                if prev is None or rank[f["status"]] > rank[prev]:
                    worst[f["cve"]] = f["status"]
            if f["status"] == "vulnerable":
                vulnerable_pids.update(f["pids"])
                if f["exposure"]["level"] in ("network", "loopback"):
                    exposed.update(x["pid"] for x in f["exposure"]["listening"])
            if f["reason"] == "restart_required":
                restart.update(f["pids"])
        cves: dict[str, dict[str, int]] = {
            s: {sev: 0 for sev in (*SEVERITIES, UNRATED)} for s in STATUSES
        }
        for cve_id, status in worst.items():
            cves[status][self.a.cve(cve_id).severity] += 1
        stale = sorted(pid for c in copies for pid in c["stale_pids"])
        stale_set = set(stale)
        eol = sorted(
            {
                c["branch"]
                for c in copies
                if c["lifecycle"] and c["lifecycle"]["status"] in EOL_STATUSES
            }
        )
        installed_vulnerable = any(
            f["status"] == "vulnerable" and f["scope"] == "installed" for f in self.findings
        )
        restart_pids = sorted(restart | stale_set)
        services = sorted(
            {
                self.processes[p]["service"] or self.processes[p]["comm"]
                for p in restart_pids
                if p in self.processes
            }
        )
        top = None
        for sev in (*SEVERITIES, UNRATED):
            if cves["vulnerable"][sev]:
                top = sev
                break
        return {
            "findings": counts,
            "cves": cves,
            "cves_total": len(worst),
            "max_vulnerable_severity": top,
            "copies": len(copies),
            "copies_assessed": sum(1 for c in copies if c["assessed"]),
            "processes": len(self.processes),
            "vulnerable_processes": len(vulnerable_pids),
            "exposed_vulnerable_processes": len(exposed),
            "stale_processes": len(stale_set),
            "unassessed_processes": len({u["pid"] for u in self.unmatched}),
            "eol_branches": eol,
            "restart_required": [
                {
                    "pid": p,
                    "comm": self.processes[p]["comm"],
                    "service": self.processes[p]["service"],
                }
                for p in restart_pids
                if p in self.processes
            ],
            "restart_services": services,
            "restart_only": bool(restart_pids) and not installed_vulnerable,
        }


# =========================================================================================
# risk score and fail_on
# =========================================================================================


def _slot_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Processes whose rows for one CVE have equal keys share one finding."""
    return (row["status"], row["reason"], repr(sorted(row["evidence"].items())))


def _score(findings: list[dict[str, Any]], copies: list[dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for f in findings:
        factor = STATUS_FACTOR.get(f["status"], 0.0)
        if not f["cve"] or factor == 0.0 or f.get("disputed"):
            f["score"] = 0.0
        else:
            f["score"] = round(
                SEVERITY_WEIGHT[f["severity"]] * factor * EXPOSURE_FACTOR[f["exposure"]["level"]], 2
            )
        f["rationale"] = _rationale(f)
        if f["score"] > 0 and (f["cve"] not in best or f["score"] > best[f["cve"]][0]):
            best[f["cve"]] = (f["score"], f)
    eol = sorted(
        {c["branch"] for c in copies if c["lifecycle"] and c["lifecycle"]["status"] in EOL_STATUSES}
    )
    cve_points = round(sum(points for points, _finding in best.values()), 2)
    score = round(cve_points + EOL_POINTS * len(eol), 2)
    exposed_critical = any(
        f["severity"] == "critical"
        and f["status"] == "vulnerable"
        and f["exposure"]["level"] == "network"
        for _s, f in best.values()
    )
    priority = "none"
    if exposed_critical:
        priority = "critical"
    else:
        for name, threshold in PRIORITY_THRESHOLDS:
            if score > threshold or (threshold > 0 and score == threshold):
                priority = name
                break
    top = sorted(best.values(), key=lambda x: (-x[0], x[1]["cve"]))[:10]
    return {
        "score": score,
        "priority": priority,
        "cve_points": cve_points,
        "eol_points": EOL_POINTS * len(eol),
        "eol_branches": eol,
        "top": [{"cve": f["cve"], "points": s, "rationale": f["rationale"]} for s, f in top],
        "formula": RISK_FORMULA,
    }


def _rationale(f: dict[str, Any]) -> str:
    where = f["location"]
    if not f["cve"]:
        return f"{f['status']}: {where}: {f['detail']}"
    who = f.pop("_who", "")
    score = f" [+{f['score']:g}]" if f["score"] else ""
    return f"{f['cve']} ({f['severity']}) {f['status']} in {where}: {f['detail']}{who}{score}"


def evaluate_fail_on(findings: list[dict[str, Any]], fail_on: str) -> dict[str, Any]:
    """Does any vulnerable finding meet ``fail_on``? Unrated counts as meeting every level."""
    ranks = {"critical": 4, "high": 3, "moderate": 2, "low": 1}
    at_or_above = {sev: set() for sev in ranks}
    for f in findings:
        if f["status"] != "vulnerable" or not f["cve"] or f.get("disputed"):
            continue
        level = ranks.get(f["severity"], 5)  # unrated: cannot be shown to be below any level
        for sev, rank in ranks.items():
            if level >= rank:
                at_or_above[sev].add(f["cve"])
    counts = {sev: len(ids) for sev, ids in at_or_above.items()}
    exceeded = fail_on != "none" and counts[fail_on] > 0
    message = (
        "fail_on is none"
        if fail_on == "none"
        else (
            f"{counts[fail_on]} vulnerable CVE(s) at or above {fail_on}: "
            + ", ".join(sorted(at_or_above[fail_on])[:20])
            if exceeded
            else f"no vulnerable CVE at or above {fail_on}"
        )
    )
    return {
        "fail_on": fail_on,
        "exceeded": exceeded,
        "counts_at_or_above": counts,
        "message": message,
    }


def assess_host(
    facts: Any,
    db: Any,
    today: Any = None,
    host: str | None = None,
    fail_on: str = "none",
    include_statuses: Iterable[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One-shot helper: build an :class:`Assessor` and assess one host."""
    return Assessor(db, today, **kwargs).assess(facts, host, fail_on, include_statuses)
