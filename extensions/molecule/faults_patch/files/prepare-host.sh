#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# One fault-test host in one step (run by prepare.yml with ansible.builtin.script):
# - apt sees only the local repositories mounted at /srv/patchwise (extras: nginx; updates: the
#   re-versioned OpenSSL; orig: the image's OpenSSL); tasks/sources.yml changes them per case;
# - nginx from the extras repository (no recommends, nothing from the network), a self-signed
#   certificate made by the host's own openssl, TLS on the host's own 127.0.0.1:443 only;
# - a local change to /etc/ssl/openssl.cnf (a conffile of the openssl package): every upgrade
#   and every restore must keep it (dpkg --force-confold);
# - nginx started as its init script would (absolute path).
# The OpenSSL packages stay the image's (the original versions).
set -eu
cert=/etc/ssl/certs/patchwise-test.pem
key=/etc/ssl/private/patchwise-test.key

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/*
cat >/etc/apt/sources.list <<'SOURCES'
deb [trusted=yes] file:/srv/patchwise/extras ./
deb [trusted=yes] file:/srv/patchwise/updates ./
deb [trusted=yes] file:/srv/patchwise/orig ./
SOURCES
apt-get update -q
apt-get install -y -q --no-install-recommends nginx
apt-get clean

[ -e "$cert" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$key" -out "$cert" 2>/dev/null

rm -f /etc/nginx/sites-enabled/default
cat >/etc/nginx/sites-available/pw-443 <<SITE
server {
    listen 127.0.0.1:443 ssl;
    server_name localhost;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /healthz { return 200 "ok\n"; }
}
SITE
ln -sfn /etc/nginx/sites-available/pw-443 /etc/nginx/sites-enabled/pw-443

grep -q 'patchwise fault test' /etc/ssl/openssl.cnf ||
    printf '\n# patchwise fault test: a local change dpkg must keep\n' >>/etc/ssl/openssl.cnf

# nginx binds its sockets before it daemonizes: the port is open when this returns.
[ -e /run/nginx.pid ] || /usr/sbin/nginx
