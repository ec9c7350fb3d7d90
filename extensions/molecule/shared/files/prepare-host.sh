#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The common part of a molecule test host, in one step (run by a scenario's prepare.yml with
# ansible.builtin.script: one task instead of nine, each task costs several podman exec calls):
# - nginx from the local extras repository (no recommends, nothing from the network), then an
#   empty apt cache (rollback copies must come from a repository, not an old download);
# - a self-signed 2048-bit RSA certificate made by the host's own openssl;
# - one TLS 1.2/1.3 site with a /healthz location per --site port, on the host's own 127.0.0.1
#   (/etc/nginx/sites-available/pw-<port>, enabled);
# - nginx started as its init script would (absolute path: its binary upgrade re-executes it).
# The OpenSSL packages stay the image's (the original versions).
#
# Options (the scenarios differ only in these):
#   --sources "REPO..."        write /etc/apt/sources.list with these repositories of
#                              /srv/patchwise (extras updates orig ...) before installing nginx;
#                              without it apt reads the sources.list molecule.yml mounts
#   --sources-after "REPO..."  the same, after nginx is installed and started (only the
#                              OpenSSL repositories left for the test)
#   --policy-rc-d              package scripts may not start services (no init system), for
#                              scenarios that do not mount files/policy-rc.d
#   --site PORT                a TLS site on 127.0.0.1:PORT (repeatable; default 443)
#   --mark-conffile FILE       append a comment to FILE once: a local change of a package's
#                              conffile that every upgrade and restore must keep
#   --dir DIR                  create the directory DIR (mode 0755)
set -eu
cert=/etc/ssl/certs/patchwise-test.pem
key=/etc/ssl/private/patchwise-test.key
sources='' sources_after='' policy=no sites='' mark='' dirs=''

usage() {
    echo "usage: $0 [--sources REPOS] [--sources-after REPOS] [--policy-rc-d] [--site PORT]..." \
        "[--mark-conffile FILE] [--dir DIR]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
        --sources) [ $# -ge 2 ] || usage; sources=$2; shift 2 ;;
        --sources-after) [ $# -ge 2 ] || usage; sources_after=$2; shift 2 ;;
        --policy-rc-d) policy=yes; shift ;;
        --site) [ $# -ge 2 ] || usage; sites="$sites $2"; shift 2 ;;
        --mark-conffile) [ $# -ge 2 ] || usage; mark=$2; shift 2 ;;
        --dir) [ $# -ge 2 ] || usage; dirs="$dirs $2"; shift 2 ;;
        *) usage ;;
    esac
done
[ -n "$sites" ] || sites=443

write_sources() {  # $1: repository names under /srv/patchwise
    for repo in $1; do
        echo "deb [trusted=yes] file:/srv/patchwise/$repo ./"
    done >/etc/apt/sources.list
}

if [ "$policy" = yes ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
fi

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/*
[ -z "$sources" ] || write_sources "$sources"
apt-get update -q
apt-get install -y -q --no-install-recommends nginx
apt-get clean

[ -e "$cert" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$key" -out "$cert" 2>/dev/null

rm -f /etc/nginx/sites-enabled/default
for port in $sites; do
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
    ln -sfn "/etc/nginx/sites-available/pw-$port" "/etc/nginx/sites-enabled/pw-$port"
done

if [ -n "$mark" ]; then
    grep -q 'patchwise test: a local change' "$mark" ||
        printf '\n# patchwise test: a local change dpkg must keep\n' >>"$mark"
fi
for dir in $dirs; do
    install -d -m 0755 "$dir"
done

# nginx binds its sockets before it daemonizes: the ports are open when this returns.
[ -e /run/nginx.pid ] || /usr/sbin/nginx

[ -z "$sources_after" ] || write_sources "$sources_after"
