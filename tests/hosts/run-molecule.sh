#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Run the molecule scenarios under extensions/molecule/ one after the other (`molecule test`),
# print how long each took and fail if any failed. Run tests/hosts/prepare.sh first (the
# Makefile's `molecule` target does).
#
# Usage: tests/hosts/run-molecule.sh [scenario ...]     (default: every scenario)
# Needs molecule on PATH; ANSIBLE_COLLECTIONS_PATH defaults to .cache/collections (the
# symlink tree the Makefile's collection-link target creates).
set -euo pipefail
# shellcheck source=tests/hosts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$PW_ROOT" # molecule finds extensions/molecule/ and its config.yml from the collection root
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$PW_ROOT/.cache/collections}
command -v molecule >/dev/null || pw_die "molecule is not on PATH"

scenarios=("$@")
if ((${#scenarios[@]} == 0)); then
    for f in extensions/molecule/*/molecule.yml; do
        [[ -e $f ]] && scenarios+=("$(basename "$(dirname "$f")")")
    done
fi
((${#scenarios[@]})) || pw_die "no scenario found under extensions/molecule/"

results=()
failed=0
for scenario in "${scenarios[@]}"; do
    start=$(pw_now)
    pw_log "molecule test -s $scenario"
    if molecule test -s "$scenario"; then
        status=passed
    else
        status=FAILED
        failed=1
    fi
    results+=("$(printf '%-24s %-7s %6s s' "$scenario" "$status" "$(pw_since "$start")")")
done
printf 'molecule scenarios:\n'
printf '  %s\n' "${results[@]}"
exit "$failed"
