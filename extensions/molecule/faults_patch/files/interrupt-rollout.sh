#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Fault case 7: start a command (the rollout's ansible-playbook) in its own process group, poll
# a test container until the given packages are installed ("ii") at the given version, then
# kill the whole process group with SIGKILL (the controller dies: no handler, no rescue, no
# always section runs). Bounded: gives up after TIMEOUT seconds.
# Usage: interrupt-rollout.sh <container> <version> <log> <package,...> -- <command...>
# Exit: 0 killed at the point, 1 the command ended before it, 2 timeout.
set -u
container=$1 version=$2 log=$3 packages=$4
shift 5
TIMEOUT=${TIMEOUT:-240}
want=$(tr ',' '\n' <<<"$packages" | sed "s/\$/ $version ii /" | sort)
IFS=, read -r -a package_list <<<"$packages"
setsid "$@" >"$log" 2>&1 &
pid=$!
start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
    # shellcheck disable=SC2016  # dpkg-query's format, not shell
    have=$(podman exec "$container" dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' \
        "${package_list[@]}" 2>/dev/null | sort)
    if [[ $have == "$want" ]]; then
        kill -KILL -- "-$pid"
        wait "$pid" 2>/dev/null
        echo "killed the process group of $pid after $((SECONDS - start)) s: $(tr '\n' ';' <<<"$have")"
        exit 0
    fi
    if ((SECONDS - start > TIMEOUT)); then
        kill -KILL -- "-$pid"
        echo "timeout after $TIMEOUT s: $(tr '\n' ';' <<<"$have")"
        exit 2
    fi
    sleep 0.2
done
echo "the command ended before the point (rc $(wait "$pid"; echo $?))"
exit 1
