#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_refresh
short_description: Make running processes drop a stale libssl/libcrypto without a reboot
version_added: 0.1.0
description:
  - Scans C(/proc) with the same engine as M(patchwise.openssl.openssl_facts), groups the
    processes that still map a replaced (deleted or re-written) C(libssl)/C(libcrypto) by
    service (workers under their master), by container, and "no service", chooses one action
    per service from a measured strategy table, acts, re-scans and reports what is left.
  - "Strategy table (see C(docs/refresh.md) for the measurements): nginx binary upgrade
    (C(USR2), confirm the new master, C(WINCH), C(QUIT) the old master; the old master keeps
    serving when the new one fails); haproxy master-worker C(USR2) re-exec; haproxy C(-sf) soft
    reload with C(-x) socket transfer; sshd C(HUP) re-exec; apache2 stop and start (disruptive);
    C(systemctl daemon-reexec) for PID 1 on systemd hosts; a restart through the init system for
    any other service (disruptive)."
  - Disruptive actions run only when allowed (O(restart_ok), O(disruptive_ok)); use
    O(phase=online) and O(phase=drain) to run them inside a drain window (the role
    P(patchwise.openssl.refresh#role) does this with user-supplied hooks).
  - Deny-listed services are never touched and are reported as needing a maintenance window or a
    reboot. Processes in containers are reported per container and never acted on from the host.
    Processes that belong to no service are listed with their executable, command line and user.
  - With userspace live patching present and O(livepatch=auto), C(kcarectl --lib-update) runs
    first; processes patched in memory count as refreshed, with the evidence returned.
  - Every action is verified by re-scanning the memory maps; a signal's exit code and the PID
    prove nothing (haproxy and sshd re-execute in place under the same PID).
author:
  - patchwise.openssl maintainers (!UNKNOWN)
options:
  services:
    description:
      - Act only on these services (unit or init script name, with or without C(.service), or
        the executable's basename). Empty acts on every stale service.
      - Other stale processes are still reported.
    type: list
    elements: str
    default: []
  restart_ok:
    description:
      - Allow a plain restart through the init system (C(service_restart)) for services with no
        zero-downtime path. A restart drops connections.
    type: bool
    default: false
  disruptive_ok:
    description:
      - Allow the measured disruptive strategies such as apache2's stop and start (its parent
        never re-executes on C(graceful) or C(restart)).
    type: bool
    default: false
  deny:
    description:
      - Replace the built-in deny list. Shell-style patterns matched against the service name
        (with and without C(.service)), the executable's basename and the process name.
      - The built-in list covers dbus, dbus-broker, systemd-logind, display managers (gdm, sddm,
        lightdm, xdm), NetworkManager, C(user@N.service), libvirt, docker, containerd, podman and
        CRI-O.
    type: list
    elements: str
  deny_extra:
    description:
      - Patterns added to the deny list (built-in or O(deny)).
    type: list
    elements: str
    default: []
  strategies:
    description:
      - Per-service strategy overrides, service name (or executable basename) to strategy name.
      - "Strategy names: V(nginx_binary_upgrade), V(haproxy_master_reload),
        V(haproxy_soft_reload), V(apache_stop_start), V(sshd_hup), V(systemd_daemon_reexec),
        V(service_restart), V(report_only)."
    type: dict
    default: {}
  phase:
    description:
      - V(all) runs every allowed action.
      - V(online) runs only the zero-downtime actions and reports the disruptive ones as
        pending (RV(drain_services)).
      - V(drain) runs only the disruptive actions (call it between the drain hooks).
    type: str
    choices: [all, online, drain]
    default: all
  livepatch:
    description:
      - V(auto) runs C(kcarectl --lib-update) first when KernelCare LibCare is present and
        enabled and some stale process is not patched yet. V(off) ignores live patching.
    type: str
    choices: [auto, "off"]
    default: auto
  timeout:
    description:
      - Seconds to wait for each service's step (new master up, old processes gone).
    type: float
    default: 30
  recover:
    description:
      - Services an earlier refresh stopped and could not start again, as that run returned
        them in RV(services_down) (dicts with C(service), C(service_source) V(init) or
        V(systemd), C(name) and C(exe); other keys are ignored).
      - Before anything else, each one whose executable has no running process is started
        through its init system (C(/etc/init.d/<service> start) or C(systemctl start)), and
        the module waits up to O(timeout) seconds for its process. A running one is left alone.
      - The role P(patchwise.openssl.refresh#role) passes the services its previous run left
        down, so the refresh that follows a rollback brings them back on the restored library.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
    description: Returns the plan (which services, which action, why) and changes nothing.
  diff_mode:
    support: none
    description: No diff is produced.
  platform:
    support: full
    description: Linux hosts with C(/proc).
    platforms: posix
notes:
  - Runs as root. Signals are sent with C(os.kill), commands run without a shell.
  - The systemd paths (unit mapping from C(/proc/PID/cgroup), C(systemctl restart),
    C(systemctl daemon-reexec)) are unit-tested on recorded data; the live tests run on hosts
    whose services are started by init scripts.
seealso:
  - module: patchwise.openssl.openssl_facts
"""

EXAMPLES = r"""
---
- name: Show what a refresh would do
  patchwise.openssl.openssl_refresh:
  check_mode: true
  register: refresh_plan

- name: Refresh every service that has a zero-downtime path
  patchwise.openssl.openssl_refresh:
    phase: online

- name: Refresh nginx and apache2 only, allowing apache2's stop and start
  patchwise.openssl.openssl_refresh:
    services: [nginx, apache2]
    disruptive_ok: true
    deny_extra: [my-legacy-daemon]

- name: Refresh, allowing plain restarts; keep the result when a service does not come back
  patchwise.openssl.openssl_refresh:
    restart_ok: true
  register: first_refresh
  failed_when: first_refresh.plan is not defined

- name: After a rollback, start again what that refresh left stopped, then refresh
  patchwise.openssl.openssl_refresh:
    restart_ok: true
    recover: "{{ first_refresh.services_down }}"
"""

RETURN = r"""
changed:
  description: Whether an action was run (in check mode, whether one would run).
  returned: always
  type: bool
check_mode:
  description: >-
    Whether the module ran in check mode (only the plan was computed). Callers use it instead of
    C(ansible_check_mode), which does not reflect a task- or play-level C(check_mode) keyword.
  returned: always
  type: bool
phase:
  description: The phase that ran.
  returned: always
  type: str
plan:
  description: >-
    One entry per group of stale processes with C(key), C(kind) (service, process, container,
    pid1), C(name), C(service), C(service_source), C(master_pid), C(pids), C(processes),
    C(strategy), C(action), C(disruptive), C(gate), C(evidence), C(decision) (act, denied,
    not_allowed, unowned, container, reboot, excluded, pending_drain, deferred, livepatched,
    report) and C(reason).
  returned: always
  type: list
  elements: dict
services:
  description: >-
    Result per service acted on: C(name), C(service), C(service_source), C(exe), C(strategy),
    C(status) (refreshed, incomplete, failed), C(steps), C(error) (what failed, followed by the
    last line the service printed), C(output) (the service's own output), C(down) (a restart
    left no process of the service running), C(remaining_pids), C(sessions), C(draining),
    C(elapsed_seconds).
  returned: always (empty in check mode)
  type: list
  elements: dict
recovered:
  description: >-
    Result per O(recover) entry: C(name), C(service), C(service_source), C(exe), C(status)
    (started, running, would_start in check mode, failed), C(error), C(output), C(steps).
  returned: always
  type: list
  elements: dict
services_down:
  description: >-
    Services this run left stopped: a restart after which no process of the service runs, or
    an O(recover) entry that could not be started. Each with C(name), C(service),
    C(service_source), C(exe) and C(error); pass the list as O(recover) to a later run.
  returned: always
  type: list
  elements: dict
failed_services:
  description: Names of the services whose refresh (or start again) failed.
  returned: always
  type: list
  elements: str
leftover:
  description: >-
    Every process still mapping a stale library after the run, with C(pid), C(user), C(exe),
    C(cmdline), C(service), C(kind), C(container), C(class) and C(reason).
  returned: always
  type: list
  elements: dict
containers:
  description: Leftover processes in containers, by container id.
  returned: always
  type: dict
unowned:
  description: Leftover processes that belong to no service.
  returned: always
  type: list
  elements: dict
drain_services:
  description: Services whose allowed action is disruptive (they need the drain window).
  returned: always
  type: list
  elements: str
refresh_required:
  description: Whether any process still maps a stale library.
  returned: always
  type: bool
reboot_required:
  description: Whether a leftover process can only be refreshed in a maintenance window or by a
    reboot (deny-listed services, PID 1 without systemd).
  returned: always
  type: bool
livepatch:
  description: Live patching state (C(available), C(update_planned), C(update_run),
    C(patched_pids), C(output)).
  returned: always
  type: dict
unreadable_processes:
  description: Processes whose maps could not be read (pid, comm, error).
  returned: always
  type: list
  elements: dict
ansible_facts:
  description: C(openssl_refresh_required), C(openssl_reboot_required) and
    C(openssl_refresh_leftover), as in the return values of the same names.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (  # noqa: E402
    procscan,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (  # noqa: E402
    PatchwiseError,
)

try:  # live patching support is optional: without it the refresh reports it as unavailable
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
        livepatch,
    )
except ImportError:  # pragma: no cover
    livepatch = None  # type: ignore[assignment]
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.refresh import (  # noqa: E402
    Host,
    Refresh,
    failure_summary,
    normalise_options,
)

ARGUMENT_SPEC = {
    "services": {"type": "list", "elements": "str", "default": []},
    "restart_ok": {"type": "bool", "default": False},
    "disruptive_ok": {"type": "bool", "default": False},
    "deny": {"type": "list", "elements": "str"},
    "deny_extra": {"type": "list", "elements": "str", "default": []},
    "strategies": {"type": "dict", "default": {}},
    "phase": {"type": "str", "choices": ["all", "online", "drain"], "default": "all"},
    "livepatch": {"type": "str", "choices": ["auto", "off"], "default": "auto"},
    "timeout": {"type": "float", "default": 30.0},
    "recover": {"type": "list", "elements": "dict", "default": []},
}
SBIN = ["/usr/sbin", "/sbin", "/usr/local/sbin"]


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(1 << 20)
    except OSError:
        return None


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run(argv: list) -> tuple:
        return module.run_command(argv, environ_update={"LC_ALL": "C", "LANG": "C"})

    def which(name: str) -> str | None:
        return module.get_bin_path(name, opt_dirs=SBIN)

    def scan() -> dict:
        return procscan.Scanner(listening=False).scan()

    def gather_livepatch() -> dict:
        return livepatch.gather(run, which, _read_text, [])

    try:
        options = normalise_options(dict(module.params))
        result = Refresh(options, Host(run, scan, which), module.check_mode,
                         gather_livepatch if livepatch is not None else None).run()
    except PatchwiseError as exc:
        module.fail_json(msg=f"openssl_refresh: {exc}")
    for warning in result.pop("warnings"):
        module.warn(warning)
    result["ansible_facts"] = {
        "openssl_refresh_required": result["refresh_required"],
        "openssl_reboot_required": result["reboot_required"],
        "openssl_refresh_leftover": result["leftover"],
    }
    if result["failed_services"]:
        module.fail_json(msg=f"openssl_refresh: {failure_summary(result)}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
