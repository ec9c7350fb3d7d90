#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Build, per Debian release, three local file-based apt repositories for the test hosts:
#   <cache>/apt-repos/debian-<N>/updates/  the OpenSSL binary packages installed in the image
#                                           localhost/patchwise-debian:<N>, RE-PACKAGED with a
#                                           higher version (<version>+patchwise1)
#   <cache>/apt-repos/debian-<N>/orig/     the same packages, untouched (original version)
#   <cache>/apt-repos/debian-<N>/extras/   TLS services for the tests (nginx, haproxy,
#                                           apache2; PATCHWISE_EXTRA_PACKAGES) with every
#                                           dependency the image lacks, untouched
#   <cache>/apt-repos/debian-<N>/broken/   the orig packages re-versioned <version>+patchwisebroken1,
#                                           the libssl package's postinst exiting 1 (fault tests)
# plus manifest.json (package names and versions). Test hosts mount
# <cache>/apt-repos/debian-<N> at /srv/patchwise and use, for example,
#   deb [trusted=yes] file:/srv/patchwise/extras ./
#   deb [trusted=yes] file:/srv/patchwise/updates ./
# so neither installing a service nor an "upgrade" depends on what the Debian archive offers
# on the day (or on the network at all).
#
# The re-packaged debs are real Debian builds: same files, same binaries, same changelog; only
# the Version field (and exact "(= version)" relations between these packages) changes.
# Installing them makes dpkg replace the files on disk, so running processes then map the old
# libcrypto/libssl as "(deleted)" exactly as after a real security update.
#
# Cached: a repository is rebuilt only when the image or this recipe changes.
# Usage: tests/hosts/build-apt-repo.sh [--force] [11 12 13]   (as root, after build-images.sh)
set -euo pipefail
# shellcheck source=tests/hosts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pw_require_root

SUFFIX=+patchwise1
EXTRAS=${PATCHWISE_EXTRA_PACKAGES:-nginx haproxy apache2}
FORCE=0
distros=()
for arg in "$@"; do
    case $arg in
        --force) FORCE=1 ;;
        -h | --help) sed -n '3,20p' "$0"; exit 0 ;;
        *) distros+=("$arg") ;;
    esac
done
((${#distros[@]})) || read -ra distros <<<"$PW_DISTROS_DEFAULT"
pw_check_distros "${distros[@]}"

SELF_FILES=("${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/lib.sh")
REPOS=$PW_CACHE/apt-repos

# Inside a container of the image (/out = the build directory):
# - orig/: the exact installed versions of every binary package built from the "openssl"
#   source (openssl, libssl1.1 / libssl3 / libssl3t64, openssl-provider-legacy on 13, ...),
#   listed as "name version" in orig/installed.txt;
# - extras/: the extra packages and what they need beyond the image (apt's download-only
#   install into the image's empty package cache).
# shellcheck disable=SC2016  # expanded inside the container
DOWNLOAD='set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
cd /out/orig
dpkg-query -W -f "\${Package} \${Version} \${source:Package} \${db:Status-Abbrev}\n" |
    awk "\$3 == \"openssl\" && \$4 ~ /^ii/ { print \$1, \$2 }" >installed.txt
[ -s installed.txt ] || { echo "no openssl packages installed" >&2; exit 1; }
while read -r name version; do
    apt-get download -q -o APT::Sandbox::User=root "$name=$version" >/dev/null || {
        echo "cannot download $name=$version: the archive no longer offers the version" \
             "installed in the image; rebuild it: tests/hosts/build-images.sh --force" >&2
        exit 1
    }
done <installed.txt
if [ -n "$EXTRAS" ]; then
    apt-get install -y -qq --download-only $EXTRAS >/dev/null
    cp /var/cache/apt/archives/*.deb /out/extras/
fi'

# Rewrite one extracted package's control file: new Version, and every "(= old)" relation
# (exact-version dependencies between packages of the same source) pointed at the new one.
bump_control() { # bump_control <control file> <old version> <new version>
    local control=$1 old=$2 new=$3 esc
    esc=$(printf '%s' "$old" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
    sed -i -E \
        -e "s/^Version: .*/Version: $new/" \
        -e "/^(Pre-Depends|Depends|Recommends|Breaks):/ s/\(= $esc\)/(= $new)/g" \
        "$control"
}

# Packages, Packages.gz and a minimal Release for a flat repository in the current directory.
index_repo() { # index_repo <label>
    dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages
    gzip -9nc Packages >Packages.gz
    {
        printf 'Origin: patchwise-test-hosts\nLabel: %s\nDate: %s\nSHA256:\n' \
            "$1" "$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
        for f in Packages Packages.gz; do
            printf ' %s %s %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
        done
    } >Release
}

build_repo() { # build_repo <major> <key>
    local major=$1 key=$2 image=$PW_IMAGE_REPO:$1 dest=$REPOS/debian-$1 tmp name version new
    tmp=$(mktemp -d "$REPOS/.build-$major.XXXXXX")
    # shellcheck disable=SC2064  # expand now: tmp is local
    trap "rm -rf '$tmp'" EXIT
    mkdir -p "$tmp/orig" "$tmp/updates" "$tmp/extras" "$tmp/x"
    podman run --rm --init -e EXTRAS="$EXTRAS" -v "$tmp:/out" "$image" /bin/sh -c "$DOWNLOAD"
    # apt-get names files name_version_arch.deb with ':' escaped; rely on dpkg-deb instead.
    local manifest=()
    while read -r name version; do
        new=$version$SUFFIX
        local deb
        deb=$(find "$tmp/orig" -maxdepth 1 -name "${name}_*.deb" -print -quit)
        [[ -n $deb ]] || pw_die "Debian $major: $name $version was not downloaded"
        [[ $(dpkg-deb -f "$deb" Version) == "$version" ]] ||
            pw_die "Debian $major: downloaded $deb is not version $version"
        rm -rf "$tmp/x/$name"
        dpkg-deb -R "$deb" "$tmp/x/$name"
        bump_control "$tmp/x/$name/DEBIAN/control" "$version" "$new"
        # Other packages of this source that this one pins exactly, if any, were rewritten
        # above; the file list, md5sums and /usr/share/doc (changelog) stay as Debian built them.
        dpkg-deb --build -Zxz "$tmp/x/$name" "$tmp/updates/" >/dev/null
        manifest+=("$(printf '{"name": "%s", "orig_version": "%s", "version": "%s"}' \
            "$name" "$version" "$new")")
    done <"$tmp/orig/installed.txt"
    rm -rf "$tmp/x" "$tmp/orig/installed.txt"
    (cd "$tmp/orig" && index_repo "patchwise Debian $major original OpenSSL")
    (cd "$tmp/updates" && index_repo "patchwise Debian $major re-versioned OpenSSL")
    (cd "$tmp/extras" && index_repo "patchwise Debian $major test services")
    {
        printf '{"debian": "%s", "codename": "%s", "key": "%s", "image": "%s",\n' \
            "$major" "${PW_CODENAME[$major]}" "$key" "$(podman image inspect --format '{{ .Id }}' "$image")"
        printf ' "extra_packages": "%s",\n' "$EXTRAS"
        printf ' "sources": {"updates": "deb [trusted=yes] file:/srv/patchwise/updates ./",\n'
        printf '             "orig": "deb [trusted=yes] file:/srv/patchwise/orig ./",\n'
        printf '             "extras": "deb [trusted=yes] file:/srv/patchwise/extras ./"},\n'
        printf ' "packages": [%s]}\n' "$(IFS=,; printf '%s' "${manifest[*]}" | sed 's/},{/}, {/g')"
    } >"$tmp/manifest.json"
    printf '%s\n' "$key" >"$tmp/key"
    chmod -R a+rX "$tmp"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    trap - EXIT
}

# >>> broken-repository
# broken/: a package installation that fails mid-way, for the fault tests (molecule scenario
# faults_patch). The orig/ packages are re-versioned <version>+patchwisebroken1 (higher than
# orig, so apt offers them as an upgrade when broken/ is a source) and the libssl package
# (libssl1.1, libssl3, libssl3t64) gets a postinst that exits 1: apt unpacks every package,
# then configuring libssl fails and leaves it half-configured, as a real broken maintainer
# script does. Built locally from orig/ (no network, about a second) with its own cache key
# (broken/key: the main key, the suffix and only this section of the script): this section is
# left out of the main repositories' key, so editing it never rebuilds them.
BROKEN_SUFFIX=+patchwisebroken1
MAIN_RECIPE=$(mktemp)
sed '/^# >>> broken-repository/,/^# <<< broken-repository/d' "${BASH_SOURCE[0]}" >"$MAIN_RECIPE"
SELF_FILES[0]=$MAIN_RECIPE

build_broken() { # build_broken <major> <key>
    local major=$1 key=$2 dir=$REPOS/debian-$1 tmp deb name version new manifest=()
    tmp=$(mktemp -d "$dir/.broken.XXXXXX")
    mkdir "$tmp/x"
    # shellcheck disable=SC2064  # expand now: tmp is local
    trap "rm -rf '$tmp' '$MAIN_RECIPE'" EXIT
    for deb in "$dir"/orig/*.deb; do
        name=$(dpkg-deb -f "$deb" Package)
        version=$(dpkg-deb -f "$deb" Version)
        new=$version$BROKEN_SUFFIX
        dpkg-deb -R "$deb" "$tmp/x/$name"
        bump_control "$tmp/x/$name/DEBIAN/control" "$version" "$new"
        if [[ $name == libssl* ]]; then
            printf '%s\n' '#!/bin/sh' \
                '# patchwise test package (tests/hosts/build-apt-repo.sh): fails on purpose' \
                "echo 'patchwise test package: $name postinst fails on purpose' >&2" \
                'exit 1' >"$tmp/x/$name/DEBIAN/postinst"
            chmod 0755 "$tmp/x/$name/DEBIAN/postinst"
        fi
        dpkg-deb --build -Zgzip "$tmp/x/$name" "$tmp/" >/dev/null
        manifest+=("$(printf '{"name": "%s", "orig_version": "%s", "version": "%s", "postinst_fails": %s}' \
            "$name" "$version" "$new" "$([[ $name == libssl* ]] && echo true || echo false)")")
    done
    rm -rf "$tmp/x"
    (cd "$tmp" && index_repo "patchwise Debian $major OpenSSL with a failing postinst")
    {
        printf '{"debian": "%s", "key": "%s",\n' "$major" "$key"
        printf ' "source": "deb [trusted=yes] file:/srv/patchwise/broken ./",\n'
        printf ' "packages": [%s]}\n' "$(IFS=,; printf '%s' "${manifest[*]}" | sed 's/},{/}, {/g')"
    } >"$tmp/manifest.json"
    printf '%s\n' "$key" >"$tmp/key"
    chmod -R a+rX "$tmp"
    rm -rf "$dir/broken"
    mv "$tmp" "$dir/broken"
    trap 'rm -f "$MAIN_RECIPE"' EXIT
}
trap 'rm -f "$MAIN_RECIPE"' EXIT
# <<< broken-repository

mkdir -p "$REPOS"
total_start=$(pw_now)
for major in "${distros[@]}"; do
    image=$PW_IMAGE_REPO:$major
    image_id=$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null) ||
        pw_die "$image is missing: run tests/hosts/build-images.sh first"
    key=$(pw_hash "$image_id $SUFFIX $EXTRAS" "${SELF_FILES[@]}")
    dest=$REPOS/debian-$major
    if ((!FORCE)) && [[ -f $dest/key && $(cat "$dest/key") == "$key" ]]; then
        pw_log "$dest: up to date (key $key), skipped"
        continue
    fi
    start=$(pw_now)
    build_repo "$major" "$key"
    pw_log "$dest: built in $(pw_since "$start") s: $(grep -o '"version": "[^"]*"' "$dest/manifest.json" | cut -d'"' -f4 | sort -u | tr '\n' ' ')"
done
# >>> broken-repository
for major in "${distros[@]}"; do
    dest=$REPOS/debian-$major/broken
    key=$(pw_hash "$(cat "$REPOS/debian-$major/key") $BROKEN_SUFFIX" \
        <(sed -n '/^# >>> broken-repository/,/^# <<< broken-repository/p' "${BASH_SOURCE[0]}"))
    if ((!FORCE)) && [[ -f $dest/key && $(cat "$dest/key") == "$key" ]]; then
        pw_log "$dest: up to date (key $key), skipped"
        continue
    fi
    start=$(pw_now)
    build_broken "$major" "$key"
    pw_log "$dest: built in $(pw_since "$start") s"
done
rm -f "$MAIN_RECIPE"
# <<< broken-repository
pw_log "apt repositories ready in $(pw_since "$total_start") s under $REPOS"
