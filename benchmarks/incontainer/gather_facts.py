# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print ansible_facts.openssl of the host this runs on (facts.gather, no ansible needed).

Usage: python3 gather_facts.py <collections dir>
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import facts

    path = "/usr/sbin:/usr/bin:/sbin:/bin"

    def run(argv: list[str]) -> tuple[int, str, str]:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env={"LC_ALL": "C", "LANG": "C", "PATH": path},
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    def which(name: str) -> str | None:
        return shutil.which(name, path=path)

    print(json.dumps(facts.gather(run, which)))


if __name__ == "__main__":
    main()
