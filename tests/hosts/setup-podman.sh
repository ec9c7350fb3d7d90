#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Make podman usable for the collection's test hosts on a Debian 12 machine where systemd is
# not PID 1 and no container registry is reachable. Idempotent: installs only what is
# missing, rewrites one drop-in config file, then proves that a container really starts.
#
# Usage: tests/hosts/setup-podman.sh        (as root)
set -euo pipefail
# shellcheck source=tests/hosts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pw_require_root

CONF_DIR=/etc/containers/containers.conf.d
CONF_FILE=$CONF_DIR/50-patchwise-test-hosts.conf
PROBE_IMAGE=localhost/patchwise-probe:latest

# --- 1. packages ---------------------------------------------------------------------------
# runc, not crun: crun fails on this kind of host (hybrid cgroup v1 + v2 hierarchy).
# catatonit: the init that `podman run --init` (molecule `init: true`) injects; services in
# test containers need a reaping init or their old masters turn into zombies.
# slirp4netns/uidmap: podman's networking and id-mapping helpers.
# debootstrap: builds the Debian base images (no registry); dpkg-dev: dpkg-scanpackages for
# the local apt repositories.
# fuse-overlayfs is not needed: podman runs as root and uses the kernel's overlay driver.
PACKAGES=(podman runc catatonit conmon slirp4netns uidmap debootstrap dpkg-dev ca-certificates
          debian-archive-keyring)
missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    pw_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --no-install-recommends: podman recommends buildah, dbus-user-session, ... none needed.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    pw_log "packages already present: ${PACKAGES[*]}"
fi

# --- 2. podman configuration ---------------------------------------------------------------
# Hard limits of this machine. Podman (as root) asks the runtime to set RLIMIT_NOFILE and
# RLIMIT_NPROC to 1048576/4194304 in every container. Raising a hard limit needs
# CAP_SYS_RESOURCE, which this sandbox does not grant, so runc then fails with
#   "error setting rlimit type 7: operation not permitted" (nofile) or
#   "setrlimit RLIMIT_NPROC: operation not permitted".
# The defaults below never exceed the current hard limits; they are measured each run, so the
# file stays right if the machine changes.
cap_limit() { # cap_limit <hard limit from ulimit -H?> <preferred value>
    local hard=$1 want=$2
    if [[ $hard == unlimited ]] || ((hard >= want)); then echo "$want"; else echo "$hard"; fi
}
hard_nofile=$(ulimit -Hn)
hard_nproc=$(ulimit -Hu)
nofile=$(cap_limit "$hard_nofile" 65536)
nproc=$(cap_limit "$hard_nproc" 32768)

desired=$(cat <<EOF
# Written by tests/hosts/setup-podman.sh (patchwise.openssl test hosts). Rewritten on each run.
#
# runtime = runc: crun fails on this host's hybrid cgroup v1/v2 layout.
# cgroup_manager = cgroupfs: systemd is not PID 1, so podman cannot ask it for cgroups.
# events_logger = file: there is no journald to log to.
# default_ulimits: podman's own defaults (1048576 files, 4194304 processes) exceed this
#   machine's hard limits (nofile ${hard_nofile}, nproc ${hard_nproc}) and raising a hard limit
#   needs CAP_SYS_RESOURCE, which is not granted here: every container start would fail with
#   "setrlimit ...: operation not permitted". These values are capped at the hard limits.
[containers]
default_ulimits = [
  "nofile=${nofile}:${nofile}",
  "nproc=${nproc}:${nproc}",
]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
mkdir -p "$CONF_DIR"
if [[ -f $CONF_FILE ]] && [[ $(cat "$CONF_FILE") == "$desired" ]]; then
    pw_log "podman config unchanged: $CONF_FILE"
else
    printf '%s\n' "$desired" >"$CONF_FILE"
    pw_log "wrote $CONF_FILE (nofile=$nofile nproc=$nproc)"
fi

# Debian's podman package still ships the obsolete /etc/containers/libpod.conf naming crun
# and the systemd cgroup manager; podman 4 ignores it, the drop-in above is authoritative.

# --- 3. storage driver -------------------------------------------------------------------
driver=$(podman info --format '{{ .Store.GraphDriverName }}' 2>&1) ||
    pw_die "podman info failed: $driver"
pw_log "podman $(podman version --format '{{ .Client.Version }}'), storage driver: $driver"
if [[ $driver == vfs ]]; then
    # vfs works but copies every layer in full: image builds and container starts get slow.
    pw_log "WARNING: kernel overlay is unusable here, podman fell back to vfs (slow)"
fi

# --- 4. proof: start a real container ------------------------------------------------------
# A tiny image made from the host's own dash and libc (no registry needed). It is run the way
# the test scenarios run their hosts: with --init and SYS_PTRACE.
if ! podman image exists "$PROBE_IMAGE"; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for f in /bin/dash $(ldd /bin/dash | grep -o '/[^ ]*'); do
        mkdir -p "$tmp$(dirname "$f")"
        cp -L "$f" "$tmp$f"
    done
    ln -s dash "$tmp/bin/sh"
    tar -C "$tmp" -c . | podman import --quiet \
        --change 'LABEL io.patchwise.role=probe' - "$PROBE_IMAGE" >/dev/null
fi
if ! out=$(podman run --rm --init --cap-add SYS_PTRACE "$PROBE_IMAGE" /bin/sh -c 'echo started' 2>&1) ||
    [[ $out != *started* ]]; then
    cat >&2 <<EOF
ERROR: podman cannot start containers on this machine.
Output of 'podman run --rm --init --cap-add SYS_PTRACE $PROBE_IMAGE /bin/sh -c "echo started"':
$out
Check $CONF_FILE (runtime, cgroup manager, ulimits) and 'podman info'.
EOF
    exit 1
fi
pw_log "podman starts containers (runtime $(podman info --format "{{ .Host.OCIRuntime.Name }}")): ok"
