# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package managers as strategy classes: installed OpenSSL packages, file owners, candidates and
changelog backport evidence.

Every command goes through the injected ``run(argv) -> (rc, stdout, stderr)`` callable, so unit
tests feed recorded outputs. No command refreshes a package cache (download new lists).

On hosts whose apt keeps no binary cache (``Dir::Cache::srcpkgcache ""``, as container images
configure it), ``apt-cache policy`` parses every package list on each call (0.3-0.4 s on a
Debian 12 host, the slowest step of the facts). Run as root, the candidate query then gives apt
a source cache of its own under a private directory: apt builds it once, checks it against the
lists on every later call itself and rebuilds it when they change, exactly as with its default
cache; nothing of the host's apt configuration changes.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.changelogs import (
    parse_debian_changelog,
    parse_rpm_changelog,
    read_gzip_text,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError

Runner = Callable[[list], "tuple[int, str, str]"]

OPENSSL_SOURCES = frozenset(
    {
        "openssl",
        "openssl1.0",
        "openssl1.1",
        "openssl3",
        "openssl11",
        "openssl-1_1",
        "openssl-3",
        "libressl",
        "quictls",
        "aws-lc",
        "boringssl",
        "openssl098",
    }
)
OPENSSL_NAME_RE = re.compile(
    r"^(?:libssl\d[\w.]*|libssl|openssl[\w.\-]*|libopenssl[\w.\-]*|libcrypto\d*[\w.]*|libressl[\w.\-]*)$"
)
BATCH = 200


def _batches(items: list[str], size: int = BATCH) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _is_number(text: str) -> bool:
    """ASCII digits that int() converts (``"²".isdigit()`` is True; int() refuses it, and
    numbers longer than 4300 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def split_evr(version: str) -> dict[str, Any]:
    """Split ``[epoch:]upstream[-release]`` (Debian and RPM spelling)."""
    epoch = None
    rest = version
    if ":" in version:
        head, _sep, tail = version.partition(":")
        if _is_number(head):
            epoch, rest = int(head), tail
    upstream, sep, release = rest.rpartition("-")
    if not sep:
        upstream, release = rest, None
    return {"epoch": epoch, "upstream_version": upstream, "release": release}


def usrmerge_variants(path: str) -> list[str]:
    """dpkg records ``/usr/lib/...`` while ldconfig may print ``/lib/...`` (and vice versa)."""
    variants = [path]
    for short in ("/lib/", "/lib64/", "/bin/", "/sbin/"):
        if path.startswith(short):
            variants.append("/usr" + path)
        elif path.startswith("/usr" + short):
            variants.append(path[4:])
    return variants


APT_SOURCE_CACHE = "srcpkgcache.bin"
_SHELL_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_apt_config_shell(text: str) -> dict[str, str]:
    """``apt-config shell NAME KEY ...`` output (``NAME='value'``, a quote inside written
    ``'\\''``) -> {NAME: value}; lines of any other shape are ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _SHELL_LINE.match(line.strip())
        if not match:
            continue
        raw = match.group(2)
        if len(raw) >= 2 and raw[0] == raw[-1] == "'":
            raw = raw[1:-1].replace("'\\''", "'")
        values[match.group(1)] = raw
    return values


def private_cache_dir(path: str, warnings: list[str]) -> str | None:
    """``path`` created (0755) if missing; returned only when it is a real directory owned by
    this user and writable by nobody else (apt trusts what it reads from its cache)."""
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        warnings.append(f"candidate cache directory {path}: {exc.strerror or exc}; not used")
        return None
    if not os.path.isdir(path) or os.path.islink(path):
        warnings.append(f"candidate cache directory {path} is not a directory; not used")
        return None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        warnings.append(
            f"candidate cache directory {path} is owned by uid {st.st_uid} or writable by "
            "others; not used"
        )
        return None
    return path


class PackageManager:
    """Base strategy. Subclasses implement the four queries for one package format."""

    manager = "unknown"

    def __init__(self, run: Runner, warnings: list[str]) -> None:
        self.run = run
        self.warnings = warnings
        # the private package-cache file the candidate query used, when it used one
        self.cache: dict[str, Any] | None = None

    def installed(self) -> list[dict[str, Any]]:  # pragma: no cover - interface
        return []

    def owners(self, paths: list[str]) -> dict[str, str]:  # pragma: no cover - interface
        """Owning package of each path, spelled as the package manager prints it (dpkg adds
        ``:arch`` for Multi-Arch: same packages): the ``binary`` of an installed package."""
        return {}

    def candidates(self, names: list[str]) -> dict[str, str | None]:  # pragma: no cover
        return {}

    def files(self, names: list[str]) -> dict[str, set[str]]:  # pragma: no cover - interface
        """Files of each installed package (by the spelling :meth:`owners` returns)."""
        return {}

    def changelog(self, pkg: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
        return {"path": None, "cves": {}, "entries": 0, "trimmed": False, "error": "unsupported"}

    @staticmethod
    def is_openssl_package(pkg: dict[str, Any], owned_names: set[str]) -> bool:
        source = (pkg.get("source") or "").lower()
        return (
            pkg["name"] in owned_names
            or pkg.get("binary") in owned_names
            or source in OPENSSL_SOURCES
            or bool(OPENSSL_NAME_RE.match(pkg["name"].split(":")[0]))
        )


class DpkgManager(PackageManager):
    manager = "dpkg"
    # the last column is dpkg's selection: "hold" for a package on hold (apt-mark hold)
    QUERY_FORMAT = (
        "${binary:Package}\t${source:Package}\t${Version}\t${Architecture}\t"
        "${db:Status-Status}\t${db:Status-Want}\n"
    )
    DOC_ROOT = "/usr/share/doc"

    def __init__(self, run: Runner, warnings: list[str], cache_dir: str | None = None) -> None:
        super().__init__(run, warnings)
        self.cache_dir = cache_dir

    def installed(self) -> list[dict[str, Any]]:
        rc, out, err = self.run(["dpkg-query", "-W", "-f=" + self.QUERY_FORMAT])
        if rc != 0 and not out:
            self.warnings.append(f"dpkg-query failed: {err.strip()[:200]}")
            return []
        return parse_dpkg_query(out)

    def owners(self, paths: list[str]) -> dict[str, str]:
        owners: dict[str, str] = {}
        wanted: dict[str, str] = {}
        for path in paths:
            for variant in usrmerge_variants(path):
                wanted.setdefault(variant, path)
        for batch in _batches(sorted(wanted)):
            _rc, out, _err = self.run(["dpkg-query", "-S", *batch])
            for variant, pkg in parse_dpkg_search(out).items():
                original = wanted.get(variant)
                if original and original not in owners:
                    owners[original] = pkg
        return owners

    def files(self, names: list[str]) -> dict[str, set[str]]:
        if not names:
            return {}
        _rc, out, _err = self.run(
            ["dpkg-query", "-W", "-f=== ${binary:Package}\n${db-fsys:Files}", *names]
        )
        return _parse_dpkg_files(out)

    def candidates(self, names: list[str]) -> dict[str, str | None]:
        if not names:
            return {}
        rc, out, err = self.run(["apt-cache", *self._source_cache_options(), "policy", *names])
        if rc != 0:
            self.warnings.append(f"apt-cache policy failed: {err.strip()[:200]}")
            return {}
        return parse_apt_policy(out)

    def _source_cache_options(self) -> list[str]:
        """``-o Dir::Cache::srcpkgcache=<private file>`` when apt keeps no source cache of its
        own, the caller is root and a cache directory is configured; else nothing."""
        if not self.cache_dir or os.geteuid() != 0:
            return []
        rc, out, _err = self.run(
            [
                "apt-config",
                "shell",
                "SRC",
                "Dir::Cache::srcpkgcache/f",
                "PKG",
                "Dir::Cache::pkgcache/f",
            ]
        )
        config = parse_apt_config_shell(out) if rc == 0 else {}
        if config.get("SRC", "x") or config.get("PKG", "x"):
            return []  # apt keeps (and checks) a binary cache of its own, or cannot say
        directory = private_cache_dir(self.cache_dir, self.warnings)
        if directory is None:
            return []
        path = os.path.join(directory, APT_SOURCE_CACHE)
        self.cache = {
            "path": path,
            "reason": "apt keeps no binary cache on this host (Dir::Cache::srcpkgcache and "
            "pkgcache are empty)",
        }
        return ["-o", f"Dir::Cache::srcpkgcache={path}"]

    def changelog(self, pkg: dict[str, Any]) -> dict[str, Any]:
        name = pkg["name"].split(":")[0]
        docdir = os.path.join(self.DOC_ROOT, name)
        result: dict[str, Any] = {
            "path": None,
            "cves": {},
            "cve_entries": {},
            "entries": 0,
            "top_version": None,
            "trimmed": False,
            "error": None,
        }
        candidates = []
        if pkg.get("arch"):
            candidates.append(os.path.join(docdir, f"changelog.Debian.{pkg['arch']}.gz"))
        candidates.append(os.path.join(docdir, "changelog.Debian.gz"))
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            result["error"] = f"no changelog.Debian.gz under {docdir} (doc files excluded?)"
            return result
        result["path"] = os.path.realpath(path)
        try:
            parsed = parse_debian_changelog(read_gzip_text(path))
        except (OSError, ParseError) as exc:
            result["error"] = str(exc)
            return result
        for key in ("cves", "cve_entries", "entries", "top_version", "trimmed"):
            result[key] = parsed[key]
        if path.endswith(f".{pkg.get('arch')}.gz"):
            # binNMU changelog: only the rebuild entry; the main file holds the CVE history
            main = os.path.join(docdir, "changelog.Debian.gz")
            if os.path.isfile(main):
                try:
                    base = parse_debian_changelog(read_gzip_text(main))
                    for cve, ver in base["cves"].items():
                        result["cves"].setdefault(cve, ver)
                    result["entries"] += base["entries"]
                    result["trimmed"] = base["trimmed"]
                except (OSError, ParseError) as exc:
                    result["error"] = str(exc)
        return result


def parse_dpkg_query(text: str) -> list[dict[str, Any]]:
    """Rows of ``dpkg-query -W -f=DpkgManager.QUERY_FORMAT``. ``held`` is True when dpkg's
    selection (``${db:Status-Want}``) is ``hold``, False for any other selection, and None
    (unknown) for a row of the older five-column format that has no selection column."""
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 5 or fields[4].strip() not in (
            "installed",
            "half-configured",
            "unpacked",
            "triggers-awaited",
            "triggers-pending",
            "half-installed",
        ):
            continue
        name, source, version, arch, status = (f.strip() for f in fields[:5])
        base = name.split(":")[0]
        if not base or not version:
            continue  # no package name (dpkg never prints one starting with ":")
        source = source.split(" ")[0] or base
        pkg = {
            # the name without dpkg's ":arch" qualifier (printed for Multi-Arch: same
            # packages only); "binary" keeps dpkg's spelling for queries
            "name": base,
            "binary": name,
            "source": source,
            "version": version,
            "arch": arch,
            "status": status,
            "held": fields[5].strip() == "hold" if len(fields) > 5 else None,
            "manager": "dpkg",
        }
        pkg.update(split_evr(version))
        packages.append(pkg)
    return packages


def parse_dpkg_search(text: str) -> dict[str, str]:
    """``dpkg-query -S`` lines ``pkg[:arch][, pkg2]: /path``; diversion lines are skipped."""
    owners = {}
    for line in text.splitlines():
        if line.startswith("diversion by") or ": /" not in line:
            continue
        pkgs, _sep, path = line.partition(": /")
        first = pkgs.split(",")[0].strip()
        if first:
            owners["/" + path.strip()] = first
    return owners


def _parse_dpkg_files(text: str) -> dict[str, set[str]]:
    """``dpkg-query -W -f='== ${binary:Package}\\n${db-fsys:Files}'``: files per package."""
    files: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = files.setdefault(line[3:].strip(), set())
        elif current is not None and line.startswith(" /"):
            current.add(line[1:])
    return files


def parse_apt_policy(text: str) -> dict[str, str | None]:
    candidates: dict[str, str | None] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
            candidates[current] = None
        elif current and line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            candidates[current] = None if value == "(none)" else value
    return candidates


class RpmManager(PackageManager):
    manager = "rpm"
    QUERY_FORMAT = "%{NAME}\t%{SOURCERPM}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"

    def __init__(self, run: Runner, warnings: list[str], dnf: str | None = None) -> None:
        super().__init__(run, warnings)
        self.dnf = dnf

    def installed(self) -> list[dict[str, Any]]:
        rc, out, err = self.run(["rpm", "-qa", "--qf", self.QUERY_FORMAT])
        if rc != 0 and not out:
            self.warnings.append(f"rpm -qa failed: {err.strip()[:200]}")
            return []
        return parse_rpm_query(out)

    def owners(self, paths: list[str]) -> dict[str, str]:
        # One call per batch; the query format lists every file of each owning package, so
        # the answer maps back to the asked paths even when some paths are not owned.
        owners: dict[str, str] = {}
        wanted = set(paths)
        for batch in _batches(sorted(wanted)):
            _rc, out, _err = self.run(["rpm", "-qf", "--qf", "[%{FILENAMES}\t%{NAME}\n]", *batch])
            for line in out.splitlines():
                path, sep, name = line.partition("\t")
                if sep and path in wanted and path not in owners:
                    owners[path] = name.strip()
        return owners

    def files(self, names: list[str]) -> dict[str, set[str]]:
        if not names:
            return {}
        _rc, out, _err = self.run(["rpm", "-q", "--qf", "[%{NAME}\t%{FILENAMES}\n]", *names])
        files: dict[str, set[str]] = {}
        for line in out.splitlines():
            name, sep, path = line.partition("\t")
            if sep and path.startswith("/"):
                files.setdefault(name, set()).add(path)
        return files

    def candidates(self, names: list[str]) -> dict[str, str | None]:
        if not names or not self.dnf:
            return {}
        rc, out, err = self.run(
            [
                self.dnf,
                "-q",
                "-C",
                "repoquery",
                "--latest-limit=1",
                "--qf",
                "%{name}\t%{epoch}:%{version}-%{release}\n",
                *names,
            ]
        )
        if rc != 0:
            self.warnings.append(f"dnf repoquery (cache only) failed: {err.strip()[:200]}")
            return {}
        found: dict[str, str | None] = dict.fromkeys(names)
        for line in out.splitlines():
            name, sep, evr = line.partition("\t")
            if sep and name in found:
                found[name] = evr[2:] if evr.startswith("0:") else evr
        return found

    def changelog(self, pkg: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "path": None,
            "cves": {},
            "cve_entries": {},
            "entries": 0,
            "top_version": None,
            "trimmed": False,
            "error": None,
        }
        rc, out, err = self.run(["rpm", "-q", "--changelog", pkg["name"]])
        result["path"] = f"rpm -q --changelog {pkg['name']}"
        if rc != 0:
            result["error"] = err.strip()[:200] or f"rpm exited {rc}"
            return result
        try:
            parsed = parse_rpm_changelog(out)
        except ParseError as exc:
            result["error"] = str(exc)
            return result
        for key in ("cves", "cve_entries", "entries", "top_version"):
            result[key] = parsed[key]
        return result


def parse_rpm_query(text: str) -> list[dict[str, Any]]:
    packages = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 6:
            continue
        name, srpm, epoch, version, release, arch = (f.strip() for f in fields[:6])
        if not name or not version:
            continue
        source = re.sub(r"-[^-]+-[^-]+\.src\.rpm$", "", srpm) if srpm.endswith(".src.rpm") else name
        epoch_i = int(epoch) if _is_number(epoch) and epoch != "0" else None
        full = f"{epoch_i}:{version}-{release}" if epoch_i else f"{version}-{release}"
        packages.append(
            {
                "name": name,
                "binary": name,
                "source": source,
                "version": full,
                "epoch": epoch_i,
                "upstream_version": version,
                "release": release,
                "arch": arch,
                "status": "installed",
                # dnf's versionlock is a plugin's own list, not in the rpm database: unknown
                "held": None,
                "manager": "rpm",
            }
        )
    return packages


def select_manager(
    get_bin_path: Callable[[str], str | None],
    run: Runner,
    warnings: list[str],
    cache_dir: str | None = None,
) -> PackageManager | None:
    if get_bin_path("dpkg-query"):
        return DpkgManager(run, warnings, cache_dir=cache_dir)
    if get_bin_path("rpm"):
        return RpmManager(run, warnings, dnf=get_bin_path("dnf"))
    return None
