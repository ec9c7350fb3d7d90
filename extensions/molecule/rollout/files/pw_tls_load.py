# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded TLS client load of a rollout test host against its own 127.0.0.1:443 only.

New TLS connections (GET /healthz) until the stop file appears, at most RATE per second, at
most MAX_CONNECTIONS in all and for at most MAX_SECONDS; the counters go to OUT (atomically).
Each connection is a fresh `openssl s_client` process (-quiet waits for the server to close
the HTTP/1.0 connection), so this long-running client never maps libssl itself: it would be a
stale process after the upgrade, and the verification would rightly fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

TARGET = "127.0.0.1:443"  # the host's own loopback, never any other address
MAX_SECONDS, MAX_CONNECTIONS, RATE = 300, 1500, 2
STOP, OUT = "/run/pw-tls-load.stop", "/run/pw-tls-load.json"
ARGV = ["openssl", "s_client", "-connect", TARGET, "-servername", "localhost", "-quiet"]
REQUEST = b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n"


def main() -> None:
    ok = failed = 0
    errors: list[str] = []
    start = time.monotonic()

    def dump(done: bool) -> None:
        tmp = OUT + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"ok": ok, "failed": failed, "errors": errors[:20], "done": done,
                       "target": TARGET, "seconds": round(time.monotonic() - start, 1)}, handle)
        os.replace(tmp, OUT)

    dump(False)
    while (not os.path.exists(STOP) and ok + failed < MAX_CONNECTIONS
           and time.monotonic() - start < MAX_SECONDS):
        began = time.monotonic()
        try:
            out = subprocess.run(ARGV, input=REQUEST, capture_output=True, timeout=10,  # noqa: S603
                                 check=False)
            if out.returncode != 0 or not out.stdout.startswith(b"HTTP/1.1 200"):
                raise OSError(f"rc {out.returncode}: {out.stdout[:40]!r} {out.stderr[-80:]!r}")
            ok += 1
        except (OSError, subprocess.SubprocessError) as exc:
            failed += 1
            errors.append(f"{time.strftime('%H:%M:%S')} {exc}")
        if (ok + failed) % 20 == 0:
            dump(False)
        time.sleep(max(0.0, 1.0 / RATE - (time.monotonic() - began)))
    dump(True)


if __name__ == "__main__":
    main()
