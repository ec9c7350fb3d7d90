# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put the offline pip bootstrap script where ``ansible-test`` looks for its cached copy.

``ansible-test`` reads ``~/.ansible/test/cache/get_pip_<pip version>.py`` (dots replaced by
underscores) before it tries to download the script. The pip version it wants is read from the
installed ``ansible_test`` package, so an upgrade of ansible-core needs no edit here.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import ansible_test

SOURCE = Path(__file__).with_name("get_pip_bootstrap.py")
PIP_PIN = re.compile(r"pip='(?P<version>[0-9][0-9.]*)'")


def wanted_pip_version() -> str:
    """Return the pip version ansible-test bootstraps into its virtual environments."""
    requirements = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    match = PIP_PIN.search(requirements.read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"cannot find the pip version ansible-test wants in {requirements}")
    return match.group("version")


def main() -> int:
    """Install the bootstrap script into ansible-test's cache."""
    version = wanted_pip_version()
    target = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, target)
    print(f"ansible-test pip {version} bootstrap: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
