#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The faults_rollout test hosts' own part (run by prepare.yml with ansible.builtin.script after
# ../shared/files/prepare-host.sh, which serves TLS with nginx on the host's own 127.0.0.1:443
# (also the health URL) and :8443 with a self-signed 2048-bit RSA certificate):
# - pw-tlsd, a small TLS daemon owned by no package: `openssl s_server` on 127.0.0.1:9443 under
#   its own SysV init script (/etc/init.d/pw-tlsd, start-stop-daemon), with the same
#   certificate; its `start` waits for the port and prints the daemon's own error when it exits
#   instead;
# - a dpkg post-invoke hook that emulates an upgrade with a side effect, chosen by the content
#   of /etc/patchwise-fault, and only while a +patchwise build of libssl3 is installed:
#     restart   the upgrade raises pw-tlsd's security level to 3 (/etc/default/pw-tlsd), as
#               Debian's move to SECLEVEL=2 did for weak keys: the running daemon never
#               notices, its next start fails with OpenSSL's "ee key too small";
#     protocol  the upgrade leaves the :8443 site speaking TLS 1.1 only (nginx reads it on its
#               binary upgrade, the refresh);
#   with the original libssl3 (the rollback) or without a fault, the hook writes the normal
#   files back, byte for byte (the :8443 site as prepare-host.sh wrote it), so configuration
#   checksums prove the way back.
set -eu

cat >/etc/init.d/pw-tlsd <<'INIT'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          pw-tlsd
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: patchwise test TLS daemon (openssl s_server) on 127.0.0.1:9443
### END INIT INFO
DAEMON=/usr/bin/openssl
PIDFILE=/run/pw-tlsd.pid
LOG=/var/log/pw-tlsd.log
PORT=9443
PW_TLSD_CIPHERS=DEFAULT
[ -r /etc/default/pw-tlsd ] && . /etc/default/pw-tlsd

listening() { ss -Hltn "sport = :$PORT" | grep -q .; }
running() { start-stop-daemon --status --pidfile "$PIDFILE"; }

do_start() {
    if running; then
        echo "pw-tlsd is already running"
        return 0
    fi
    : >"$LOG"
    start-stop-daemon --start --background --make-pidfile --pidfile "$PIDFILE" \
        --output "$LOG" --exec "$DAEMON" -- s_server -accept "127.0.0.1:$PORT" -www \
        -cert /etc/ssl/certs/patchwise-test.pem -key /etc/ssl/private/patchwise-test.key \
        -cipher "$PW_TLSD_CIPHERS"
    i=0
    while [ "$i" -lt 50 ]; do
        if listening; then
            echo "pw-tlsd started (pid $(cat "$PIDFILE"))"
            return 0
        fi
        if ! running; then
            echo "pw-tlsd: openssl s_server exited: $(grep -v '^Using default temp' "$LOG" | tr '\n' ' ')" >&2
            rm -f "$PIDFILE"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "pw-tlsd: not listening on 127.0.0.1:$PORT after 5 s" >&2
    return 1
}

do_stop() {
    # by pid file only: after an upgrade /usr/bin/openssl is a new file, --exec would not match
    start-stop-daemon --stop --quiet --oknodo --retry TERM/5/KILL/2 --pidfile "$PIDFILE"
    rm -f "$PIDFILE"
}

case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart | force-reload) do_stop && do_start ;;
    status)
        if running; then
            echo "pw-tlsd is running"
        else
            echo "pw-tlsd is not running"
            exit 3
        fi
        ;;
    *)
        echo "Usage: $0 {start|stop|restart|status}" >&2
        exit 2
        ;;
esac
INIT
chmod 0755 /etc/init.d/pw-tlsd

cat >/usr/local/sbin/pw-fault-hook <<'HOOK'
#!/bin/sh
# dpkg post-invoke hook of the faults_rollout test hosts
# (extensions/molecule/faults_rollout/files/pw-tlsd.sh says what it emulates).
fault=$(cat /etc/patchwise-fault 2>/dev/null || true)
new=no
if dpkg-query -W -f='${Version}' libssl3 | grep -q patchwise; then new=yes; fi
level=2
protocols="TLSv1.2 TLSv1.3"
ciphers=""
if [ "$new" = yes ] && [ "$fault" = restart ]; then level=3; fi
if [ "$new" = yes ] && [ "$fault" = protocol ]; then
    protocols="TLSv1.1"
    ciphers="    ssl_ciphers DEFAULT:@SECLEVEL=0;
"
fi
put() {  # write $1 only when its content changes
    tmp="$1.pw-new"
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}
printf '# pw-tlsd settings\nPW_TLSD_CIPHERS="DEFAULT:@SECLEVEL=%s"\n' "$level" | put /etc/default/pw-tlsd
printf 'server {\n    listen 127.0.0.1:8443 ssl;\n    server_name localhost;\n    ssl_certificate /etc/ssl/certs/patchwise-test.pem;\n    ssl_certificate_key /etc/ssl/private/patchwise-test.key;\n    ssl_protocols %s;\n%s    location /healthz { return 200 "ok\\n"; }\n}\n' \
    "$protocols" "$ciphers" | put /etc/nginx/sites-available/pw-8443
HOOK
chmod 0755 /usr/local/sbin/pw-fault-hook
echo 'post-invoke=/usr/local/sbin/pw-fault-hook' >/etc/dpkg/dpkg.cfg.d/pw-fault-hook
/usr/local/sbin/pw-fault-hook

/etc/init.d/pw-tlsd start
