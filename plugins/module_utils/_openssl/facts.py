# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build ``ansible_facts.openssl`` (schema_version 1) in one pass over the host.

``gather(run, get_bin_path, options)`` is the only entry point. ``run(argv)`` returns
``(rc, stdout, stderr)``; ``get_bin_path(name)`` returns a path or ``None``. Nothing here
changes the host.
"""

from __future__ import annotations

import datetime
import functools
import os
import platform
import threading
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    libraries as libs_mod,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    livepatch,
    policy,
    procscan,
    runtimes,
    vendored,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.elf import inspect_file
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.initscripts import (
    PID_FILE_LIMIT,
    InitServices,
    script_families,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.packages import (
    PackageManager,
    select_manager,
    usrmerge_variants,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    fips_active,
    parse_providers,
    parse_version_all,
    parse_version_line,
)

SCHEMA_VERSION = 1
CLI_DIRS = (
    "/usr/bin",
    "/usr/local/bin",
    "/bin",
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/local/ssl/bin",
)
DEFAULT_OPTIONS: dict[str, Any] = {
    "extra_library_paths": ["/usr/local", "/opt"],
    "extra_cli_paths": [],
    "scan_paths": [],
    "scan_budget": 30.0,
    "library_search_budget": 5.0,
    "changelog": True,
    "candidates": True,
    "candidates_cache_dir": "/var/cache/patchwise-openssl",
    "processes": True,
    "listening": True,
    "runtimes": True,
    "livepatch": True,
    "proc_root": "/proc",
}
FAMILIES = {
    "debian": "debian",
    "ubuntu": "debian",
    "rhel": "redhat",
    "fedora": "redhat",
    "centos": "redhat",
    "rocky": "redhat",
    "almalinux": "redhat",
    "ol": "redhat",
    "amzn": "redhat",
    "sles": "suse",
    "opensuse": "suse",
    "suse": "suse",
    "alpine": "alpine",
    "arch": "archlinux",
}

Runner = Callable[[list], "tuple[int, str, str]"]


def _read_text(path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def parse_os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().isidentifier():
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def distro_facts(
    get_bin_path: Callable[[str], str | None], proc_root: str = "/proc"
) -> dict[str, Any]:
    osr = parse_os_release(_read_text("/etc/os-release") or _read_text("/usr/lib/os-release") or "")
    ident = osr.get("ID", "unknown").lower()
    family = FAMILIES.get(ident)
    for like in osr.get("ID_LIKE", "").lower().split():
        family = family or FAMILIES.get(like)
    pkg_mgr = "unknown"
    for name in ("apt-get", "dnf", "yum", "zypper"):
        if get_bin_path(name):
            pkg_mgr = "apt" if name == "apt-get" else name
            break
    comm = (_read_text(os.path.join(proc_root, "1", "comm")) or "").strip()
    return {
        "id": ident,
        "version_id": osr.get("VERSION_ID"),
        "codename": osr.get("VERSION_CODENAME") or None,
        "family": family or "unknown",
        "pkg_mgr": pkg_mgr,
        "pid1": comm or None,
        "systemd_pid1": comm == "systemd" and os.path.isdir("/run/systemd/system"),
        "arch": platform.machine(),
    }


def find_clis(extra: list[str]) -> list[str]:
    dirs = (
        list(extra)
        + [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
        + list(CLI_DIRS)
    )
    found: list[str] = []
    seen: set[str] = set()
    for entry in dict.fromkeys(dirs):
        path = entry if os.path.basename(entry) == "openssl" else os.path.join(entry, "openssl")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)
    return found


def cli_facts(path: str, run: Runner, warnings: list[str]) -> dict[str, Any]:
    rc, out, err = run([path, "version", "-a"])
    if rc != 0 or not out.strip():
        rc2, out2, err2 = run([path, "version"])
        if rc2 == 0:
            out, rc = out2, rc2
        else:
            warnings.append(f"{path} version failed: {(err or err2).strip()[:200]}")
    parsed = parse_version_line(out if rc == 0 else "")
    fields = parse_version_all(out if rc == 0 else "")
    providers: list[dict[str, Any]] = []
    if parsed["implementation"] in ("openssl", "quictls") and (parsed["series"] or "0")[0] >= "3":
        rc_p, out_p, _err = run([path, "list", "-providers"])
        providers = parse_providers(out_p) if rc_p == 0 else []
    for msg in parsed["warnings"]:
        warnings.append(f"{path}: {msg}")
    return {
        "path": path,
        "real_path": os.path.realpath(path),
        "raw": parsed["raw"] or None,
        "implementation": parsed["implementation"],
        "implementation_version": parsed["implementation_version"],
        "version": parsed["version"],
        "series": parsed["series"],
        "cli_version": parsed["cli_version"],
        "library_version": parsed["library_version"],
        "fips": parsed["fips"],
        "build_date": parsed["build_date"],
        "built_on": fields["built_on"],
        "platform": fields["platform"],
        "options": fields["options"],
        "compiler_flags": fields["compiler_flags"],
        "openssldir": fields["openssldir"],
        "modulesdir": fields["modulesdir"],
        "enginesdir": fields["enginesdir"],
        "seeding_source": fields["seeding_source"],
        "providers": [
            {
                "name": p["name"] or p["id"],
                "id": p["id"],
                "version": p["version"],
                "status": p["status"],
            }
            for p in providers
        ],
        "fips_active": fips_active(providers),
        "package": None,
    }


def _ldconfig_sources(
    run: Runner, get_bin_path: Callable[..., str | None], warnings: list[str]
) -> list[tuple[str, str]]:
    ldconfig = get_bin_path("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.isfile(p)), None
    )
    if not ldconfig:
        warnings.append("ldconfig not found: dynamic linker cache not read")
        return []
    rc, out, err = run([ldconfig, "-p"])
    if rc != 0:
        warnings.append(f"ldconfig -p failed: {err.strip()[:200]}")
        return []
    return [(entry["path"], "ldconfig") for entry in libs_mod.parse_ldconfig(out)]


Owner = "tuple[str, str | None, str | None]"


def _owner_index(installed: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Installed packages by the spelling the package manager prints for them."""
    index: dict[str, list[dict[str, Any]]] = {}
    for pkg in installed:
        index.setdefault(pkg.get("binary") or pkg["name"], []).append(pkg)
    return index


def _resolve_owner(owner: str, index: dict[str, list[dict[str, Any]]]) -> Owner:
    """(name without arch, arch, installed version) of the package a path query named."""
    pkgs = index.get(owner, [])
    if len(pkgs) == 1:
        return pkgs[0]["name"], pkgs[0].get("arch"), pkgs[0]["version"]
    name, _sep, arch = owner.partition(":")
    versions = {p["version"] for p in pkgs}
    return name, arch or None, versions.pop() if len(versions) == 1 else None


def _candidate_of(binary: str, answered: dict[str, str | None], asked: set[str]) -> str | None:
    """apt prints a package of the native architecture without ``:arch``; another
    architecture's with it. The bare name stands for the native one only when that was not
    asked for separately."""
    if binary in answered:
        return answered[binary]
    base = binary.split(":")[0]
    return answered.get(base) if base not in asked else None


def _packages(
    manager: PackageManager,
    installed: list[dict[str, Any]],
    prefetched: tuple[set[str], dict[str, str | None]],
    raw_owners: dict[str, str],
    paths: tuple[list[str], list[str]],
    options: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Owner]]:
    """Return (OpenSSL packages, owner (name, arch, version) of each path in ``raw_owners``,
    the package manager's answer for the library, CLI and other paths).

    Package names are reported without dpkg's ``:arch`` qualifier, the architecture in
    ``arch`` (``libssl3`` + ``amd64``, ``openssl`` + ``amd64``), for dpkg and rpm alike."""
    lib_paths, cli_paths = paths
    index = _owner_index(installed)
    owners = {path: _resolve_owner(owner, index) for path, owner in raw_owners.items()}
    providers = {raw_owners[p] for p in lib_paths + cli_paths if p in raw_owners}
    relevant = [
        p
        for p in installed
        if (p.get("binary") or p["name"]) in providers
        or PackageManager.is_openssl_package(p, set())
    ]
    asked, answered = prefetched
    candidates = dict(answered)
    missing = sorted({p.get("binary") or p["name"] for p in relevant} - asked)
    if options["candidates"] and missing:
        candidates.update(manager.candidates(missing))
        asked = asked | set(missing)
    packages = []
    for pkg in relevant:
        entry = {
            k: pkg.get(k)
            for k in ("name", "source", "version", "epoch", "upstream_version", "release", "arch")
        }
        entry["manager"] = manager.manager
        entry["held"] = pkg.get("held")
        binary = pkg.get("binary") or pkg["name"]
        entry["candidate"] = _candidate_of(binary, candidates, asked)
        entry["provides_libraries"] = sorted(p for p in lib_paths if raw_owners.get(p) == binary)
        entry["provides_cli"] = sorted(p for p in cli_paths if raw_owners.get(p) == binary)
        entry["changelog"] = manager.changelog(pkg) if options["changelog"] else None
        packages.append(entry)
    packages.sort(key=lambda p: (p["name"], p["arch"] or ""))
    return packages, owners


def _package_queries(
    manager: PackageManager, candidates: bool, warnings: list[str]
) -> tuple[list[dict[str, Any]], set[str], dict[str, str | None]]:
    """Installed packages, then the candidates of the OpenSSL ones (one batched query; the
    cache is never refreshed). Returns (installed, names asked, candidates)."""
    installed = manager.installed()
    if not candidates:
        return installed, set(), {}
    asked = {
        p.get("binary") or p["name"]
        for p in installed
        if PackageManager.is_openssl_package(p, set())
    }
    try:
        answered = manager.candidates(sorted(asked))
    except Exception as exc:  # the inventory stands without candidates
        warnings.append(f"candidate query: {exc}")
        return installed, set(), {}
    return installed, asked, answered


class Background:
    """Run a slow, independent step (a package-cache query, interpreter starts) in a thread
    while /proc is scanned; the commands are separate processes, so this uses the second CPU.
    Any exception is turned into a warning."""

    def __init__(self, func: Callable[[], Any], default: Any, label: str) -> None:
        self.func, self.result, self.label, self.error = func, default, label, None
        self.thread = threading.Thread(target=self._target, daemon=True)
        self.thread.start()

    def _target(self) -> None:
        try:
            self.result = self.func()
        except Exception as exc:  # reported as a warning, never a traceback
            self.error = f"{self.label}: {exc}"

    def join(self, warnings: list[str]) -> Any:
        self.thread.join()
        if self.error:
            warnings.append(self.error)
        return self.result


def _attach_packages(
    libraries: list[dict[str, Any]],
    clis: list[dict[str, Any]],
    owners: dict[str, Owner],
) -> None:
    for lib in libraries:
        owner = owners.get(lib["real_path"]) or next(
            (owners[p] for p in lib["paths"] if p in owners), None
        )
        lib["package"], lib["package_arch"], lib["package_version"] = owner or (None, None, None)
        lib["unpackaged"] = owner is None
    for cli in clis:
        owner = owners.get(cli["real_path"]) or owners.get(cli["path"])
        cli["package"], cli["package_arch"] = (owner[0], owner[1]) if owner else (None, None)


def _exe_owners(
    manager: PackageManager,
    exes: list[str],
    script_owners: set[str],
    index: dict[str, list[dict[str, Any]]],
) -> dict[str, Owner]:
    """Owner of each executable among the packages that ship an init script and their siblings
    of the same source package (the only owners that can name a service): one query of those
    packages' file lists instead of a search of the whole package database. Falls back to the
    owner query where the file lists are not available (dpkg before 1.19 has no
    ``db-fsys:Files``)."""
    if not exes or not script_owners:
        return {}
    files = manager.files(sorted(script_owners))
    if not any(files.values()):
        raw = manager.owners(exes)
        return {exe: _resolve_owner(owner, index) for exe, owner in raw.items()}
    found: dict[str, Owner] = {}
    for exe in exes:
        for variant in usrmerge_variants(exe):
            owner = next((b for b in sorted(files) if variant in files[b]), None)
            if owner is not None:
                found[exe] = _resolve_owner(owner, index)
                break
    return found


def _list_init_scripts() -> list[str]:
    try:
        return [
            os.path.join("/etc/init.d", n)
            for n in sorted(os.listdir("/etc/init.d"))
            if not n.startswith(".") and n not in ("README", "skeleton", "rc", "rcS")
        ]
    except OSError:
        return []


def gather(
    run: Runner, get_bin_path: Callable[..., str | None], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    opts = dict(DEFAULT_OPTIONS)
    opts.update({k: v for k, v in (options or {}).items() if v is not None})
    warnings: list[str] = []
    facts: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "collected_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "privileged": False,
        "warnings": warnings,
    }
    facts["distro"] = distro_facts(get_bin_path, opts["proc_root"])
    manager = select_manager(
        get_bin_path, run, warnings, cache_dir=opts["candidates_cache_dir"] or None
    )
    package_queries = None
    if manager is not None:
        # the package database and the candidate query (the slowest command on hosts whose apt
        # keeps no binary cache) run while the CLI and /proc are examined
        package_queries = Background(
            lambda: _package_queries(manager, bool(opts["candidates"]), warnings),
            ([], set(), {}),
            "package query",
        )
    pythons = None
    if opts["runtimes"]:
        bg_warnings: list[str] = []
        pythons = Background(
            lambda: runtimes.probe(runtimes.find_pythons(os.environ.get("PATH")), run, bg_warnings),
            [],
            "python runtimes",
        )

    # The openssl runs and the owner query of every path known before the scan (linker
    # cache, extra directories, CLIs, init scripts) run while /proc is scanned.
    cli_paths_found = find_clis(opts["extra_cli_paths"])
    cli_warnings: list[str] = []
    cli_job = Background(
        lambda: [cli_facts(p, run, cli_warnings) for p in cli_paths_found],
        [],
        "openssl command line tools",
    )
    sources = _ldconfig_sources(run, get_bin_path, warnings)
    extra_dirs = [d for d in opts["extra_library_paths"] if os.path.isdir(d)]
    sources += [
        (p, "extra_dir")
        for p in libs_mod.walk_extra_dirs(
            extra_dirs, float(opts["library_search_budget"]), warnings
        )
    ]
    init_scripts = [] if facts["distro"]["systemd_pid1"] else _list_init_scripts()
    early_paths = sorted(
        {q for p, _origin in sources for q in (p, os.path.realpath(p))}
        | {q for p in cli_paths_found for q in (p, os.path.realpath(p))}
        | set(init_scripts)
    )
    owner_job = (
        Background(lambda: manager.owners(early_paths), {}, "package owners")
        if manager is not None
        else None
    )

    scan: dict[str, Any] = {"processes": [], "unreadable": [], "warnings": []}
    if opts["processes"]:
        scanner = procscan.Scanner(
            procscan.ProcReader(opts["proc_root"]),
            listening=opts["listening"],
            elf_reader=inspect_file,
        )
        scan = scanner.scan()
        warnings.extend(scan["warnings"])

    for proc in scan["processes"]:
        for lib in proc["libraries"]:
            if not lib["deleted"] and not proc["container"]:
                sources.append((lib["path"], "process"))
    libraries = libs_mod.build_inventory(sources, inspect_file)
    clis = cli_job.join(warnings)
    warnings.extend(cli_warnings)
    if not clis:
        warnings.append("no openssl command line tool found")

    packages: list[dict[str, Any]] = []
    owners: dict[str, Owner] = {}
    installed, asked, answered = (
        package_queries.join(warnings) if package_queries is not None else ([], set(), {})
    )
    prefetched = (asked, answered)
    read_pid_file = functools.partial(_read_text, limit=PID_FILE_LIMIT)
    services = InitServices({}, read=read_pid_file)
    if manager is not None and owner_job is not None:
        lib_paths = sorted(
            {lib["real_path"] for lib in libraries} | {p for lib in libraries for p in lib["paths"]}
        )
        cli_paths = sorted({c["real_path"] for c in clis} | {c["path"] for c in clis})
        raw_owners = dict(owner_job.join(warnings))
        late = sorted(set(lib_paths + cli_paths) - set(early_paths))
        if late:  # mapped by a process only (not in the linker cache or the extra directories)
            raw_owners.update(manager.owners(late))
        packages, owners = _packages(
            manager, installed, prefetched, raw_owners, (lib_paths, cli_paths), opts
        )
        index = _owner_index(installed)
        script_owners = {raw_owners[p] for p in init_scripts if p in raw_owners}
        services = InitServices.from_owners(
            {p: _resolve_owner(raw_owners[p], index) for p in init_scripts if p in raw_owners},
            installed,
            read_pid_file,
        )
        exes = sorted(
            {
                p["exe"]
                for p in scan["processes"]
                if p["exe"] and not p["container"] and p["service"] is None
            }
        )
        owners.update(
            _exe_owners(manager, exes, script_families(script_owners, installed), index)
        )
    else:
        warnings.append("no supported package manager (dpkg, rpm): packages not inventoried")
    _attach_packages(libraries, clis, owners)
    libs_mod.mark_leftovers(libraries)
    _finish_processes(scan["processes"], libraries, owners, services)

    vend = {
        "found": [],
        "scan": {
            "paths": [],
            "budget_seconds": opts["scan_budget"],
            "elapsed_seconds": 0.0,
            "complete": True,
            "files_examined": 0,
        },
    }
    if opts["scan_paths"]:
        skip = {lib["real_path"] for lib in libraries} | {c["real_path"] for c in clis}
        vend = vendored.scan(list(opts["scan_paths"]), float(opts["scan_budget"]), skip)
        if manager is not None and vend["found"]:
            vowners = manager.owners([v["path"] for v in vend["found"]])
            index = _owner_index(installed)
            for item in vend["found"]:
                owner = vowners.get(item["path"])
                item["package"] = _resolve_owner(owner, index)[0] if owner else None
        if not vend["scan"]["complete"]:
            warnings.append(f"vendored scan stopped after its budget of {opts['scan_budget']}s")

    main_cli = next(
        (c for c in clis if c["implementation"] == "openssl"), clis[0] if clis else None
    )
    facts.update(
        {
            "cli": clis,
            "libraries": libraries,
            "packages": packages,
            "processes": scan["processes"],
            "unreadable_processes": scan["unreadable"],
            "own_processes_excluded": scan.get("own_excluded", []),
            "vendored": vend["found"],
            "vendored_scan": vend["scan"],
            "runtimes": pythons.join(warnings) if pythons is not None else [],
            "policy": policy.gather(
                main_cli["openssldir"] if main_cli else None,
                main_cli["compiler_flags"] if main_cli else None,
                warnings=warnings,
            ),
            "livepatch": livepatch.gather(run, get_bin_path, _read_text, warnings)
            if opts["livepatch"]
            else None,
            "package_cache": manager.cache if manager is not None else None,
        }
    )
    if pythons is not None:
        warnings.extend(bg_warnings)
    facts["summary"] = summarize(facts)
    facts["privileged"] = os.geteuid() == 0 and not scan["unreadable"]
    if os.geteuid() != 0:
        warnings.append(
            "not running as root: processes of other users are not visible; the result is partial"
        )
    elif scan["unreadable"]:
        warnings.append(
            f"{len(scan['unreadable'])} process(es) could not be read "
            "(missing CAP_SYS_PTRACE?); see unreadable_processes"
        )
    return facts


def _finish_processes(
    processes: list[dict[str, Any]],
    libraries: list[dict[str, Any]],
    owners: dict[str, Owner],
    services: InitServices,
) -> None:
    by_path: dict[str, dict[str, Any]] = {}
    for lib in libraries:
        for path in lib["paths"] + [lib["real_path"]]:
            by_path[path] = lib
    for proc in processes:
        for lib in proc["libraries"]:
            inv = by_path.get(lib["path"])
            if inv is not None and not lib["deleted"] and not proc["container"]:
                inv["in_use"] = True
                if not lib["stale"]:
                    lib["package_version"] = inv["package_version"]
                    lib["build_id"] = lib["build_id"] or inv["build_id"]
                    lib["version_text"] = lib["version_text"] or inv["version_text"]
        if proc["service"] is None and not proc["container"] and proc["exe"]:
            owner = owners.get(proc["exe"])
            service = services.service_of(proc, owner[0] if owner else None)
            if service:
                proc["service"] = service
                proc["service_source"] = "init"


def summarize(facts: dict[str, Any]) -> dict[str, Any]:
    """Counts for quick checks. Processes that exited before the scan finished need no
    restart: they are listed (``exited: true``) but not counted as stale here."""
    running = [p for p in facts["processes"] if not p.get("exited")]
    stale = [p for p in running if p["stale"]]
    return {
        "stale_processes": len(stale),
        "exited_processes": len(facts["processes"]) - len(running),
        "own_processes_excluded": len(facts.get("own_processes_excluded") or []),
        "stale_services": sorted({p["service"] for p in stale if p["service"]}),
        "stale_without_service": sorted(p["pid"] for p in stale if not p["service"]),
        "libraries": len(facts["libraries"]),
        "unpackaged_libraries": sorted(
            lib["real_path"] for lib in facts["libraries"] if lib["unpackaged"]
        ),
        "series": sorted({lib["series"] for lib in facts["libraries"] if lib["series"]}),
    }
