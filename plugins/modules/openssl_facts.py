#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_facts
short_description: One-pass OpenSSL inventory of a host
version_added: 0.1.0
description:
  - Gathers every OpenSSL copy of a host in one module run and returns it as
    C(ansible_facts.openssl) (schema version 1).
  - The C(openssl) command line tools (C(openssl version -a), loaded providers, FIPS), every
    C(libssl)/C(libcrypto) copy (dynamic linker cache, extra directories, files mapped by
    processes) with SONAME, ELF build-id, the version text embedded in the library and the owning
    package.
  - OpenSSL packages with version, candidate version from the package manager's cache (no
    refresh) and backport evidence, the CVE ids named in the package changelog, each attributed
    to the changelog entry it sits in.
  - Every process that maps libssl or libcrypto, whether that copy is stale (deleted, or the
    path now holds another inode), its service, master process, container and listening ports.
  - Optionally vendored/static copies under O(scan_paths), the OpenSSL each Python 3
    interpreter uses, the system TLS policy and userspace live-patching state.
  - The module only reads. Anything it could not read is listed in C(warnings); without root
    the result is partial and says so.
author:
  - patchwise.openssl maintainers (!UNKNOWN)
options:
  extra_library_paths:
    description:
      - Directories searched (recursively, depth-limited, symlinked directories not followed)
        for C(libssl.so*)/C(libcrypto.so*) files in addition to the dynamic linker cache.
    type: list
    elements: path
    default: [/usr/local, /opt]
  extra_cli_paths:
    description:
      - Additional C(openssl) executables or directories holding one. Every C(openssl) on
        E(PATH) and in the usual system directories is always inspected.
    type: list
    elements: path
    default: []
  scan_paths:
    description:
      - Directories to search for vendored or static OpenSSL copies (ELF files that embed an
        OpenSSL version text but do not link a shared libcrypto), for example
        V(/opt) or a Python C(site-packages) directory.
      - Empty disables the search.
    type: list
    elements: path
    default: []
  scan_budget:
    description:
      - Time budget in seconds for the O(scan_paths) search. The result reports whether the
        search completed (C(ansible_facts.openssl.vendored_scan.complete)).
    type: float
    default: 30
  changelog:
    description:
      - Parse package changelogs for backport evidence (CVE ids per changelog entry).
    type: bool
    default: true
  candidates:
    description:
      - Ask the package manager's cache for the newest available version (C(apt-cache policy),
        C(dnf -C repoquery)). The cache is never refreshed.
    type: bool
    default: true
  candidates_cache_dir:
    description:
      - Only on apt hosts whose apt keeps no binary cache (C(Dir::Cache::srcpkgcache) and
        C(Dir::Cache::pkgcache) empty, as container images configure it), and only as root -
        there C(apt-cache policy) parses every package list on each call (0.3-0.4 s on Debian
        12). The candidate query then gives apt a source cache file C(srcpkgcache.bin) in this
        directory (created 0755 if missing; about 37 MB for Debian 12 with its security and
        updates suites). apt builds it on the first call, checks it against the package lists
        on every later call and rebuilds it when they change, as it does with its own cache.
        The host's apt configuration is not changed. This cache file is written in check mode
        too; it is the module's only write.
      - The directory is used only when it is a real directory owned by the user running the
        module and writable by no one else; otherwise a warning says why and apt runs without
        a cache.
      - Set to an empty string to never write it.
      - The file used is reported in RV(ansible_facts.openssl.package_cache).
    type: path
    default: /var/cache/patchwise-openssl
  processes:
    description:
      - Scan C(/proc) for processes that map libssl or libcrypto.
    type: bool
    default: true
  listening:
    description:
      - For those processes, list the TCP and UDP ports they listen on.
    type: bool
    default: true
  runtimes:
    description:
      - Run every Python 3 interpreter found on E(PATH) and in the usual directories once to
        read C(ssl.OPENSSL_VERSION).
    type: bool
    default: true
  livepatch:
    description:
      - Report KernelCare LibCare, LibCare and SUSE libpulp state when those tools are installed.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module never changes the host; check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  facts:
    support: full
    description: Returns C(ansible_facts.openssl).
  platform:
    support: full
    platforms: posix
    description: Linux hosts with C(/proc) and Python 3.9 or later.
notes:
  - Run it as root. Without root, processes of other users are not visible; in containers
    without C(CAP_SYS_PTRACE) such processes are listed in
    RV(ansible_facts.openssl.unreadable_processes).
  - The build-id of a deleted library is read through C(/proc/PID/map_files), which needs
    C(CAP_SYS_ADMIN); without it the build-id of deleted copies is null and a warning says so.
  - See C(docs/facts.md) in the collection for how stale is decided.
seealso:
  - name: Facts documentation
    description: What is gathered, how stale is decided, privileges and limits.
    link: https://example.invalid/patchwise/openssl/docs/facts.md
"""

EXAMPLES = r"""
---
- name: Gather OpenSSL facts
  patchwise.openssl.openssl_facts:

- name: Also look for vendored copies under /opt, at most 60 seconds
  patchwise.openssl.openssl_facts:
    scan_paths:
      - /opt
    scan_budget: 60

- name: Fast run for a stale-process check only
  patchwise.openssl.openssl_facts:
    changelog: false
    candidates: false
    runtimes: false

- name: Show processes still running a replaced OpenSSL library
  ansible.builtin.debug:
    msg: "{{ ansible_facts.openssl.processes | selectattr('stale') | map(attribute='pid') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: complex
  contains:
    openssl:
      description: The OpenSSL inventory, schema version 1 (see C(docs/facts.md)).
      returned: always
      type: complex
      contains:
        schema_version:
          description: Version of this layout.
          returned: always
          type: int
          sample: 1
        collected_at:
          description: ISO 8601 UTC time of collection.
          returned: always
          type: str
          sample: "2026-11-22T07:30:00Z"
        privileged:
          description: True when run as root and every process could be read.
          returned: always
          type: bool
        warnings:
          description: Everything that could not be read, and why.
          returned: always
          type: list
          elements: str
        distro:
          description: os-release id, version_id, codename, family, pkg_mgr, systemd_pid1, arch.
          returned: always
          type: dict
          sample: {"id": "debian", "version_id": "12", "codename": "bookworm",
                   "family": "debian", "pkg_mgr": "apt", "systemd_pid1": true, "arch": "x86_64"}
        cli:
          description:
            - One entry per C(openssl) executable (by real path) with the parsed
              C(openssl version -a) output, providers and package.
            - C(version) is the runtime library version (the C(Library:) part), C(cli_version)
              the version the tool was built with. Look-alikes have C(version) null.
          returned: always
          type: list
          elements: dict
        libraries:
          description:
            - One entry per libssl/libcrypto file with C(soname), C(build_id), C(version_text),
              C(implementation), C(version), C(series), C(package), C(package_arch),
              C(package_version), C(unpackaged), C(origin) (ldconfig, extra_dir, process),
              C(leftover_series) and C(in_use).
          returned: always
          type: list
          elements: dict
        packages:
          description:
            - OpenSSL packages and packages owning a found library or CLI, with full version,
              C(candidate) and C(changelog) (C(cves) maps each CVE id to the oldest changelog
              entry naming it).
            - C(name) never carries an architecture qualifier (C(libssl3), not
              C(libssl3:amd64)); the architecture is in C(arch).
            - C(held) is true for a package on hold (C(apt-mark hold), dpkg's selection
              C(hold)), false otherwise; null (unknown) on rpm hosts, whose dnf versionlock
              list is not read.
          returned: always
          type: list
          elements: dict
        processes:
          description:
            - Processes mapping libssl/libcrypto, with C(stale), per-library C(stale_reason)
              (deleted, inode_mismatch), C(service), C(service_source), C(master_pid),
              C(container) and C(listening).
            - C(service) is the systemd unit (C(service_source=systemd)) from the process's
              cgroup, or without systemd as PID 1 the C(/etc/init.d) script
              (C(service_source=init)) of the executable's package, or of a package of the same
              source package whose pid file (C(/run/<script>.pid),
              C(/run/<script>/<script>.pid)) names the process or its master; else null
              (C(service_source=none)).
            - C(exited) is true for a process that exited before the scan finished.
            - The module run's own processes (itself, what it starts, its ancestors in its
              session below the session leader) are not listed.
          returned: always
          type: list
          elements: dict
        own_processes_excluded:
          description: Pids of the module run's own processes that map OpenSSL and are left
            out of RV(ansible_facts.openssl.processes).
          returned: always
          type: list
          elements: int
        unreadable_processes:
          description: Processes whose memory maps could not be read, with the reason.
          returned: always
          type: list
          elements: dict
        vendored:
          description: Files under O(scan_paths) embedding their own OpenSSL copy.
          returned: always
          type: list
          elements: dict
        vendored_scan:
          description: paths, budget_seconds, elapsed_seconds, complete, files_examined.
          returned: always
          type: dict
        runtimes:
          description: Python 3 interpreters and the OpenSSL version text each reports.
          returned: always
          type: list
          elements: dict
        policy:
          description: System TLS policy from openssl.cnf (MinProtocol, CipherString, security
            level) and the crypto-policies level on RHEL-family hosts.
          returned: always
          type: dict
        livepatch:
          description: KernelCare LibCare, LibCare and libpulp presence, patched processes and
            CVEs; null when O(livepatch=false).
          returned: always
          type: dict
        package_cache:
          description:
            - The private apt source cache the candidate query used (C(path), C(reason)), see
              O(candidates_cache_dir); null when apt used its own cache, or none, or the host
              has no apt.
          returned: always
          type: dict
        summary:
          description: Counts for quick checks (stale processes, stale services, unpackaged
            libraries, series present); processes that exited during the scan are not counted
            as stale.
          returned: always
          type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (  # noqa: E402
    PatchwiseError,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.facts import (  # noqa: E402
    gather,
)

ARGUMENT_SPEC = {
    "extra_library_paths": {"type": "list", "elements": "path", "default": ["/usr/local", "/opt"]},
    "extra_cli_paths": {"type": "list", "elements": "path", "default": []},
    "scan_paths": {"type": "list", "elements": "path", "default": []},
    "scan_budget": {"type": "float", "default": 30.0},
    "changelog": {"type": "bool", "default": True},
    "candidates": {"type": "bool", "default": True},
    "candidates_cache_dir": {"type": "path", "default": "/var/cache/patchwise-openssl"},
    "processes": {"type": "bool", "default": True},
    "listening": {"type": "bool", "default": True},
    "runtimes": {"type": "bool", "default": True},
    "livepatch": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run(argv: list) -> tuple:
        # a missing or unexecutable command is a result (rc 127), not a module failure
        try:
            return module.run_command(
                argv, environ_update={"LC_ALL": "C", "LANG": "C"}, handle_exceptions=False
            )
        except OSError as exc:
            return 127, "", f"{argv[0]}: {exc.strerror or exc}"

    def get_bin_path(name: str) -> str | None:
        return module.get_bin_path(name, opt_dirs=["/usr/sbin", "/sbin", "/usr/local/sbin"])

    if module.params["scan_budget"] < 0:
        module.fail_json(msg="scan_budget must not be negative")
    try:
        facts = gather(run, get_bin_path, dict(module.params))
    except PatchwiseError as exc:
        module.fail_json(msg=f"openssl_facts: {exc}")
    module.exit_json(changed=False, ansible_facts={"openssl": facts})


if __name__ == "__main__":
    main()
