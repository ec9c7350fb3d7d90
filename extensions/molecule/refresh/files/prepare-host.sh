#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# One refresh test host (Debian 11, 12 or 13) in one step, run by prepare.yml with
# ansible.builtin.script (one task instead of about thirty: each task costs several podman exec
# calls per host, and three hosts share two cores):
# - package scripts may not start services (policy-rc.d: there is no init system);
# - nginx, haproxy, apache2 from the local extras repository, openssh-server from the archive;
# - a self-signed certificate (haproxy finds the key as <cert>.key);
# - TLS on the container's own loopback: nginx 127.0.0.1:8443, haproxy (master-worker -W, stats
#   socket with expose-fd listeners) 127.0.0.1:9443, apache2 (mod_ssl) 127.0.0.1:10443; sshd on
#   127.0.0.1:22 (OpenSSH 9.8+: 127.0.0.1 exempt from per-source penalties, or the banner-only
#   load client is answered "Not allowed at this time" after a few seconds);
# - a deny-listed service (init script pw-legacy-tls: openssl s_server on 127.0.0.1:<port>) and
#   a Python process that belongs to no service, both holding libssl;
# - everything started by its init script (absolute argv[0]), then the repository with the
#   re-versioned OpenSSL packages added (installed only in converge, under load).
# Usage: prepare-host.sh <cert> <record dir> <legacy port> <port>...   (ports to wait for)
set -eu
cert=$1 records=$2 legacy_port=$3
shift 3
helpers=/usr/local/lib/pw-refresh

printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

export DEBIAN_FRONTEND=noninteractive
echo 'deb [trusted=yes] file:/srv/patchwise/extras ./' > /etc/apt/sources.list.d/patchwise-extras.list
apt-get update -q
apt-get install -y -q --no-install-recommends nginx haproxy apache2 openssh-server

[ -e "$cert" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$cert.key" -out "$cert" 2>/dev/null
mkdir -p "$records/drain" "$helpers"

# --- nginx -------------------------------------------------------------------------------
rm -f /etc/nginx/sites-enabled/default  # it listens on every address
cat > /etc/nginx/sites-enabled/pw-refresh <<CONF
server {
    listen 127.0.0.1:8443 ssl;
    server_name localhost;
    ssl_certificate $cert;
    ssl_certificate_key $cert.key;
    access_log off;
    location / { return 200 "nginx ok\n"; }
}
CONF

# --- haproxy -----------------------------------------------------------------------------
cfg=/etc/haproxy/haproxy.cfg
sed -i 's|^[[:space:]]*stats socket /run/haproxy/admin.sock.*|\tstats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners|' "$cfg"
grep -q 'admin.sock mode 660 level admin expose-fd listeners' "$cfg"
grep -q '^frontend pw_refresh_tls' "$cfg" || cat >> "$cfg" <<CONF
frontend pw_refresh_tls
    bind 127.0.0.1:9443 ssl crt $cert
    mode http
    http-request return status 200 content-type text/plain string "haproxy ok"
CONF
sed -i 's/^#\{0,1\}EXTRAOPTS=.*/EXTRAOPTS="-W"/' /etc/default/haproxy
grep -q '^EXTRAOPTS="-W"' /etc/default/haproxy || echo 'EXTRAOPTS="-W"' >> /etc/default/haproxy

# --- apache2 -----------------------------------------------------------------------------
a2enmod -q ssl
rm -f /etc/apache2/sites-enabled/000-default.conf
echo 'Listen 127.0.0.1:8080' > /etc/apache2/ports.conf
cat > /etc/apache2/sites-enabled/pw-refresh.conf <<CONF
Listen 127.0.0.1:10443
<VirtualHost 127.0.0.1:10443>
    SSLEngine on
    SSLCertificateFile $cert
    SSLCertificateKeyFile $cert.key
    DocumentRoot /var/www/html
</VirtualHost>
CONF

# --- sshd --------------------------------------------------------------------------------
sed -i 's/^#\{0,1\}ListenAddress 0\.0\.0\.0$/ListenAddress 127.0.0.1/' /etc/ssh/sshd_config
grep -q '^ListenAddress 127.0.0.1$' /etc/ssh/sshd_config
if /usr/sbin/sshd -t -o PerSourcePenaltyExemptList=127.0.0.1 2>/dev/null &&
    ! grep -q '^PerSourcePenaltyExemptList' /etc/ssh/sshd_config; then
    echo 'PerSourcePenaltyExemptList 127.0.0.1' >> /etc/ssh/sshd_config
fi

# --- the deny-listed service and the process that belongs to no service ------------------
cat > /etc/init.d/pw-legacy-tls <<SCRIPT
#!/bin/sh
### BEGIN INIT INFO
# Provides:          pw-legacy-tls
# Required-Start:    \$remote_fs
# Required-Stop:     \$remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: test service: openssl s_server on 127.0.0.1:$legacy_port
### END INIT INFO
DAEMON=/usr/bin/openssl
PIDFILE=/run/pw-legacy-tls.pid
case "\$1" in
  start)
    start-stop-daemon --start --background --make-pidfile --pidfile \$PIDFILE \\
      --exec \$DAEMON -- s_server -quiet -www -accept 127.0.0.1:$legacy_port \\
      -cert $cert -key $cert.key ;;
  stop)
    start-stop-daemon --stop --pidfile \$PIDFILE --remove-pidfile ;;
  *)
    echo "Usage: \$0 {start|stop}" >&2; exit 3 ;;
esac
SCRIPT
chmod 0755 /etc/init.d/pw-legacy-tls
cat > "$helpers/pw_unowned.py" <<'PY'
"""Test helper: holds OpenSSL through Python's ssl module for at most an hour."""
import ssl
import time

CONTEXT = ssl.create_default_context()
time.sleep(3600)
PY

# --- start everything --------------------------------------------------------------------
for pair in nginx:/run/nginx.pid haproxy:/run/haproxy.pid apache2:/run/apache2/apache2.pid \
    ssh:/run/sshd.pid pw-legacy-tls:/run/pw-legacy-tls.pid; do
    [ -e "${pair#*:}" ] || "/etc/init.d/${pair%%:*}" start
done
[ -e /run/pw-unowned.pid ] || start-stop-daemon --start --background --make-pidfile \
    --pidfile /run/pw-unowned.pid --exec /usr/bin/python3 -- "$helpers/pw_unowned.py"
python3 - "$@" "$legacy_port" <<'PY'
"""Wait (at most 30 s per port) until every port answers on 127.0.0.1."""
import socket
import sys
import time

for port in sys.argv[1:]:
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
            break
        except OSError:
            if time.time() > deadline:
                sys.exit(f"nothing listens on 127.0.0.1:{port}")
            time.sleep(0.2)
PY

# --- the upgrade source ------------------------------------------------------------------
echo 'deb [trusted=yes] file:/srv/patchwise/updates ./' > /etc/apt/sources.list.d/patchwise.list
apt-get update -q
