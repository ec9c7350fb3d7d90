#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The rollout test hosts' own part (run by prepare.yml with ansible.builtin.script after
# ../shared/files/prepare-host.sh, which serves TLS on 127.0.0.1:443 and :8443): a dpkg
# post-invoke hook that simulates an upgrade which breaks the service: when
# /etc/patchwise-break-on-upgrade exists and a +patchwise build of libssl3 is installed, the
# :8443 site is disabled, otherwise it is enabled. nginx reads that on its next start or binary
# upgrade (the refresh), so the rollout's verification fails after the upgrade and passes again
# after the rollback.
set -eu
cat >/usr/local/sbin/pw-upgrade-hook <<'HOOK'
#!/bin/sh
# dpkg post-invoke hook of the rollout test hosts (extensions/molecule/rollout/files/upgrade-hook.sh)
site=/etc/nginx/sites-enabled/pw-8443
if [ -e /etc/patchwise-break-on-upgrade ] &&
   dpkg-query -W -f='${Version}' libssl3 | grep -q patchwise; then
    rm -f "$site"
else
    ln -sfn /etc/nginx/sites-available/pw-8443 "$site"
fi
HOOK
chmod 0755 /usr/local/sbin/pw-upgrade-hook
echo 'post-invoke=/usr/local/sbin/pw-upgrade-hook' >/etc/dpkg/dpkg.cfg.d/pw-upgrade-hook
/usr/local/sbin/pw-upgrade-hook
