#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_packages
short_description: Upgrade only the OpenSSL packages, with a rollback point, or restore one
version_added: 0.1.0
description:
  - With O(state=latest), upgrades only the installed OpenSSL packages to the newest version the
    repositories offer, or to O(version). On Debian those are the installed binary packages
    built from the C(openssl) source (C(libssl3), C(libssl3t64), C(openssl), C(libssl-dev), ...).
    On the RHEL family C(openssl), C(openssl-libs) and friends; on SUSE C(openssl-N) and
    C(libopensslN).
  - "Pre-flight before any change: the package locks are free (bounded wait), enough disk space,
    the repositories are reachable (C(apt-get update) reports no failed source), the target
    version is offered for every package, and apt's simulation changes no other package."
  - "On apt hosts, refuses a host where dpkg did not finish an earlier package run: any package
    (OpenSSL or not) that dpkg reports half-installed, unpacked, half-configured or awaiting
    triggers (C(dpkg --audit) is not clean; for example a maintainer script failed in an
    earlier upgrade). Such a package's new files are on disk while its last good version is
    only in dpkg's C(Config-Version); an upgrade on top would configure it on the way and the
    rollback point could not record what was good before. The module fails, in check mode too,
    before any change, and names each package, its state, the version dpkg last configured and
    the newest rollback point that holds that version, when there is one (RV(unfinished)). Fix
    it first: O(state=restored) with that rollback point (the rollback role), or repair the
    cause and run C(dpkg --configure -a) until C(dpkg --audit) reports nothing."
  - "On apt hosts, a package on hold (C(apt-mark hold); dpkg's selection C(hold), status
    C(hi)) is an OpenSSL package like any other: it is in RV(before), and RV(held) names it
    with its version and the target. When the plan would upgrade a held package, the module
    fails, in check mode too, before any change (and upgrades none of the OpenSSL packages,
    which move together), naming each held package, its version and the target. Either
    remove the hold (C(apt-mark unhold)) or set O(allow_held=true): apt then upgrades it
    (C(--allow-change-held-packages)) and the module puts the hold back afterwards, since
    apt drops it. A held package already at the target is reported and not a failure."
  - Before changing anything it records a B(rollback point) under
    O(rollback_dir)/O(run_id)/ (mode 0700), a C(manifest.json) with the exact installed versions
    and the sha256 of a local copy of each package that will change. Every copy is checked to
    be exactly the installed package (name, version, architecture) before it is kept.
  - With apt the copy comes from apt's cache (C(/var/cache/apt/archives)) when the exact file
    is there, else from C(apt-get download) of that exact version, else it is rebuilt from the
    installed files and dpkg's control data (as dpkg-repack does; the rollback point says so).
  - With dnf, yum and zypper it comes from the package manager's cache (C(/var/cache/dnf),
    C(/var/cache/libdnf5), C(/var/cache/yum), C(/var/cache/zypp/packages), when keepcache or
    keeppackages kept it), else from C(dnf download) (dnf-plugins-core), C(yumdownloader)
    (yum-utils) or C(zypper download) of that exact version. There is no rebuild from installed
    files on rpm systems; when no copy can be had, the module fails before any change.
  - The rollback point is written to a hidden directory and renamed into place when complete,
    so an interrupted run leaves none half-written. An existing rollback point of the same
    O(run_id) (an earlier, interrupted attempt of the run) is never overwritten; it holds the
    versions from before that attempt and is kept; only packages it lacks are added.
  - When the upgrade itself fails (a maintainer script fails, for example), the module fails
    with what dpkg left behind (RV(after), RV(after_states)) and the rollback point's run id;
    restore it with O(state=restored) (the rollback role and the rollout do).
  - With O(state=restored), installs the local copies of a rollback point (C(dpkg -i) of the
    exact files, allowing downgrades; C(rpm -U --oldpackage) on rpm systems), then checks that
    every version equals the recorded one, fully installed, and that C(dpkg --audit)
    (C(rpm -Va --nofiles --nodigest)) reports nothing. A package on hold before the restore
    is on hold after it (C(dpkg -i) drops the hold; it is put back). A package already at the
    recorded version but not fully installed (half-configured, ...) is installed again from
    its copy.
    The repositories are not needed.
  - Runs non-interactively (C(DEBIAN_FRONTEND=noninteractive), needrestart suspended, dpkg
    C(--force-confold)). It never restarts services; see the refresh role.
  - The apt path is tested on real hosts; the dnf/yum and zypper paths are tested on recorded
    outputs of those tools only.
author:
  - patchwise.openssl maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description:
      - Reports the plan (which package from which version to which) and changes nothing.
      - Fails like a real run when dpkg did not finish an earlier package run (RV(unfinished)).
      - Fails like a real run when the plan would upgrade a package on hold (RV(held)) without
        O(allow_held).
      - C(apt-get update) then writes to a private copy of apt's lists, removed afterwards.
      - A held package lock is a warning, not a failure (planning needs no lock); a real run
        waits for it up to O(lock_timeout) seconds and fails before any change.
  diff_mode:
    support: none
    description: No diff; RV(plan), RV(before) and RV(after) say what changes.
  platform:
    support: full
    platforms: posix
    description: Linux hosts with Python 3.9 or later.
options:
  state:
    description:
      - V(latest) upgrades to the newest offered version or to O(version).
      - V(restored) installs the packages of a rollback point.
      - O(version), O(packages), O(include_leftover), O(allow_other_changes) and O(allow_held)
        belong to V(latest), O(manifest) to V(restored); giving one with the other state is an
        error.
    type: str
    choices: [latest, restored]
    default: latest
  version:
    description:
      - Exact package version to install for every selected package (for example
        V(3.0.17-1~deb12u2)). Default is the repository's candidate.
      - A version older than the installed one is refused; use O(state=restored).
    type: str
  packages:
    description:
      - Explicit package names instead of detection. Use with care; all packages of one
        OpenSSL source must move together.
    type: list
    elements: str
    default: []
  include_leftover:
    description: Also upgrade packages of an older OpenSSL series (for example C(libssl1.1)).
    type: bool
    default: false
  update_cache:
    description: Refresh the package lists first (the reachability check).
    type: bool
    default: true
  lock_timeout:
    description:
      - Seconds to wait for the package manager lock before any change. When it stays held the
        module fails naming the lock, its holder (pid and command) and the wait, and nothing
        is changed.
    type: int
    default: 120
  min_free_mb:
    description:
      - Free MiB required on the file systems of the package cache, C(/usr) and O(rollback_dir).
    type: int
    default: 200
  allow_other_changes:
    description:
      - Proceed when apt's simulation would also install, upgrade or remove packages that are
        not OpenSSL packages. Off by default.
    type: bool
    default: false
  allow_held:
    description:
      - Upgrade OpenSSL packages that are on hold (C(apt-mark hold)) too. apt is called with
        C(--allow-change-held-packages) and the hold is put back afterwards (apt drops it);
        the run fails when it cannot be put back.
      - Off by default. A plan that would upgrade a held package then fails before any change,
        in check mode too, naming each held package, its version and the target.
      - apt only; holds (dnf versionlock, zypper locks) are not read on rpm systems.
    type: bool
    default: false
  rollback_dir:
    description: Directory holding the rollback points.
    type: path
    default: /var/lib/patchwise-openssl/rollback
  run_id:
    description:
      - Name of the rollback point to write (O(state=latest)) or to restore (O(state=restored)).
      - For V(latest) the default is the current UTC time (C(20260403T142932Z)).
      - For V(restored) the default is the newest rollback point, unless O(manifest) is given.
    type: str
  manifest:
    description:
      - Path of a rollback point's C(manifest.json) to restore (O(state=restored) only).
      - Mutually exclusive with O(run_id).
    type: path
  keep:
    description:
      - Rollback points kept under O(rollback_dir) (at least 1).
      - Older ones are removed after a new one is written.
    type: int
    default: 5
  pkg_mgr:
    description: Package manager; V(auto) detects it.
    type: str
    choices: [auto, apt, dnf, yum, zypper]
    default: auto
notes:
  - Needs root. Package operations need the package database locks; rollback points live in a
    root-only directory.
seealso:
  - name: Operations guide (patch, verify, roll back)
    description: Pre-flight checks, rollback points, rolling back by hand, privileges.
    link: https://example.invalid/patchwise/openssl/docs/operations.md
"""

EXAMPLES = r"""
---
- name: Plan the upgrade (check mode shows from which version to which)
  patchwise.openssl.openssl_packages:
    state: latest
  check_mode: true
  register: plan

- name: Upgrade the OpenSSL packages, recording a rollback point first
  patchwise.openssl.openssl_packages:
    state: latest
    run_id: "{{ lookup('ansible.builtin.pipe', 'date -u +%Y%m%dT%H%M%SZ') }}"
  register: upgrade

- name: Upgrade even the OpenSSL packages on hold, keeping them on hold afterwards
  patchwise.openssl.openssl_packages:
    state: latest
    allow_held: true

- name: Go back to exactly what was installed before
  patchwise.openssl.openssl_packages:
    state: restored
    run_id: "{{ upgrade.rollback_point.run_id }}"
"""

RETURN = r"""
manager:
  description: Package manager used.
  returned: always
  type: str
  sample: apt
plan:
  description:
    - One entry per selected package, with C(name), C(arch), C(from), C(to), C(action)
      (C(upgrade), C(none), C(restore)), C(leftover).
    - With O(state=latest) on apt hosts also C(held) (the package is on hold).
  returned: always
  type: list
  elements: dict
  sample:
    - {"name": "libssl3", "arch": "amd64", "from": "3.0.20-1~deb12u2",
       "to": "3.0.22-1~deb12u2", "action": "upgrade", "leftover": false}
before:
  description:
    - Installed versions of the selected packages before the run (name to version), including
      packages dpkg did not finish (the version dpkg has, see RV(before_states) and
      RV(unfinished)).
  returned: always
  type: dict
  sample: {"libssl3": "3.0.20-1~deb12u2", "openssl": "3.0.20-1~deb12u2"}
before_states:
  description:
    - dpkg's status abbreviation per package of RV(before) (C(ii) installed, C(hi) installed
      and on hold, C(iF) half-configured, C(iU) unpacked, C(iH) half-installed, ...). Empty on
      rpm systems.
  returned: always
  type: dict
  sample: {"libssl3": "iF", "openssl": "iU"}
unfinished:
  description:
    - With O(state=latest), every package on the host that dpkg did not finish (the reason the
      run refused), each with C(name), C(arch), C(version) (the version dpkg names, the new one
      once unpacked, still the old one while half-installed), C(status) (abbreviation),
      C(state) (C(half-configured), C(unpacked), C(half-installed), C(triggers-awaited),
      C(triggers-pending)), C(config_version) (the version dpkg last
      configured, the previous good one; null when dpkg has none), C(openssl) (built from the
      OpenSSL source) and C(rollback_points) (run ids of the rollback points on the host that
      hold that version, newest first).
    - Empty when dpkg's database is consistent.
  returned: always
  type: list
  elements: dict
  sample:
    - {"name": "libssl3", "arch": "amd64", "version": "3.0.22-1~deb12u2+patchwisebroken1",
       "status": "iF", "state": "half-configured", "config_version": "3.0.22-1~deb12u2",
       "openssl": true, "rollback_points": ["20261122T131500Z"]}
held:
  description:
    - The selected OpenSSL packages that are on hold (C(apt-mark hold)), each with C(name),
      C(binary) (dpkg's spelling, C(libssl3:amd64)), C(arch), C(version) (installed),
      C(to) and C(action) (what the plan does to it, C(upgrade), C(none) or C(restore);
      null when the run failed before it planned).
    - With O(state=latest) a held package to upgrade fails the run unless O(allow_held); with
      O(allow_held) and with O(state=restored) their hold is put back after the change.
    - Empty when none is on hold, and on rpm systems.
  returned: always
  type: list
  elements: dict
  sample:
    - {"name": "libssl3", "binary": "libssl3:amd64", "arch": "amd64",
       "version": "3.0.22-1~deb12u2", "to": "3.0.22-1~deb12u2+patchwise1", "action": "upgrade"}
after:
  description:
    - Installed versions after the run; equal to RV(before) in check mode.
    - After a failed upgrade, what dpkg has installed now, whatever its state (see
      RV(after_states)).
  returned: always
  type: dict
after_states:
  description:
    - dpkg's status abbreviation per package after a failed upgrade (C(ii) installed, C(iF)
      half-configured, C(iU) unpacked, ...).
  returned: when the upgrade failed
  type: dict
  sample: {"libssl3": "iF", "openssl": "iU"}
changed_packages:
  description:
    - Packages whose version changed (or would change in check mode).
    - Each with C(name), C(from), C(to).
  returned: always
  type: list
  elements: dict
leftover:
  description: Installed packages of an older OpenSSL series that were left alone.
  returned: always
  type: list
  elements: dict
rollback_point:
  description:
    - The rollback point written (O(state=latest)) or restored (O(state=restored)), with
      C(run_id), C(path), C(manifest) and C(packages) (C(name), C(arch), C(version), C(file),
      C(sha256), C(origin) = C(apt-cache), C(dnf-cache), C(yum-cache), C(zypper-cache),
      C(download) or C(rebuilt)).
    - With O(state=latest), C(reused) is true when the point of this run id already existed
      (an earlier, interrupted attempt of the run) and was kept.
    - Empty when nothing had to change, and in check mode for O(state=latest).
  returned: always
  type: dict
rollback_points:
  description:
    - The rollback points already on the host before this run, oldest first, each with
      C(run_id), C(created_at), C(path), C(packages) (C(name), C(version)) and C(restores)
      (how many times it was restored).
    - A rollout uses them to find the changes of an interrupted run. Empty with
      O(state=restored).
  returned: always
  type: list
  elements: dict
preflight:
  description: Results of the pre-flight checks (C(lock), C(disk), C(repositories), C(simulation)).
  returned: always
  type: dict
audit:
  description: Output of C(dpkg --audit) after a restore (empty when consistent).
  returned: when O(state=restored)
  type: str
pruned:
  description: Rollback points removed because of O(keep).
  returned: always
  type: list
  elements: str
"""

import datetime  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (  # noqa: E402
    pkgops,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (  # noqa: E402
    PatchwiseError,
)


class Operation:
    """One run of the module: pre-flight, plan, rollback point, change, check."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.result: dict = {
            "changed": False,
            "plan": [],
            "before": {},
            "before_states": {},
            "unfinished": [],
            "held": [],
            "after": {},
            "changed_packages": [],
            "leftover": [],
            "rollback_point": {},
            "preflight": {},
            "pruned": [],
            "rollback_points": [],
        }
        self.lists_dir = None
        name = self._detect_manager()
        if module.check_mode and name == "apt" and self.params["update_cache"]:
            self.lists_dir = pkgops.private_lists_dir()
        self.mgr = pkgops.MANAGERS[name](self.run, self.lists_dir)
        self.result["manager"] = self.mgr.name

    def run(self, argv: list, cwd: str | None = None) -> tuple:
        env = dict(pkgops.NONINTERACTIVE_ENV)
        return self.module.run_command(argv, cwd=cwd, environ_update=env)

    def _detect_manager(self) -> str:
        wanted = self.params["pkg_mgr"]
        if wanted != "auto":
            return wanted
        for name, binary in (
            ("apt", "apt-get"),
            ("dnf", "dnf"),
            ("zypper", "zypper"),
            ("yum", "yum"),
        ):
            if self.module.get_bin_path(binary):
                return name
        self.module.fail_json(msg="no supported package manager found (apt-get, dnf, yum, zypper)")
        return "unknown"

    def fail(self, msg: str) -> None:
        self.cleanup()
        self.result["warnings_list"] = self.mgr.warnings
        self.module.fail_json(msg=msg, **self.result)

    def cleanup(self) -> None:
        if self.lists_dir:
            shutil.rmtree(self.lists_dir, ignore_errors=True)
            self.lists_dir = None

    # --- shared pre-flight ---
    def preflight_local(self) -> None:
        if not self.module.check_mode:
            lock = pkgops.wait_for_lock(self.params["lock_timeout"])
        else:
            free, detail = pkgops.lock_free()
            lock = {"free": free, "waited_seconds": 0, "detail": detail}
        self.result["preflight"]["lock"] = lock
        if not lock["free"] and self.module.check_mode:
            # Planning needs no lock; the real run waits for it (bounded) before any change.
            self.mgr.warnings.append(
                f"the package lock is held now ({lock['detail']}); a real run waits up to "
                f"{self.params['lock_timeout']} s for it before changing anything"
            )
        elif not lock["free"]:
            self.fail(
                f"pre-flight: package lock not free after {lock['waited_seconds']} s "
                f"(lock_timeout {self.params['lock_timeout']} s): {lock['detail']}; "
                "nothing was changed"
            )
        disk = pkgops.free_space(
            [
                "/var/cache/apt/archives" if self.mgr.name == "apt" else "/var/cache",
                "/usr",
                self.params["rollback_dir"],
            ],
            self.params["min_free_mb"],
        )
        self.result["preflight"]["disk"] = disk
        if not disk["ok"]:
            self.fail("pre-flight: not enough free disk space: " + "; ".join(disk["problems"]))

    # --- state=latest ---
    def latest(self) -> None:
        self.result["rollback_points"] = self._existing_points()
        self.preflight_local()
        installed = self.mgr.installed()
        selected, leftover = pkgops.select_openssl(
            installed, self.mgr.name, self.params["include_leftover"], self.params["packages"]
        )
        self.result["leftover"] = leftover
        self.result["before"] = {p["name"]: p["version"] for p in selected}
        self.result["before_states"] = {p["name"]: p["status"] for p in selected if "status" in p}
        self.result["held"] = pkgops.held_packages(selected)
        self.result["after"] = dict(self.result["before"])
        self._refuse_unfinished(installed)
        if not selected:
            self.mgr.warnings.append("no OpenSSL package is installed; nothing to do")
            return
        plan = self._plan(selected)
        self.result["plan"] = plan
        upgrades = [p for p in plan if p["action"] == "upgrade"]
        self.result["changed_packages"] = [
            {"name": p["name"], "from": p["from"], "to": p["to"]} for p in upgrades
        ]
        if not upgrades:
            return
        self.result["changed"] = True
        if self.module.check_mode:
            self.result["after"].update({p["name"]: p["to"] for p in upgrades})
            return
        self.record_rollback_point(selected, upgrades)
        held = [h["binary"] for h in self.result["held"] if h["action"] == "upgrade"]
        try:
            self.mgr.upgrade(plan, self.params["lock_timeout"], allow_held=bool(held))
        except pkgops.PackageError as exc:
            self._hold_again(held, quiet=True)
            self._failed_upgrade(str(exc))
        self._hold_again(held)
        self._check_after(upgrades)

    def _hold_again(self, binaries: list, quiet: bool = False) -> None:
        """Put back the holds apt dropped when it upgraded held packages (allow_held)."""
        try:
            self.mgr.hold(binaries)
        except pkgops.PackageError as exc:
            if not quiet:
                self.fail(f"the packages changed but the hold could not be put back: {exc}")
            self.mgr.warnings.append(f"the hold could not be put back: {exc}")

    def _refuse_held(self, plan: list, selected: list) -> None:
        """Fail, in check mode too, when the plan upgrades a package on hold and the run was
        not told to (allow_held). The OpenSSL packages move together, so none is upgraded."""
        held = pkgops.held_packages(selected, plan)
        self.result["held"] = held
        names = {h["name"] for h in held}
        for step in plan:
            step["held"] = step["name"] in names
        blocked = [h for h in held if h["action"] == "upgrade"]
        if blocked and not self.params["allow_held"]:
            others = [p["name"] for p in plan if p["action"] == "upgrade" and not p["held"]]
            self.fail(pkgops.held_message(blocked, others))

    def _refuse_unfinished(self, installed: list) -> None:
        """Fail, in check mode too, when dpkg did not finish an earlier run on this host.

        Such a package has its new files unpacked while dpkg's version is not the last good
        one; an upgrade on top would configure it on the way and the rollback point could not
        record what was good before. The message names each package, its state, the version
        dpkg last configured and a rollback point that holds it.
        """
        unfinished = pkgops.unfinished_packages(installed, self.result["rollback_points"])
        self.result["unfinished"] = unfinished
        if unfinished:
            self.fail(pkgops.unfinished_message(unfinished))

    def _failed_upgrade(self, error: str) -> None:
        """Report what the package manager left behind, then fail (the caller rolls back)."""
        point = self.result["rollback_point"].get("run_id")
        try:
            installed = self.mgr.installed()
        except PatchwiseError as exc:
            self.fail(
                f"the upgrade failed: {error}; the package database cannot be read now ({exc}); "
                f"rollback point {point} holds the versions from before"
            )
        rows = {p["name"]: p for p in installed if p["name"] in self.result["before"]}
        self.result["after"] = {name: rows[name]["version"] for name in rows}
        states = {name: row.get("status", "ii") for name, row in rows.items()}
        self.result["after_states"] = states
        moved = [
            f"{name} {rows[name]['version']} ({pkgops.dpkg_state_text(states[name])})"
            for name in sorted(rows)
            if rows[name]["version"] != self.result["before"][name]
            or not rows[name].get("installed", True)
        ]
        if not moved:
            self.fail(f"the upgrade failed before any package changed: {error}")
        self.fail(
            f"the upgrade failed mid-way: {error}; now installed: {', '.join(moved)}; "
            f"rollback point {point} holds the versions from before"
        )

    def _existing_points(self) -> list:
        """The rollback points already on the host (run id, time, versions, restores)."""
        points = []
        for point in pkgops.list_rollback_points(self.params["rollback_dir"]):
            try:
                manifest = pkgops.load_manifest(os.path.join(point["path"], pkgops.MANIFEST))
            except pkgops.PackageError:
                continue
            points.append(
                {
                    "run_id": point["run_id"],
                    "created_at": point["created_at"],
                    "path": point["path"],
                    "packages": [
                        {"name": p["name"], "version": p["version"]} for p in manifest["packages"]
                    ],
                    "restores": len(manifest.get("restores") or []),
                }
            )
        return points

    def _plan(self, selected: list) -> list:
        names = [p["name"] for p in selected]
        version = self.params["version"]
        if self.mgr.name != "apt":
            return pkgops.plan_rpm(selected, self.mgr.updates(names), version)
        if self.params["update_cache"]:
            errors = self.mgr.update_cache(self.params["lock_timeout"])
            self.result["preflight"]["repositories"] = {"ok": not errors, "errors": errors}
            if errors:
                self.fail("pre-flight: a package repository is unreachable: " + "; ".join(errors))
        plan = pkgops.plan_apt(selected, self.mgr.policy(names), version)
        self.result["plan"] = plan
        missing = [p for p in plan if p["action"] == "unavailable"]
        if missing:
            self.fail(
                "pre-flight: target version not available: "
                + "; ".join(f"{p['name']}: {p['reason']}" for p in missing)
            )
        downgrades = [p for p in plan if p["action"] == "downgrade"]
        if downgrades:
            self.fail(
                "refusing to downgrade "
                + ", ".join(f"{p['name']} {p['from']} -> {p['to']}" for p in downgrades)
                + "; use state=restored with a rollback point"
            )
        self._refuse_held(plan, selected)
        if any(p["action"] == "upgrade" for p in plan):
            sim = self.mgr.simulate(plan)
            problems = pkgops.check_simulation(sim, plan, self.params["allow_held"])
            self.result["preflight"]["simulation"] = {"ok": not problems, "problems": problems}
            if problems and not (self.params["allow_other_changes"] and not sim["errors"]):
                self.fail(
                    "pre-flight: apt's simulation does more than the plan: " + "; ".join(problems)
                )
        return plan

    def record_rollback_point(self, selected: list, upgrades: list) -> None:
        """Write this run's rollback point, all or nothing; never overwrite an existing one.

        The copies and the manifest go to a dot directory that is renamed into place when
        complete, so an interrupted run leaves no half-written point. When the point of this
        run id exists (an earlier, interrupted attempt of the same run wrote it), it already
        holds the versions from before that attempt: it is kept, and only packages it lacks
        are added.
        """
        run_id = self.params["run_id"] or pkgops.new_run_id()
        if not pkgops.valid_run_id(run_id):
            self.fail(f"run_id {run_id!r}: letters, digits, '.', '_' and '-' only")
        root = self.params["rollback_dir"]
        directory = os.path.join(root, run_id)
        pkgops.make_private_dir(root)
        self._remove_partial_points(root, run_id)
        changing = {p["name"] for p in upgrades}
        if os.path.isfile(os.path.join(directory, pkgops.MANIFEST)):
            self._extend_rollback_point(directory, selected, changing)
            return
        partial = tempfile.mkdtemp(prefix=f".{run_id}.partial-", dir=root)
        os.chmod(partial, 0o700)
        entries = self._copies(selected, changing, partial)
        manifest = {
            "format": pkgops.MANIFEST_FORMAT,
            "run_id": run_id,
            "created_at": _utc_now(),
            "host": pkgops.host_name(),
            "manager": self.mgr.name,
            "packages": entries,
            "unchanged": [
                {"name": p["name"], "version": p["version"]}
                for p in selected
                if p["name"] not in changing
            ],
            "planned": [{"name": p["name"], "from": p["from"], "to": p["to"]} for p in upgrades],
            "restores": [],
        }
        pkgops.write_manifest(partial, manifest)
        os.rename(partial, directory)
        self.result["rollback_point"] = {
            "run_id": run_id,
            "path": directory,
            "manifest": os.path.join(directory, pkgops.MANIFEST),
            "packages": entries,
            "reused": False,
        }
        self.result["pruned"] = pkgops.prune_rollback_points(root, self.params["keep"], run_id)

    def _copies(self, selected: list, changing: set, directory: str) -> list:
        entries = []
        for pkg in selected:
            if pkg["name"] not in changing:
                continue
            copy = self.mgr.copy_package(pkg, directory)
            path = os.path.join(directory, copy["file"])
            entries.append(
                {
                    "name": pkg["name"],
                    "arch": pkg["arch"],
                    "version": pkg["version"],
                    "file": copy["file"],
                    "sha256": pkgops.sha256_file(path),
                    "size": os.path.getsize(path),
                    "origin": copy["origin"],
                    "note": copy.get("note"),
                }
            )
        return entries

    def _extend_rollback_point(self, directory: str, selected: list, changing: set) -> None:
        path = os.path.join(directory, pkgops.MANIFEST)
        manifest = pkgops.load_manifest(path)
        recorded = {p["name"] for p in manifest["packages"]}
        missing = changing - recorded
        added = self._copies(selected, missing, directory) if missing else []
        if added:
            manifest["packages"] = manifest["packages"] + added
            manifest.setdefault("added", []).append(
                {"at": _utc_now(), "packages": [p["name"] for p in added]}
            )
            pkgops.write_manifest(directory, manifest)
        self.mgr.warnings.append(
            f"rollback point {manifest.get('run_id')} already existed (written by an earlier, "
            "interrupted attempt of this run): kept as it was, with the versions from before "
            "that attempt" + (f"; added {', '.join(sorted(missing))}" if added else "")
        )
        self.result["rollback_point"] = {
            "run_id": manifest.get("run_id"),
            "path": directory,
            "manifest": path,
            "packages": manifest["packages"],
            "reused": True,
        }

    @staticmethod
    def _remove_partial_points(root: str, run_id: str) -> None:
        """Remove what an interrupted writer of this run's point left (never a complete point)."""
        for entry in os.listdir(root):
            if entry.startswith(f".{run_id}.partial-"):
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)

    def _check_after(self, upgrades: list) -> None:
        rows = {p["name"]: p for p in self.mgr.installed() if p["name"] in self.result["before"]}
        self.result["after"] = {name: row["version"] for name, row in rows.items()}
        wrong = pkgops.post_change_problems(
            rows, {p["name"]: p["to"] for p in upgrades}, "planned", self.result["held"]
        )
        if wrong:
            self.fail("after the upgrade: " + "; ".join(wrong))

    # --- state=restored ---
    def restored(self) -> None:
        path = self._manifest_path()
        manifest = pkgops.load_manifest(path)
        directory = os.path.dirname(path)
        self.result["rollback_point"] = {
            "run_id": manifest.get("run_id"),
            "path": directory,
            "manifest": path,
            "packages": manifest["packages"],
        }
        problems = pkgops.verify_manifest_files(directory, manifest)
        if problems:
            self.fail("rollback point is not usable: " + "; ".join(problems))
        installed = {p["name"]: p for p in self.mgr.installed()}
        wanted = manifest["packages"]
        self.result["before"] = {
            p["name"]: installed.get(p["name"], {}).get("version") for p in wanted
        }
        self.result["before_states"] = {
            p["name"]: installed[p["name"]]["status"]
            for p in wanted
            if "status" in installed.get(p["name"], {})
        }
        self.result["after"] = dict(self.result["before"])
        # A package at the recorded version that dpkg did not finish (half-configured, ...) is
        # installed again from the copy too: that is what makes it whole.
        todo = [
            p
            for p in wanted
            if self.result["before"][p["name"]] != p["version"]
            or installed.get(p["name"], {}).get("unfinished")
        ]
        self.result["plan"] = [
            {
                "name": p["name"],
                "arch": p["arch"],
                "from": self.result["before"][p["name"]],
                "to": p["version"],
                "action": "restore" if p in todo else "none",
                "leftover": False,
            }
            for p in wanted
        ]
        self.result["changed_packages"] = [
            {"name": p["name"], "from": self.result["before"][p["name"]], "to": p["version"]}
            for p in todo
        ]
        # dpkg -i sets a held package's selection to install: its hold is put back afterwards.
        self.result["held"] = pkgops.held_packages(
            [installed[p["name"]] for p in wanted if p["name"] in installed],
            self.result["plan"],
        )
        if not todo:
            self.result["audit"] = self.mgr.audit()
            return
        self.result["changed"] = True
        if self.module.check_mode:
            self.result["after"].update({p["name"]: p["version"] for p in todo})
            self.result["audit"] = ""
            return
        self.preflight_local()
        held = [h["binary"] for h in self.result["held"]]
        try:
            self.mgr.restore([os.path.join(directory, os.path.basename(p["file"])) for p in wanted])
        finally:
            self._hold_again(held, quiet=True)
        rows = {p["name"]: p for p in self.mgr.installed()}
        self.result["after"] = {p["name"]: rows.get(p["name"], {}).get("version") for p in wanted}
        wrong = pkgops.post_change_problems(
            {p["name"]: rows[p["name"]] for p in wanted if p["name"] in rows},
            {p["name"]: p["version"] for p in wanted},
            "recorded",
            self.result["held"],
        )
        audit = self.mgr.audit()
        self.result["audit"] = audit
        self._append_restore(path, manifest, not wrong and not audit)
        if wrong:
            self.fail("after the restore: " + "; ".join(wrong))
        if audit:
            self.fail(f"after the restore the package database is inconsistent: {audit}")

    def _manifest_path(self) -> str:
        if self.params["manifest"]:
            return self.params["manifest"]
        root = self.params["rollback_dir"]
        run_id = self.params["run_id"]
        if run_id:
            if not pkgops.valid_run_id(run_id):
                self.fail(f"run_id {run_id!r}: letters, digits, '.', '_' and '-' only")
            return os.path.join(root, run_id, pkgops.MANIFEST)
        points = pkgops.list_rollback_points(root)
        if not points:
            self.fail(f"no rollback point under {root}")
        return os.path.join(points[-1]["path"], pkgops.MANIFEST)

    def _append_restore(self, path: str, manifest: dict, ok: bool) -> None:
        manifest.setdefault("restores", []).append(
            {
                "at": _utc_now(),
                "ok": ok,
                "versions": self.result["after"],
            }
        )
        pkgops.write_manifest(os.path.dirname(path), manifest)


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_LATEST_ONLY = ("version", "packages", "include_leftover", "allow_other_changes", "allow_held")


def _argument_problems(params: dict) -> list:
    """Values the argument spec cannot express: ranges, a run id that cannot name a directory,
    options of the other state."""
    problems = [
        f"{name} must not be negative, got {params[name]}"
        for name in ("lock_timeout", "min_free_mb")
        if params[name] < 0
    ]
    if params["keep"] < 1:
        problems.append(f"keep must be at least 1 (the new rollback point), got {params['keep']}")
    if params["run_id"] and not pkgops.valid_run_id(params["run_id"]):
        problems.append(f"run_id {params['run_id']!r}: letters, digits, '.', '_' and '-' only")
    if params["state"] == "restored":
        problems += [f"{name} applies to state=latest only, not to state=restored"
                     for name in _LATEST_ONLY if params[name]]
    elif params["manifest"]:
        problems.append("manifest applies to state=restored only, not to state=latest")
    return problems


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["latest", "restored"], "default": "latest"},
            "version": {"type": "str"},
            "packages": {"type": "list", "elements": "str", "default": []},
            "include_leftover": {"type": "bool", "default": False},
            "update_cache": {"type": "bool", "default": True},
            "lock_timeout": {"type": "int", "default": 120},
            "min_free_mb": {"type": "int", "default": 200},
            "allow_other_changes": {"type": "bool", "default": False},
            "allow_held": {"type": "bool", "default": False},
            "rollback_dir": {"type": "path", "default": "/var/lib/patchwise-openssl/rollback"},
            "run_id": {"type": "str"},
            "manifest": {"type": "path"},
            "keep": {"type": "int", "default": 5},
            "pkg_mgr": {
                "type": "str",
                "choices": ["auto", "apt", "dnf", "yum", "zypper"],
                "default": "auto",
            },
        },
        mutually_exclusive=[("manifest", "run_id")],
        supports_check_mode=True,
    )
    problems = _argument_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    op = Operation(module)
    try:
        if module.params["state"] == "latest":
            op.latest()
        else:
            op.restored()
    except PatchwiseError as exc:
        op.fail(str(exc))
    op.cleanup()
    for warning in op.mgr.warnings:
        module.warn(warning)
    module.exit_json(warnings_list=op.mgr.warnings, **op.result)


if __name__ == "__main__":
    main()
