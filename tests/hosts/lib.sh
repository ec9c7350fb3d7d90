# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Shared helpers for the test-host scripts in tests/hosts/. Sourced, never executed.
# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts sourcing this

# Repository root (the collection root) and the cache every script writes to.
PW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PW_CACHE=${PATCHWISE_HOSTS_CACHE:-$PW_ROOT/.cache/test-hosts}
# Debian releases the test hosts cover: major version -> codename.
declare -A PW_CODENAME=([11]=bullseye [12]=bookworm [13]=trixie)
PW_DISTROS_DEFAULT="11 12 13"
PW_IMAGE_REPO=localhost/patchwise-debian
PW_MIRROR=${PATCHWISE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PW_SECURITY_MIRROR=${PATCHWISE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

pw_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
pw_die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

pw_now() { date +%s.%N; }
# Seconds (one decimal) elapsed since a pw_now timestamp.
pw_since() { awk -v a="$1" -v b="$(pw_now)" 'BEGIN { printf "%.1f", b - a }'; }

pw_require_root() {
    [[ $(id -u) -eq 0 ]] || pw_die "$(basename "$0") must run as root (podman, debootstrap)."
}

# Validate a list of Debian major versions against PW_CODENAME.
pw_check_distros() {
    local d
    for d in "$@"; do
        [[ -n ${PW_CODENAME[$d]:-} ]] || pw_die "unknown Debian version '$d' (known: ${!PW_CODENAME[*]})"
    done
}

# Value of one label of a local image, empty when the image or the label is absent.
pw_image_label() {
    podman image inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# Short sha256 of a string plus the given files' contents without comment-only and blank
# lines (editing a comment must not rebuild images).
pw_hash() { # pw_hash <string> <file>...
    local extra=$1
    shift
    { sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$@"; printf '%s' "$extra"; } |
        sha256sum | cut -c1-16
}
