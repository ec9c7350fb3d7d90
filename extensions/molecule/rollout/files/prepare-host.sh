#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# One rollout test host in one step (run by prepare.yml with ansible.builtin.script):
# - nginx from the local extras repository (no recommends, nothing from the network);
# - a self-signed certificate made by the host's own openssl;
# - two TLS sites on the host's own 127.0.0.1: :443 (the load target and health URL) and
#   :8443 (a second declared endpoint);
# - a dpkg post-invoke hook that simulates an upgrade which breaks the service: when
#   /etc/patchwise-break-on-upgrade exists and a +patchwise build of libssl3 is installed, the
#   :8443 site is disabled, otherwise it is enabled. nginx reads that on its next start or
#   binary upgrade (the refresh), so the rollout's verification fails after the upgrade and
#   passes again after the rollback;
# - nginx started as its init script would (absolute path).
# The OpenSSL packages stay the image's (the original versions).
set -eu
cert=/etc/ssl/certs/patchwise-test.pem
key=/etc/ssl/private/patchwise-test.key

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/*
apt-get update -q
apt-get install -y -q --no-install-recommends nginx
apt-get clean

[ -e "$cert" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$key" -out "$cert" 2>/dev/null

rm -f /etc/nginx/sites-enabled/default
for port in 443 8443; do
    cat >"/etc/nginx/sites-available/pw-$port" <<SITE
server {
    listen 127.0.0.1:$port ssl;
    server_name localhost;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /healthz { return 200 "ok\n"; }
}
SITE
done
ln -sfn /etc/nginx/sites-available/pw-443 /etc/nginx/sites-enabled/pw-443

cat >/usr/local/sbin/pw-upgrade-hook <<'HOOK'
#!/bin/sh
# dpkg post-invoke hook of the rollout test hosts (extensions/molecule/rollout/files/prepare-host.sh)
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

# nginx binds its sockets before it daemonizes: the ports are open when this returns.
[ -e /run/nginx.pid ] || /usr/sbin/nginx
