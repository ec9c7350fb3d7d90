#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The idempotence test host in one step (run by prepare.yml with ansible.builtin.script):
# - nginx from the local extras repository (no recommends, nothing from the network);
# - a self-signed certificate made by the host's own openssl;
# - TLS 1.2/1.3 on the host's own 127.0.0.1:443 with a /healthz location;
# - the node_exporter textfile directory the assess role's metrics go to;
# - an empty apt cache (rollback copies must come from the repository, not an old download);
# - nginx started as its init script would (absolute path: its binary upgrade re-executes it).
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
cat >/etc/nginx/sites-enabled/pw-idem <<SITE
server {
    listen 127.0.0.1:443 ssl;
    server_name localhost;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location /healthz { return 200 "ok\n"; }
}
SITE

install -d -m 0755 /var/lib/prometheus/node-exporter

# nginx binds its sockets before it daemonizes: the port is open when this returns.
[ -e /run/nginx.pid ] || /usr/sbin/nginx
