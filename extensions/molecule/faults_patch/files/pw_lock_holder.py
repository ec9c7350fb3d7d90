# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hold dpkg's frontend lock as another package tool would (fault case 1), for a bounded time.

Takes the same lock apt and dpkg take (an fcntl write lock on /var/lib/dpkg/lock-frontend),
then holds it until /run/pw-lock-holder.stop appears or MAX_SECONDS have passed.
"""

from __future__ import annotations

import fcntl
import os
import time

LOCK = "/var/lib/dpkg/lock-frontend"
STOP = "/run/pw-lock-holder.stop"
MAX_SECONDS = 600


def main() -> None:
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    with open("/run/pw-lock-holder.locked", "w", encoding="utf-8") as handle:
        handle.write(f"{os.getpid()}\n")
    start = time.monotonic()
    while not os.path.exists(STOP) and time.monotonic() - start < MAX_SECONDS:
        time.sleep(0.2)
    os.unlink("/run/pw-lock-holder.locked")


if __name__ == "__main__":
    main()
