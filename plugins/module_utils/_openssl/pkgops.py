# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package work for patch and rollback: plan, pre-flight, rollback points, upgrade, restore.

Only the OpenSSL packages are ever touched: on Debian every installed binary package built
from the ``openssl`` source (libssl3, libssl3t64, openssl, libssl-dev, ...); on the RHEL family
openssl, openssl-libs and friends; on SUSE openssl-N and libopensslN. Packages of an older
OpenSSL series (libssl1.1 left on Debian 12) are "leftover" and only included on request.

Every command goes through a ``run(argv) -> (rc, stdout, stderr)`` callable so unit tests can
feed recorded outputs. Parsers raise :class:`ParseError` or return explicit empty results.

Managers: :class:`AptManager` (live-tested), :class:`DnfManager`, :class:`YumManager` and
:class:`ZypperManager` (planning, rollback copies and restore, tested on recorded outputs of those
tools).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
import xml.etree.ElementTree as ET
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import debpack
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    ParseError,
    PatchwiseError,
    VersionError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.pkgversions import (
    compare_deb_versions,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versions import (
    OpenSSLVersion,
)

Run = Callable[[list], tuple]

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
DPKG_LOCKS = ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock")

# Environment for every package command: no prompts, no needrestart, no changelog pagers.
NONINTERACTIVE_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    "NEEDRESTART_MODE": "l",
    "NEEDRESTART_SUSPEND": "1",
    "APT_LISTCHANGES_FRONTEND": "none",
    "APT_LISTBUGS_FRONTEND": "none",
    "UCF_FORCE_CONFFOLD": "1",
    "LC_ALL": "C",
}
DPKG_CONF_OPTS = ["-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef"]


class PackageError(PatchwiseError):
    """A package operation cannot proceed (pre-flight failed, command failed, bad manifest)."""


# --- parsers ------------------------------------------------------------------------------------

# ``${Config-Version}`` is the version dpkg last configured successfully: empty for a fully
# installed package, the previous good version while a newer one is unpacked or half-configured.
DPKG_QUERY_FORMAT = (
    "${binary:Package}\\t${Package}\\t${Architecture}\\t${Version}\\t"
    "${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\t${Config-Version}\\n"
)

# dpkg's package states (second letter of ``${db:Status-Abbrev}``, third word of ``${Status}``).
DPKG_STATES = {
    "n": "not-installed",
    "c": "config-files",
    "H": "half-installed",
    "U": "unpacked",
    "F": "half-configured",
    "W": "triggers-awaited",
    "t": "triggers-pending",
    "i": "installed",
}
# The selection state (what the administrator asked for): first letter / first word.
DPKG_WANTS = {"u": "unknown", "i": "install", "h": "hold", "r": "deinstall", "p": "purge"}
# Files of the package are on disk, but dpkg did not finish installing or configuring it.
UNFINISHED_STATES = (
    "half-installed",
    "unpacked",
    "half-configured",
    "triggers-awaited",
    "triggers-pending",
)
DPKG_STATE_TEXT = {
    "not-installed": "not installed",
    "config-files": "config-files only",
    "half-installed": "half-installed",
    "unpacked": "unpacked, not configured",
    "half-configured": "half-configured",
    "triggers-awaited": "awaiting triggers",
    "triggers-pending": "triggers pending",
    "installed": "installed",
}


def dpkg_state_text(status: str) -> str:
    """Words for dpkg's status (``iF`` -> ``half-configured``)."""
    try:
        state = parse_dpkg_status(status)["state"]
    except ParseError:
        return f"dpkg state {status!r}"
    return DPKG_STATE_TEXT.get(state, state)


def post_change_problems(
    rows: dict[str, dict[str, Any]],
    expected: dict[str, str],
    word: str,
    held: list[dict[str, Any]],
) -> list[str]:
    """What is wrong after an upgrade or a restore: a package not at the ``expected`` version
    (``word``: "planned", "recorded"), one dpkg did not finish, one whose hold was lost.
    ``rows``: the package database now ({name: row of :func:`parse_dpkg_query`}), limited to
    the packages the run touched."""
    wrong = [
        f"{name} is {rows.get(name, {}).get('version')}, {word} {version}"
        for name, version in expected.items()
        if rows.get(name, {}).get("version") != version
    ]
    wrong += [
        f"{name} {row['version']} is {dpkg_state_text(row['status'])}"
        for name, row in sorted(rows.items())
        if row.get("unfinished")
    ]
    wrong += [
        f"{h['name']} is no longer on hold" for h in held if not rows.get(h["name"], {}).get("held")
    ]
    return wrong


def parse_dpkg_status(value: str) -> dict[str, Any]:
    """dpkg's status of one package → {want, state, reinst_required, unfinished}.

    Accepts ``${db:Status-Abbrev}`` (``ii ``, ``iF ``, ``iHR``) and ``${Status}``
    (``install ok half-configured``, ``install reinstreq half-installed``). ``unfinished`` is
    true when the package's files are (partly) on disk but dpkg did not complete it: a
    maintainer script failed, or dpkg was interrupted. Raises :class:`ParseError` otherwise.
    """
    text = value.strip()
    words = text.split()
    if len(words) == 3:
        want, flag, state = words
        if want not in DPKG_WANTS.values() or flag not in ("ok", "reinstreq"):
            raise ParseError(f"dpkg status: unknown want/flag in {value[:60]!r}")
        if state not in DPKG_STATES.values():
            raise ParseError(f"dpkg status: unknown state in {value[:60]!r}")
        reinst = flag == "reinstreq"
    elif len(words) == 1 and len(text) in (2, 3):
        want = DPKG_WANTS.get(text[0], "")
        state = DPKG_STATES.get(text[1], "")
        if not want or not state or text[2:] not in ("", "R"):
            raise ParseError(f"dpkg status abbreviation {value[:60]!r} is not known")
        reinst = text[2:] == "R"
    else:
        raise ParseError(f"dpkg status {value[:60]!r} is neither ${{Status}} nor an abbreviation")
    present = state not in ("not-installed", "config-files")
    return {
        "want": want,
        "state": state,
        "reinst_required": reinst,
        "unfinished": state in UNFINISHED_STATES or (reinst and present),
    }


def parse_dpkg_query(text: str) -> list[dict[str, Any]]:
    """Rows of ``dpkg-query -W -f=DPKG_QUERY_FORMAT`` (also the older 7-column format).

    ``installed`` is true for fully installed packages selected for install or on hold
    (``ii``, ``hi``); ``held`` is true for a package on hold (``apt-mark hold``, dpkg's
    selection ``hold``: the first letter ``h``), installed or not; ``want`` is the selection
    (``install``, ``hold``, ``deinstall``, ...; None when the status is not recognised);
    ``state`` is dpkg's word (``half-configured``, ...; None when the status is not
    recognised), ``unfinished`` is true for a package dpkg did not finish installing or
    configuring, ``config_version`` the version dpkg last configured successfully (None when
    dpkg has none or it was not queried).
    """
    packages = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) not in (7, 8):
            raise ParseError(f"dpkg-query line has {len(cols)} fields, expected 8: {line[:80]!r}")
        binary, name, arch, version, source, source_version, status = cols[:7]
        config_version = cols[7].strip() if len(cols) == 8 else ""
        try:
            parsed = parse_dpkg_status(status)
        except ParseError:
            parsed = {"want": None, "state": None, "reinst_required": False, "unfinished": False}
        packages.append(
            {
                "name": name,
                "binary": binary,
                "arch": arch,
                "version": version,
                "source": source or name,
                "source_version": source_version or version,
                "status": status.strip(),
                "installed": parsed["state"] == "installed"
                and not parsed["reinst_required"]
                and parsed["want"] in ("install", "hold"),
                "held": parsed["want"] == "hold",
                "want": parsed["want"],
                "state": parsed["state"],
                "unfinished": parsed["unfinished"],
                "config_version": config_version or None,
            }
        )
    return packages


def parse_apt_cache_policy(text: str) -> dict[str, dict[str, Any]]:
    """``apt-cache policy PKG...`` → {name: {installed, candidate, versions: [...]}}.

    ``installed``/``candidate`` are None for "(none)". Each version lists its ``sources``
    (``{priority, origin}``); ``/var/lib/dpkg/status`` alone means "installed, no repository
    offers it any more".
    """
    result: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    version: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" ") and line.endswith(":"):
            current = {"installed": None, "candidate": None, "versions": []}
            result[line[:-1]] = current
            version = None
            continue
        if current is None:
            raise ParseError(f"apt-cache policy: text before the first package: {line[:80]!r}")
        stripped = line.strip()
        if stripped.startswith(("Installed:", "Candidate:")):
            key, _sep, value = stripped.partition(":")
            value = value.strip()
            current[key.lower()] = None if value == "(none)" else value
            continue
        if stripped in ("Version table:",) or stripped.startswith("Package pin:"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        match = re.match(r"^(\*\*\* )?(\S+) (-?[0-9]{1,9})$", stripped)
        if match and (match.group(1) or indent <= 5):
            version = {
                "version": match.group(2),
                "priority": int(match.group(3)),
                "installed": bool(match.group(1)),
                "sources": [],
            }
            current["versions"].append(version)
            continue
        source = re.match(r"^(-?[0-9]{1,9}) (.+)$", stripped)
        if source and version is not None and indent > 5:
            version["sources"].append({"priority": int(source.group(1)), "origin": source.group(2)})
            continue
        raise ParseError(f"apt-cache policy: unexpected line {line[:80]!r}")
    return result


_SIM_RE = re.compile(
    r"^(?P<op>Inst|Remv|Conf|Purg) (?P<name>\S+)"
    r"(?: \[(?P<old>[^\]]+)\])?"
    r"(?: \((?P<new>\S+)(?P<rest>[^)]*)\))?"
)


_APT_HELD_HEADER = "The following held packages will be changed:"


def parse_apt_get_simulate(text: str) -> dict[str, Any]:
    """``apt-get -s install ...`` → installs (with old/new versions), removals, errors, held.

    ``held`` names the packages apt lists under "The following held packages will be
    changed:" (packages on hold that the request would change; apt's simulation exits 0 for
    them, a real ``apt-get install -y`` refuses them without ``--allow-change-held-packages``).
    """
    result: dict[str, Any] = {"install": [], "remove": [], "errors": [], "held": []}
    in_held = False
    for line in text.splitlines():
        if line.rstrip() == _APT_HELD_HEADER:
            in_held = True
            continue
        if in_held and line.startswith(" "):
            for word in line.split():
                name = word.split(":")[0]
                if name not in result["held"]:
                    result["held"].append(name)
            continue
        in_held = False
        if line.startswith("E: "):
            result["errors"].append(line[3:].strip())
            continue
        match = _SIM_RE.match(line)
        if not match:
            continue
        arch = None
        rest = match.group("rest") or ""
        arch_match = re.search(r"\[([a-z0-9-]+)\]\s*$", rest)
        if arch_match:
            arch = arch_match.group(1)
        entry = {
            "name": match.group("name").split(":")[0],
            "old": match.group("old"),
            "new": match.group("new"),
            "arch": arch,
        }
        if match.group("op") == "Inst":
            result["install"].append(entry)
        elif match.group("op") in ("Remv", "Purg"):
            result["remove"].append(entry)
    return result


_APT_UPDATE_FAILURES = ("E: ", "W: Failed to fetch", "Err:", "W: Some index files failed")


def parse_apt_update(text: str) -> list[str]:
    """Failures in ``apt-get update`` output. apt exits 0 even when a source failed."""
    errors = []
    for line in text.splitlines():
        if line.startswith(_APT_UPDATE_FAILURES):
            errors.append(line.strip())
    return errors


def parse_dpkg_errors(text: str) -> list[str]:
    """What failed in an apt/dpkg run: each ``dpkg: error processing package P (--configure):``
    with the reason on the lines after it, then apt's ``E:`` lines. [] when none."""
    errors: list[str] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^dpkg: error processing (?:package|archive) (\S+) \(([^)]*)\):", line)
        if match:
            reason = []
            for follow in lines[index + 1 : index + 4]:
                if not follow.startswith(" ") or not follow.strip():
                    break
                reason.append(follow.strip())
            errors.append(f"{match.group(1)} ({match.group(2)}): {' '.join(reason) or 'failed'}")
        elif line.startswith("E: "):
            errors.append(line.strip())
    return errors


_DNF_SKIP = ("Loaded plugins", "Loading mirror", "Last metadata", "Security:", "This system")


def parse_dnf_check_update(text: str) -> list[dict[str, Any]]:
    """``dnf/yum check-update`` → [{name, arch, version, repo}] (updates only, no obsoletes).

    Long fields wrap onto continuation lines; the three columns are joined back first.
    """
    tokens: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "Obsoleting Packages":
            break
        if not stripped or stripped.startswith(_DNF_SKIP) or stripped.startswith(":"):
            continue
        if stripped.startswith("* ") or " : " in stripped:
            continue
        tokens.extend(stripped.split())
    updates = []
    i = 0
    while i + 2 < len(tokens):
        name_arch, version, repo = tokens[i], tokens[i + 1], tokens[i + 2]
        if "." not in name_arch or not re.match(r"^(\d+:)?[^\s-]+-[^\s]+$", version):
            i += 1
            continue
        name, _dot, arch = name_arch.rpartition(".")
        updates.append({"name": name, "arch": arch, "version": version, "repo": repo})
        i += 3
    return updates


def parse_zypper_updates(text: str) -> list[dict[str, Any]]:
    """``zypper --xmlout list-updates`` → [{name, arch, version, old_version, repo}]."""
    start = text.find("<stream")
    if start < 0:
        raise ParseError("zypper output has no <stream> element")
    try:
        root = ET.fromstring(text[start:])  # noqa: S314 - trusted local command output
    except (ET.ParseError, ValueError, LookupError) as exc:  # not encodable, unknown encoding
        raise ParseError(f"zypper XML: {exc}") from exc
    updates = []
    for node in root.iter("update"):
        if node.get("kind", "package") != "package":
            continue
        source = node.find("source")
        updates.append(
            {
                "name": node.get("name"),
                "arch": node.get("arch"),
                "version": node.get("edition"),
                "old_version": node.get("edition-old"),
                "repo": source.get("alias") if source is not None else None,
            }
        )
    return updates


def _zypper_stream(text: str, what: str) -> ET.Element:
    start = text.find("<stream")
    if start < 0:
        raise ParseError(f"zypper {what}: output has no <stream> element")
    try:
        return ET.fromstring(text[start:])  # noqa: S314 - trusted local command output
    except (ET.ParseError, ValueError, LookupError) as exc:  # not encodable, unknown encoding
        raise ParseError(f"zypper {what} XML: {exc}") from exc


def parse_zypper_download(text: str) -> dict[str, Any]:
    """``zypper --xmlout download`` → {downloads: [{name, version, arch, path}], messages}.

    zypper exits 0 also when an argument resolves to no package or a download fails; only a
    ``<download-result>`` with a ``<localfile path=...>`` names a file (``path`` is None when
    zypper reports the result without one). ``messages`` keeps the warning and error texts.
    """
    root = _zypper_stream(text, "download")
    downloads = []
    for node in root.iter("download-result"):
        solvable = node.find("solvable")
        edition = solvable.find("edition") if solvable is not None else None
        localfile = node.find("localfile")
        version = None
        if edition is not None and edition.get("version"):
            version = f"{edition.get('version')}-{edition.get('release')}"
            if edition.get("epoch") not in (None, "", "0"):
                version = f"{edition.get('epoch')}:{version}"
        downloads.append(
            {
                "name": solvable.findtext("name") if solvable is not None else None,
                "version": version,
                "arch": solvable.findtext("arch") if solvable is not None else None,
                "path": (localfile.get("path") or None) if localfile is not None else None,
            }
        )
    messages = [
        (node.text or "").strip()
        for node in root.iter("message")
        if node.get("type") in ("warning", "error") and (node.text or "").strip()
    ]
    return {"downloads": downloads, "messages": messages}


RPM_QP_FORMAT = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"


def parse_rpm_qp(text: str) -> dict[str, str]:
    """``rpm -qp --qf RPM_QP_FORMAT FILE`` → {name, version, arch}; epoch 0 is dropped.

    The version is written as ``rpm -qa`` rows are read (:meth:`DnfManager.installed`), so a
    file and an installed package compare equal exactly when their NEVRA is the same.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ParseError(f"rpm -qp: expected one package line, got {len(lines)}: {text[:120]!r}")
    cols = lines[0].replace("\\t", "\t").split("\t")
    if len(cols) != 3 or not all(cols) or ":" not in cols[1]:
        raise ParseError(f"rpm -qp: unexpected line {lines[0][:120]!r}")
    name, version, arch = cols
    version = version[2:] if version.startswith("0:") else version
    return {"name": name, "version": version, "arch": arch}


def rpm_filename(pkg: dict[str, Any]) -> str:
    """``name-version-release.arch.rpm`` of a package (the epoch is not part of file names)."""
    return f"{pkg['name']}-{pkg['version'].split(':', 1)[-1]}.{pkg['arch']}.rpm"


def find_files(roots: tuple, filename: str, limit: int = 50000) -> list[str]:
    """Paths of ``filename`` below ``roots`` (package caches), at most ``limit`` entries read."""
    found: list[str] = []
    seen = 0
    for root in roots:
        for directory, _dirs, files in os.walk(root):
            seen += len(files)
            if filename in files:
                found.append(os.path.join(directory, filename))
            if seen > limit:
                return found
    return found


# --- selection ----------------------------------------------------------------------------------

_RPM_NAMES = re.compile(r"^(openssl|openssl-libs|openssl-devel|openssl-perl|openssl-static)$")
_RPM_LEFTOVER = re.compile(r"^(compat-openssl\d+|openssl\d+(\.\d+)?(-libs)?|openssl11(-libs)?)$")
_SUSE_NAMES = re.compile(
    r"^(openssl|openssl-\d+|libopenssl\d+(_\d+)?(-hmac)?|libopenssl-\d+-devel)$"
)


def upstream_branch(version: str) -> str | None:
    """OpenSSL branch ("3.0", "1.1.1") of a package version, None when not recognisable."""
    upstream = version.split(":", 1)[-1].split("-", 1)[0]
    upstream = re.sub(r"[+~].*$", "", upstream)
    try:
        return OpenSSLVersion.parse(upstream).branch
    except VersionError:
        return None


def select_openssl(
    installed: list[dict[str, Any]],
    manager: str,
    include_leftover: bool = False,
    names: list[str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(selected, leftover_skipped) among installed packages.

    ``names`` overrides detection (explicit list). The main series is the newest OpenSSL branch
    among the candidates; packages of an older branch are leftover. Packages dpkg did not
    finish (``unfinished``: half-configured, unpacked, ...) are selected too, so that a run
    reports them instead of leaving them out.
    """
    if names:
        chosen = [p for p in installed if p["name"] in names and _on_disk(p)]
    elif manager == "apt":
        chosen = [p for p in installed if p["source"] == "openssl" and _on_disk(p)]
    elif manager == "zypper":
        chosen = [p for p in installed if _SUSE_NAMES.match(p["name"])]
    else:
        chosen = [
            p for p in installed if _RPM_NAMES.match(p["name"]) or _RPM_LEFTOVER.match(p["name"])
        ]
    branches = {p["name"]: upstream_branch(p["version"]) for p in chosen}
    known = [b for b in branches.values() if b]
    main = max(known, key=lambda b: [int(x) for x in b.split(".")]) if known else None
    selected, leftover = [], []
    for pkg in chosen:
        branch = branches[pkg["name"]]
        is_leftover = bool(
            (main and branch and branch != main)
            or (manager != "apt" and _RPM_LEFTOVER.match(pkg["name"]))
        )
        pkg = dict(pkg, branch=branch, leftover=is_leftover)
        if is_leftover and not include_leftover and not names:
            leftover.append(pkg)
        else:
            selected.append(pkg)
    return selected, leftover


def _on_disk(pkg: dict[str, Any]) -> bool:
    return bool(pkg.get("installed", True) or pkg.get("unfinished"))


def unfinished_packages(
    installed: list[dict[str, Any]], points: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Packages dpkg did not finish, each with what is known about its last good version.

    ``config_version`` is the version dpkg last configured (the previous good one while a
    newer one is unpacked or half-configured; None when dpkg has none). ``rollback_points``
    lists the run ids of the given rollback points (oldest first, as
    ``list_rollback_points`` orders them) that hold a copy of the package at that version,
    newest first; without a ``config_version`` those holding any other version than the one
    on disk.
    """
    found = []
    for pkg in installed:
        if not pkg.get("unfinished"):
            continue
        good = pkg.get("config_version")
        holders = [
            point["run_id"]
            for point in reversed(points)
            if any(
                held["name"] == pkg["name"]
                and (held["version"] == good if good else held["version"] != pkg["version"])
                for held in point.get("packages", [])
            )
        ]
        found.append(
            {
                "name": pkg["name"],
                "arch": pkg.get("arch"),
                "version": pkg["version"],
                "status": pkg.get("status"),
                "state": pkg.get("state"),
                "config_version": good,
                "openssl": pkg.get("source") == "openssl",
                "rollback_points": holders,
            }
        )
    return found


def unfinished_message(unfinished: list[dict[str, Any]]) -> str:
    """Why a run refuses to touch a host whose package database dpkg did not finish."""
    described = []
    for pkg in unfinished:
        text = (
            f"{pkg['name']} {pkg['version']} is "
            f"{DPKG_STATE_TEXT.get(pkg['state'] or '', 'in dpkg state')} "
            f"(dpkg {pkg['status']!r}; "
        )
        if pkg["config_version"]:
            text += f"last configured version {pkg['config_version']}"
        else:
            text += "no earlier configured version known to dpkg"
        if pkg["rollback_points"] and pkg["config_version"]:
            text += f", kept in rollback point {pkg['rollback_points'][0]}"
        elif pkg["rollback_points"]:
            text += f"; rollback point {pkg['rollback_points'][0]} holds another version"
        described.append(text + ")")
    fixes = []
    common = set(unfinished[0]["rollback_points"]) if unfinished else set()
    for pkg in unfinished:
        common &= set(pkg["rollback_points"]) if pkg["openssl"] else set()
    first = unfinished[0]["rollback_points"] if unfinished else []
    covering = [run_id for run_id in first if run_id in common]
    if covering:
        fixes.append(
            f"roll back with state=restored run_id={covering[0]} (the rollback role does this), or"
        )
    broken = [
        f"{p['name']}={p['version']}"
        for p in unfinished
        if p["state"] == "half-installed" or (p["status"] or "").endswith("R")
    ]
    reinstall = (
        f", reinstall what dpkg half-installed ('apt-get install --reinstall {' '.join(broken)}')"
        if broken
        else ""
    )
    fixes.append(
        f"repair the cause and finish it with 'dpkg --configure -a'{reinstall} until "
        "'dpkg --audit' reports nothing, then run again"
    )
    return (
        "pre-flight: dpkg did not finish an earlier package run (a maintainer script failed or "
        f"it was interrupted): {'; '.join(described)}. An upgrade on top would make apt "
        "configure these first and could not record their previous good version; nothing was "
        f"changed. Fix it first: {' '.join(fixes)}"
    )


def held_packages(
    selected: list[dict[str, Any]], plan: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The selected packages on hold, each with its version and what the plan does to it.

    ``to`` and ``action`` come from ``plan`` (None before there is one); ``binary`` is dpkg's
    spelling (``libssl3:amd64``) for ``apt-mark``.
    """
    steps = {p["name"]: p for p in plan or []}
    held = []
    for pkg in selected:
        if not pkg.get("held"):
            continue
        step = steps.get(pkg["name"], {})
        held.append(
            {
                "name": pkg["name"],
                "binary": pkg.get("binary") or pkg["name"],
                "arch": pkg.get("arch"),
                "version": pkg["version"],
                "to": step.get("to"),
                "action": step.get("action"),
            }
        )
    return held


def held_message(blocked: list[dict[str, Any]], others: list[str] | None = None) -> str:
    """Why a run refuses to upgrade OpenSSL packages on hold, and the two ways on."""
    described = "; ".join(f"{p['name']} {p['version']} -> {p['to']}" for p in blocked)
    names = " ".join(p["name"] for p in blocked)
    together = (
        f" The OpenSSL packages move together, so {', '.join(others)} "
        "{verb} not upgraded either.".format(verb="is" if len(others) == 1 else "are")
        if others
        else ""
    )
    return (
        "pre-flight: OpenSSL packages on hold (apt-mark hold) would be upgraded: "
        f"{described}. A hold is an administrator's decision to keep a version; it is not "
        f"overridden without being asked, and nothing was changed.{together} To upgrade, "
        f"either remove the hold ('apt-mark unhold {names}') and run again, or run with "
        "allow_held=true (patch role: patch_allow_held: true), which upgrades them and puts "
        "the hold back afterwards. To keep the version, leave the host out of this run."
    )


# --- plan ---------------------------------------------------------------------------------------


def plan_apt(
    selected: list[dict[str, Any]],
    policy: dict[str, dict[str, Any]],
    version: str | None = None,
) -> list[dict[str, Any]]:
    """One entry per selected package: ``action`` upgrade | none | unavailable | downgrade."""
    plan = []
    for pkg in selected:
        info = policy.get(pkg["name"]) or policy.get(f"{pkg['name']}:{pkg['arch']}") or {}
        offered = [v["version"] for v in info.get("versions", []) if _from_repository(v)]
        target = version or info.get("candidate")
        entry = {
            "name": pkg["name"],
            "arch": pkg["arch"],
            "from": pkg["version"],
            "to": target,
            "leftover": pkg.get("leftover", False),
        }
        if not target or (version and version not in offered and version != pkg["version"]):
            entry.update(action="unavailable", to=target)
            entry["reason"] = (
                f"version {version} is not offered by any repository"
                if version
                else "no candidate version (no repository offers this package)"
            )
        else:
            cmp = compare_deb_versions(target, pkg["version"])
            entry["action"] = "none" if cmp == 0 else ("upgrade" if cmp > 0 else "downgrade")
        plan.append(entry)
    return plan


def _from_repository(version: dict[str, Any]) -> bool:
    return any(s["origin"] != "/var/lib/dpkg/status" for s in version.get("sources", []))


def plan_rpm(
    selected: list[dict[str, Any]], updates: list[dict[str, Any]], version: str | None = None
) -> list[dict[str, Any]]:
    """Plan for dnf/yum/zypper from their update lists (or a pinned version)."""
    by_name = {(u["name"], u["arch"]): u for u in updates}
    plan = []
    for pkg in selected:
        update = by_name.get((pkg["name"], pkg["arch"]))
        target = version or (update["version"] if update else pkg["version"])
        action = "none" if target == pkg["version"] else "upgrade"
        plan.append(
            {
                "name": pkg["name"],
                "arch": pkg["arch"],
                "from": pkg["version"],
                "to": target,
                "action": action,
                "leftover": pkg.get("leftover", False),
            }
        )
    return plan


def check_simulation(
    sim: dict[str, Any], plan: list[dict[str, Any]], allow_held: bool = False
) -> list[str]:
    """Problems in an apt simulation: errors, removals, packages outside the plan, and held
    packages it would change (the planned ones are allowed with ``allow_held``)."""
    planned = {p["name"] for p in plan if p["action"] == "upgrade"}
    problems = [f"apt: {e}" for e in sim["errors"]]
    for name in sim.get("held", []):
        if not (allow_held and name in planned):
            problems.append(f"apt would change {name}, which is on hold")
    for entry in sim["remove"]:
        problems.append(f"apt would remove {entry['name']} ({entry['old']})")
    for entry in sim["install"]:
        if entry["name"] not in planned:
            what = "upgrade" if entry["old"] else "install"
            problems.append(
                f"apt would also {what} {entry['name']} ({entry['old'] or 'new'} -> "
                f"{entry['new']}), which is not an OpenSSL package of the plan"
            )
    return problems


# --- pre-flight ---------------------------------------------------------------------------------


def lock_free(paths: tuple = DPKG_LOCKS) -> tuple[bool, str]:
    """Try each lock without waiting (and release it at once)."""
    for path in paths:
        if not os.path.exists(path):
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            return False, f"{path}: {exc.strerror} (package operations need root)"
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(fd, fcntl.LOCK_UN)
        except OSError:
            return False, f"{path} is held by {lock_holder(path) or 'another process'}"
        finally:
            os.close(fd)
    return True, ""


def lock_holder_pid(locks: str, inode: int, device: int) -> str:
    """Pid holding a lock on the file ``inode`` per /proc/locks text, or "".

    Lines read ``1: POSIX  ADVISORY  WRITE 4242 00:2f:1055 0 EOF`` (waiters: ``1: -> POSIX``).
    The inode is matched, its device preferred when it equals ``device`` (on overlayfs
    /proc/locks may name the upper layer's device). Pids are those of the reader's namespace.
    """
    wanted = f"{os.major(device):02x}:{os.minor(device):02x}"
    found: list[tuple[bool, str]] = []
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == "->" or not fields[4].isdigit():
            continue
        dev, _sep, ino = fields[5].rpartition(":")
        if ino == str(inode) and fields[4] != "0":
            found.append((dev == wanted, fields[4]))
    return sorted(found, reverse=True)[0][1] if found else ""


def lock_holder(path: str) -> str:
    """``pid N (comm)`` of the process holding a lock on ``path``, or "" when unknown."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            pid = lock_holder_pid(handle.read(), st.st_ino, st.st_dev)
    except OSError:
        return ""
    if not pid:
        return ""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return f"pid {pid} ({handle.read().strip()})"
    except OSError:
        return f"pid {pid}"


def wait_for_lock(
    timeout: float,
    paths: tuple = DPKG_LOCKS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the package locks for at most ``timeout`` seconds."""
    start = clock()
    while True:
        free, detail = lock_free(paths)
        waited = round(clock() - start, 1)
        if free:
            return {"free": True, "waited_seconds": waited, "detail": ""}
        if "need root" in detail or waited >= timeout:
            return {"free": False, "waited_seconds": waited, "detail": detail}
        sleep(min(2.0, max(0.1, timeout - waited)))


def free_space(paths: list[str], min_free_mb: int) -> dict[str, Any]:
    """Free space on the file systems of ``paths`` (nearest existing parent)."""
    checked, problems, seen = [], [], set()
    for path in paths:
        probe = path
        while not os.path.exists(probe) and probe not in ("/", ""):
            probe = os.path.dirname(probe)
        st = os.statvfs(probe or "/")
        key = st.f_fsid if hasattr(st, "f_fsid") else probe
        free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
        if key in seen:
            continue
        seen.add(key)
        checked.append({"path": path, "free_mb": free_mb})
        if free_mb < min_free_mb:
            problems.append(f"{path}: {free_mb} MiB free, {min_free_mb} MiB required")
    return {"checked": checked, "problems": problems, "ok": not problems}


# --- rollback points ----------------------------------------------------------------------------


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def valid_run_id(run_id: str) -> bool:
    return bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", run_id or ""))


def new_run_id(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ")


def make_private_dir(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def write_manifest(directory: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(directory, MANIFEST)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def load_manifest(path: str) -> dict[str, Any]:
    """Read and validate a rollback manifest; raises PackageError with a clear message."""
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except OSError as exc:
        raise PackageError(f"rollback point {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise PackageError(f"rollback point {path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise PackageError(f"rollback point {path}: unknown manifest format")
    packages = manifest.get("packages")
    if not isinstance(packages, list) or not packages:
        raise PackageError(f"rollback point {path} lists no packages")
    for pkg in packages:
        if not isinstance(pkg, dict) or not all(
            isinstance(pkg.get(k), str) for k in ("name", "arch", "version", "file", "sha256")
        ):
            raise PackageError(f"rollback point {path}: incomplete package entry {pkg!r}")
    return manifest


def verify_manifest_files(directory: str, manifest: dict[str, Any]) -> list[str]:
    """Integrity problems of the local copies (missing file, sha256 mismatch)."""
    problems = []
    for pkg in manifest["packages"]:
        path = os.path.join(directory, os.path.basename(pkg["file"]))
        if not os.path.isfile(path):
            problems.append(f"{pkg['name']}: local copy {path} is missing")
        elif sha256_file(path) != pkg["sha256"]:
            problems.append(f"{pkg['name']}: local copy {path} does not match its sha256")
    return problems


def list_rollback_points(root: str) -> list[dict[str, Any]]:
    """Rollback points under ``root``, oldest first.

    Entries starting with ``.`` are points still being written (renamed into place when
    complete) and never listed.
    """
    points = []
    if not os.path.isdir(root):
        return points
    for entry in sorted(os.listdir(root)):
        if entry.startswith("."):
            continue
        path = os.path.join(root, entry, MANIFEST)
        if not os.path.isfile(path):
            continue
        try:
            manifest = load_manifest(path)
        except PackageError:
            continue
        points.append(
            {
                "run_id": entry,
                "created_at": manifest.get("created_at", ""),
                "path": os.path.dirname(path),
            }
        )
    return sorted(points, key=lambda p: (p["created_at"], p["run_id"]))


def prune_rollback_points(root: str, keep: int, protect: str) -> list[str]:
    """Remove the oldest rollback points beyond ``keep``; never ``protect``."""
    points = list_rollback_points(root)
    removed = []
    excess = len(points) - max(keep, 1)
    for point in points:
        if excess <= 0:
            break
        if point["run_id"] == protect:
            continue
        shutil.rmtree(point["path"], ignore_errors=True)
        removed.append(point["run_id"])
        excess -= 1
    return removed


# --- managers -----------------------------------------------------------------------------------


class Manager:
    """Base strategy: one subclass per package manager."""

    name = "unknown"

    def __init__(self, run: Run, lists_dir: str | None = None) -> None:
        self.run = run
        self.lists_dir = lists_dir
        self.warnings: list[str] = []

    def _ok(self, argv: list[str], what: str) -> str:
        rc, out, err = self.run(argv)
        if rc != 0:
            detail = (err or out).strip().splitlines()[-3:]
            raise PackageError(f"{what} failed (rc={rc}): {' / '.join(detail)}")
        return out

    def hold(self, binaries: list[str]) -> None:
        """Put packages on hold again; holds are read on dpkg systems only."""
        if binaries:
            raise PackageError(f"{self.name}: holds are not supported ({', '.join(binaries)})")


class AptManager(Manager):
    """dpkg/apt. In check mode ``lists_dir`` is a private copy of apt's lists directory."""

    name = "apt"

    def _apt_opts(self) -> list[str]:
        if not self.lists_dir:
            return []
        return [
            "-o", f"Dir::State::Lists={self.lists_dir}",
            "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
            "-o", "Debug::NoLocking=1",
        ]  # fmt: skip

    def installed(self) -> list[dict[str, Any]]:
        out = self._ok(["dpkg-query", "-W", f"-f={DPKG_QUERY_FORMAT}"], "dpkg-query")
        return parse_dpkg_query(out.replace("\\t", "\t"))

    def update_cache(self, lock_timeout: int) -> list[str]:
        argv = ["apt-get", "update", "-q", *self._apt_opts()]
        if not self.lists_dir:
            argv += ["-o", f"DPkg::Lock::Timeout={lock_timeout}"]
        rc, out, err = self.run(argv)
        errors = parse_apt_update(out + "\n" + err)
        if rc != 0 and not errors:
            errors = [f"apt-get update exited {rc}: {err.strip()[-300:]}"]
        return errors

    def policy(self, names: list[str]) -> dict[str, dict[str, Any]]:
        if not names:
            return {}
        out = self._ok(["apt-cache", *self._apt_opts(), "policy", *names], "apt-cache policy")
        return parse_apt_cache_policy(out)

    def simulate(self, plan: list[dict[str, Any]]) -> dict[str, Any]:
        targets = [f"{p['name']}:{p['arch']}={p['to']}" for p in plan if p["action"] == "upgrade"]
        argv = ["apt-get", "-s", "-q", *self._apt_opts(), "install", "--no-install-recommends"]
        rc, out, err = self.run([*argv, *targets])
        sim = parse_apt_get_simulate(out + "\n" + err)
        if rc != 0 and not sim["errors"]:
            sim["errors"].append(f"apt-get -s exited {rc}")
        return sim

    def upgrade(
        self, plan: list[dict[str, Any]], lock_timeout: int, allow_held: bool = False
    ) -> None:
        """Install the planned versions. ``allow_held`` lets apt change packages on hold
        (``--allow-change-held-packages``); apt then drops their hold: see :meth:`hold`."""
        targets = [f"{p['name']}:{p['arch']}={p['to']}" for p in plan if p["action"] == "upgrade"]
        argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "--only-upgrade"]
        if allow_held:
            argv.append("--allow-change-held-packages")
        argv += [*DPKG_CONF_OPTS, "-o", f"DPkg::Lock::Timeout={lock_timeout}", *targets]
        rc, out, err = self.run(argv)
        if rc != 0:
            errors = parse_dpkg_errors(out + "\n" + err) or (err or out).strip().splitlines()[-3:]
            raise PackageError(f"apt-get install failed (rc={rc}): {'; '.join(errors)}")

    def copy_package(self, pkg: dict[str, Any], dest: str) -> dict[str, Any]:
        """Local copy of the exact installed version: apt cache, download, or rebuild."""
        filename = debpack.deb_filename(pkg["name"], pkg["version"], pkg["arch"])
        target = os.path.join(dest, filename)
        cached = os.path.join("/var/cache/apt/archives", filename)
        if os.path.isfile(cached) and self._deb_matches(cached, pkg):
            shutil.copyfile(cached, target)
            return {"file": filename, "origin": "apt-cache"}
        argv = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"]
        rc, _out, err = self.run([*argv, f"{pkg['name']}:{pkg['arch']}={pkg['version']}"], cwd=dest)
        if rc == 0 and os.path.isfile(target) and self._deb_matches(target, pkg):
            return {"file": filename, "origin": "download"}
        if os.path.exists(target):
            os.unlink(target)
        reason = err.strip().splitlines()[-1] if err.strip() else f"rc={rc}"
        rebuilt = debpack.repack(pkg["name"], pkg["arch"], dest, self.run)
        self.warnings.extend(f"{pkg['name']} rebuilt: {w}" for w in rebuilt["warnings"])
        return {
            "file": os.path.basename(rebuilt["path"]),
            "origin": "rebuilt",
            "note": f"not in apt's cache and not downloadable ({reason}); rebuilt from the "
            "installed files",
        }

    def _deb_matches(self, path: str, pkg: dict[str, Any]) -> bool:
        rc, out, _err = self.run(["dpkg-deb", "-f", path, "Package", "Version", "Architecture"])
        if rc != 0:
            return False
        fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        return (fields.get("Package"), fields.get("Version"), fields.get("Architecture")) == (
            pkg["name"],
            pkg["version"],
            pkg["arch"],
        )

    def restore(self, files: list[str]) -> None:
        self._ok(["dpkg", "-i", "--force-confold", "--force-downgrade", *files], "dpkg -i")

    def hold(self, binaries: list[str]) -> None:
        """Put packages (dpkg's spelling, ``libssl3:amd64``) on hold again: ``apt-get install
        --allow-change-held-packages`` and ``dpkg -i`` both set their selection to install."""
        if binaries:
            self._ok(["apt-mark", "hold", *binaries], "apt-mark hold")

    def audit(self) -> str:
        rc, out, err = self.run(["dpkg", "--audit"])
        return (out + err).strip() if rc == 0 else (out + err).strip() or f"dpkg --audit rc={rc}"


class DnfManager(Manager):
    """rpm + dnf (or yum): planned from ``check-update``, upgraded with ``dnf upgrade``."""

    name = "dnf"
    tool = "dnf"
    RPM_FORMAT = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n"

    def installed(self) -> list[dict[str, Any]]:
        out = self._ok(["rpm", "-qa", "--qf", self.RPM_FORMAT], "rpm -qa")
        packages = []
        for line in out.replace("\\t", "\t").splitlines():
            cols = line.split("\t")
            if len(cols) != 4:
                continue
            name, version, arch, source = cols
            version = version[2:] if version.startswith("0:") else version
            packages.append(
                {
                    "name": name,
                    "arch": arch,
                    "version": version,
                    "source": source.rsplit("-", 2)[0],
                    "installed": True,
                }
            )
        return packages

    def updates(self, names: list[str]) -> list[dict[str, Any]]:
        rc, out, err = self.run([self.tool, "-q", "check-update", *names])
        if rc not in (0, 100):  # 100 = updates available
            raise PackageError(f"{self.tool} check-update failed (rc={rc}): {err.strip()[-300:]}")
        return parse_dnf_check_update(out)

    def upgrade(
        self, plan: list[dict[str, Any]], lock_timeout: int, allow_held: bool = False
    ) -> None:
        # Holds (dnf versionlock, zypper locks) are not read on rpm systems: allow_held is moot.
        targets = [
            f"{p['name']}-{p['to'].split(':', 1)[-1]}.{p['arch']}"
            for p in plan
            if p["action"] == "upgrade"
        ]
        self._ok([self.tool, "-y", "upgrade", *targets], f"{self.tool} upgrade")

    # Where the manager may have kept the installed rpm (keepcache=1 / keeppackages).
    cache_roots: tuple = ("/var/cache/dnf", "/var/cache/libdnf5")

    def copy_package(self, pkg: dict[str, Any], dest: str) -> dict[str, Any]:
        """Local copy of the exact installed NEVRA: the package cache, else a download.

        Every candidate file is checked with ``rpm -qp`` (name, epoch:version-release, arch)
        before it is kept; there is no rebuild from installed files on rpm systems.
        """
        filename = rpm_filename(pkg)
        target = os.path.join(dest, filename)
        for cached in find_files(self.cache_roots, filename):
            if self.rpm_matches(cached, pkg):
                shutil.copyfile(cached, target)
                return {"file": filename, "origin": f"{self.tool}-cache"}
        scratch = tempfile.mkdtemp(prefix=".download-", dir=dest)
        try:
            problem = self._download(pkg, scratch)
            for path in sorted(find_files((scratch,), filename) or self._rpms(scratch)):
                if self.rpm_matches(path, pkg):
                    shutil.move(path, target)
                    return {"file": filename, "origin": "download"}
            raise PackageError(
                f"{pkg['name']} {pkg['version']} ({pkg['arch']}): no local copy for the rollback "
                f"point: not in the package cache and {problem or 'the download did not yield it'}"
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def nevra(self, pkg: dict[str, Any]) -> str:
        """``name-[epoch:]version-release.arch`` (dnf and yumdownloader accept the epoch)."""
        return f"{pkg['name']}-{pkg['version']}.{pkg['arch']}"

    def _download(self, pkg: dict[str, Any], scratch: str) -> str:
        """Download into ``scratch``; the problem text, or "" when the command succeeded."""
        rc, out, err = self.run(
            [self.tool, "-q", "download", "--destdir", scratch, self.nevra(pkg)]
        )
        if rc == 0:
            return ""
        lines = (err or out).strip().splitlines()
        detail = lines[-1] if lines else f"rc={rc}"
        hint = ""
        if "No such command" in (err + out):
            hint = " (the download command comes with dnf-plugins-core)"
        return f"{self.tool} download failed: {detail}{hint}"

    @staticmethod
    def _rpms(directory: str) -> list[str]:
        return [
            os.path.join(d, f)
            for d, _s, files in os.walk(directory)
            for f in files
            if f.endswith(".rpm")
        ]

    def rpm_matches(self, path: str, pkg: dict[str, Any]) -> bool:
        """The file at ``path`` is exactly the package (name, epoch:version-release, arch)."""
        rc, out, _err = self.run(["rpm", "-qp", "--qf", RPM_QP_FORMAT, path])
        if rc != 0:
            return False
        try:
            got = parse_rpm_qp(out)
        except ParseError:
            return False
        return (got["name"], got["version"], got["arch"]) == (
            pkg["name"],
            pkg["version"],
            pkg["arch"],
        )

    def restore(self, files: list[str]) -> None:
        # --replacepkgs: a package already at the recorded version is reinstalled instead of
        # failing the whole transaction ("package ... is already installed", rc 4).
        self._ok(["rpm", "-Uvh", "--oldpackage", "--replacepkgs", *files], "rpm -U --oldpackage")

    def audit(self) -> str:
        rc, out, err = self.run(["rpm", "-Va", "--nofiles", "--nodigest"])
        return "" if rc == 0 else (out + err).strip()


class ZypperManager(DnfManager):
    """rpm + zypper: planned from ``zypper --xmlout list-updates``."""

    name = "zypper"
    tool = "zypper"

    def updates(self, names: list[str]) -> list[dict[str, Any]]:
        rc, out, err = self.run(["zypper", "--non-interactive", "--xmlout", "list-updates"])
        if rc != 0:
            raise PackageError(f"zypper list-updates failed (rc={rc}): {err.strip()[-300:]}")
        return [u for u in parse_zypper_updates(out) if not names or u["name"] in names]

    def upgrade(
        self, plan: list[dict[str, Any]], lock_timeout: int, allow_held: bool = False
    ) -> None:
        # Holds (dnf versionlock, zypper locks) are not read on rpm systems: allow_held is moot.
        targets = [f"{p['name']}={p['to']}" for p in plan if p["action"] == "upgrade"]
        self._ok(
            ["zypper", "--non-interactive", "install", "--no-recommends", *targets],
            "zypper install",
        )

    # keeppackages: /var/cache/zypp/packages/<repository alias>/[<arch>/]<file>.rpm
    cache_roots = ("/var/cache/zypp/packages",)

    def _download(self, pkg: dict[str, Any], scratch: str) -> str:
        """``zypper download`` of the exact edition into ``scratch`` (--pkg-cache-dir).

        zypper exits 0 even when the edition is not offered or the file cannot be retrieved;
        the XML says which file, if any, it wrote.
        """
        spec = f"{pkg['name']}.{pkg['arch']}={pkg['version']}"
        rc, out, err = self.run(
            [
                "zypper",
                "--non-interactive",
                "--xmlout",
                "--pkg-cache-dir",
                scratch,
                "download",
                spec,
            ]
        )
        try:
            result = parse_zypper_download(out)
        except ParseError as exc:
            lines = (err or out).strip().splitlines()
            return f"zypper download {spec} failed (rc={rc}): {lines[-1] if lines else exc}"
        if any(d["path"] and os.path.isfile(d["path"]) for d in result["downloads"]):
            return ""
        detail = "; ".join(result["messages"]) or f"no file reported (rc={rc})"
        return f"zypper download {spec}: {detail}"


class YumManager(DnfManager):
    """rpm + yum without dnf (EL7): copies with ``yumdownloader`` from yum-utils."""

    name = "yum"
    tool = "yum"
    cache_roots = ("/var/cache/yum",)
    which: Callable[[str], Any] = staticmethod(shutil.which)

    def _download(self, pkg: dict[str, Any], scratch: str) -> str:
        if not self.which("yumdownloader"):
            return "yumdownloader is missing (install yum-utils to keep rollback copies)"
        rc, out, err = self.run(["yumdownloader", "-q", "--destdir", scratch, self.nevra(pkg)])
        if rc == 0:
            return ""
        lines = (err or out).strip().splitlines()
        return f"yumdownloader failed: {lines[-1] if lines else f'rc={rc}'}"


MANAGERS = {"apt": AptManager, "dnf": DnfManager, "yum": YumManager, "zypper": ZypperManager}


def private_lists_dir() -> str:
    """A scratch copy of apt's lists directory for check mode (apt-get update writes there)."""
    tmp = tempfile.mkdtemp(prefix="patchwise-apt-lists-")
    source = "/var/lib/apt/lists"
    if os.path.isdir(source):
        for entry in os.listdir(source):
            path = os.path.join(source, entry)
            if os.path.isfile(path) and entry != "lock":
                shutil.copy2(path, tmp)
    os.makedirs(os.path.join(tmp, "partial"), exist_ok=True)
    return tmp


def host_name() -> str:
    return socket.gethostname()
