# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Profile facts.gather (what openssl_facts runs) on the host this script runs on.

Usage: python3 profile_facts.py <collections dir> [repeats]
Prints one JSON object: gather wall times, the commands it ran with their wall times, and the
top functions by cumulative time (cProfile). Runs the module's code directly, no ansible.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import shutil
import subprocess
import sys
import time
from typing import Any


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
        facts,
    )

    commands: list[dict[str, Any]] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        start = time.perf_counter()
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env={"LC_ALL": "C", "LANG": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            check=False,
        )
        commands.append({"argv": " ".join(argv)[:120], "seconds": time.perf_counter() - start})
        return proc.returncode, proc.stdout, proc.stderr

    def which(name: str) -> str | None:
        return shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin")

    walls = []
    for _round in range(repeats):
        commands.clear()
        start = time.perf_counter()
        facts.gather(run, which)
        walls.append(time.perf_counter() - start)
    profiler = cProfile.Profile()
    commands.clear()
    profiler.enable()
    result = facts.gather(run, which)
    profiler.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.sort_stats("cumulative").print_stats(30)
    print(
        json.dumps(
            {
                "gather_seconds": walls,
                "commands": commands,
                "processes": len(result["processes"]),
                "profile": buf.getvalue(),
            }
        )
    )


if __name__ == "__main__":
    main()
