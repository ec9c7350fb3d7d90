#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Build the local Debian base images for the test hosts with debootstrap (no registry):
#   localhost/patchwise-debian:11  bullseye  OpenSSL 1.1.1
#   localhost/patchwise-debian:12  bookworm  OpenSSL 3.0
#   localhost/patchwise-debian:13  trixie    OpenSSL 3.5
# An image is rebuilt only when its recipe (this script, lib.sh, the release) changed: the
# recipe hash is stored in the image label io.patchwise.recipe.
#
# Usage: tests/hosts/build-images.sh [--force] [11 12 13]     (as root, after setup-podman.sh)
set -euo pipefail
# shellcheck source=tests/hosts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pw_require_root

FORCE=0
distros=()
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h | --help) sed -n '3,12p' "$0"; exit 0 ;;
        *) distros+=("$arg") ;;
    esac
done
((${#distros[@]})) || read -ra distros <<<"$PW_DISTROS_DEFAULT"
pw_check_distros "${distros[@]}"

# What the tests need inside a host, nothing more (debootstrap's minbase is the rest):
# python3 + python3-apt for Ansible (and its apt module), openssl + ca-certificates as the
# subject under test, procps (ps/pgrep) and iproute2 (ss) for probes.
INCLUDE=python3,python3-apt,openssl,ca-certificates,procps,iproute2

SELF_FILES=("${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/lib.sh")
WORK=$PW_CACHE/images
mkdir -p "$WORK/logs" "$WORK/debs"

recipe_hash() { # recipe_hash <major>
    pw_hash "$1 ${PW_CODENAME[$1]} $INCLUDE $PW_MIRROR $PW_SECURITY_MIRROR" "${SELF_FILES[@]}"
}

# Refuse anything that is not a debootstrapped tree below the cache: these functions write
# into and chroot to it, and must never touch the build machine itself.
check_rootfs() { # check_rootfs <rootfs>
    [[ -n $1 && $1 == "$WORK"/rootfs-* && -d $1/etc/apt && -x $1/usr/bin/apt-get ]] ||
        pw_die "refusing to work on '$1': not a rootfs under $WORK"
}

# debootstrap installs from the release suite only. Bring the rootfs to the state of a
# maintained host: updates and security suites applied (OpenSSL is usually updated there).
apply_updates() { # apply_updates <rootfs> <codename>
    local root=$1 codename=$2 rc=0
    check_rootfs "$root"
    # Main, updates and the security suite, so apt inside a test host sees current packages.
    cat >"$root/etc/apt/sources.list" <<EOF
deb $PW_MIRROR $codename main
deb $PW_MIRROR $codename-updates main
deb $PW_SECURITY_MIRROR $codename-security main
EOF
    # No service may start inside the build chroot.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    mount -t proc proc "$root/proc"
    chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C /bin/sh -c \
        'apt-get update -qq && apt-get -y -qq -o Dpkg::Use-Pty=0 upgrade' || rc=$?
    umount "$root/proc"
    rm -f "$root/usr/sbin/policy-rc.d"
    return "$rc"
}

# Write the files that make the rootfs a usable apt host and strip what must not ship.
finish_rootfs() { # finish_rootfs <rootfs>
    local root=$1
    check_rootfs "$root"
    # Lean hosts: tests install exactly what they name.
    cat >"$root/etc/apt/apt.conf.d/90patchwise-test-host" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
    # debootstrap leaves every .deb it installed in /var/cache/apt/archives. Copying *.deb from
    # there later picks up old packages (a `dpkg -i *.deb` then downgrades libssl): remove them.
    # Package lists are removed too: they are stale by the time a test runs apt-get update.
    find "$root/var/cache/apt/archives" -name '*.deb' -delete
    rm -f "$root"/var/cache/apt/*.bin
    find "$root/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
    # The container engine provides these per container.
    : >"$root/etc/hostname"
    rm -f "$root/etc/resolv.conf"
}

build_one() { # build_one <major>   (runs in a subshell, output to its log)
    local major=$1 codename=${PW_CODENAME[$1]}
    local image=$PW_IMAGE_REPO:$major hash root old_id start
    start=$(pw_now)
    hash=$(recipe_hash "$major")
    root=$WORK/rootfs-$major
    # Never follow a half-unmounted chroot: make sure nothing is mounted below root first.
    if mountpoint -q "$root/proc" 2>/dev/null; then umount -l "$root/proc"; fi
    if mountpoint -q "$root/sys" 2>/dev/null; then umount -l "$root/sys"; fi
    rm -rf "$root"
    mkdir -p "$WORK/debs/$codename"
    debootstrap --variant=minbase --include="$INCLUDE" --cache-dir="$WORK/debs/$codename" \
        "$codename" "$root" "$PW_MIRROR"
    apply_updates "$root" "$codename"
    finish_rootfs "$root"
    old_id=$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
    tar --numeric-owner -C "$root" -c . | podman import --quiet \
        --change 'CMD ["sleep", "infinity"]' \
        --change "LABEL io.patchwise.recipe=$hash" \
        --change "LABEL io.patchwise.debian=$major" \
        --change "LABEL io.patchwise.codename=$codename" \
        --message "patchwise test host: Debian $major ($codename), debootstrap minbase" \
        - "$image"
    if [[ -n $old_id ]] && [[ $old_id != "$(podman image inspect --format '{{ .Id }}' "$image")" ]]; then
        podman rmi "$old_id" >/dev/null 2>&1 || true
    fi
    rm -rf "$root"
    printf '%s\n' "$(pw_since "$start")" >"$WORK/logs/build-$major.seconds"
}

total_start=$(pw_now)
declare -A pids=()
for major in "${distros[@]}"; do
    image=$PW_IMAGE_REPO:$major
    if ((!FORCE)) && [[ $(pw_image_label "$image" io.patchwise.recipe) == "$(recipe_hash "$major")" ]]; then
        pw_log "$image: up to date (recipe $(recipe_hash "$major")), skipped"
        continue
    fi
    pw_log "$image: building (debootstrap ${PW_CODENAME[$major]}), log $WORK/logs/build-$major.log"
    # The three builds are mostly network and dpkg unpacking: in parallel they finish in about
    # the time of the slowest one, even on 2 cores. Each has its own rootfs and deb cache.
    (build_one "$major") >"$WORK/logs/build-$major.log" 2>&1 &
    pids[$major]=$!
done

failed=()
for major in "${!pids[@]}"; do
    if wait "${pids[$major]}"; then
        pw_log "$PW_IMAGE_REPO:$major: built in $(cat "$WORK/logs/build-$major.seconds") s"
    else
        failed+=("$major")
        pw_log "$PW_IMAGE_REPO:$major: FAILED, last lines of $WORK/logs/build-$major.log:"
        tail -n 15 "$WORK/logs/build-$major.log" >&2
    fi
done
((${#failed[@]} == 0)) || pw_die "image build failed for Debian ${failed[*]}"
pw_log "images ready in $(pw_since "$total_start") s: $(for m in "${distros[@]}"; do printf '%s:%s ' "$PW_IMAGE_REPO" "$m"; done)"
