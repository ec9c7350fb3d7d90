#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# One patch_rollback test host in one step (run by prepare.yml with ansible.builtin.script; one
# task instead of nine, each task costs several podman exec calls):
# - package scripts may not start services (policy-rc.d: there is no init system);
# - nginx from the local extras repository (no recommends, nothing from the Debian archive);
# - a self-signed certificate made by the host's own openssl;
# - TLS 1.2/1.3 on the container's own 127.0.0.1:443 with a /healthz location;
# - nginx started as its init script would (absolute path);
# - then only the OpenSSL repositories: updates/ (+patchwise1 builds) and orig/ (the image's
#   versions), and an empty apt cache (rollback copies must not come from an old download).
# The OpenSSL packages stay the image's (the original versions).
set -eu
cert=/etc/ssl/certs/patchwise-test.pem
key=/etc/ssl/private/patchwise-test.key

printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/*
echo 'deb [trusted=yes] file:/srv/patchwise/extras ./' > /etc/apt/sources.list
apt-get update -q
apt-get install -y -q --no-install-recommends nginx

[ -e "$cert" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$key" -out "$cert" 2>/dev/null

rm -f /etc/nginx/sites-enabled/default
cat > /etc/nginx/sites-enabled/patchwise-tls <<CONF
server {
    listen 127.0.0.1:443 ssl;
    server_name localhost;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /healthz { return 200 "ok\n"; }
}
CONF
[ -e /run/nginx.pid ] || /usr/sbin/nginx

cat > /etc/apt/sources.list <<'LIST'
deb [trusted=yes] file:/srv/patchwise/updates ./
deb [trusted=yes] file:/srv/patchwise/orig ./
LIST
apt-get clean
