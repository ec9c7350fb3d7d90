#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# One entry point for everything the molecule scenarios need on this machine, each step
# idempotent and cached (see docs/test-hosts.md):
#   1. setup-podman.sh    podman installed and configured for this host, proven to start
#   2. build-images.sh    localhost/patchwise-debian:{11,12,13} (rebuilt when the recipe changes)
#   3. build-apt-repo.sh  local apt repositories with re-versioned OpenSSL packages
#
# Usage: tests/hosts/prepare.sh [11 12 13]      (as root; default: all three)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/hosts/lib.sh
. "$HERE/lib.sh"

step() { # step <name> <command...>
    local name=$1 start
    shift
    start=$(pw_now)
    "$@"
    timings+=("$(printf '%-16s %6s s' "$name" "$(pw_since "$start")")")
}

timings=()
total=$(pw_now)
step setup-podman "$HERE/setup-podman.sh"
step build-images "$HERE/build-images.sh" "$@"
step build-apt-repo "$HERE/build-apt-repo.sh" "$@"
printf 'test hosts ready (cache: %s)\n' "$PW_CACHE"
printf '  %s\n' "${timings[@]}" "$(printf '%-16s %6s s' total "$(pw_since "$total")")"
