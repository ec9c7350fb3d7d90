# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for the pip bootstrap script that ansible-test downloads.

``ansible-test sanity --venv`` bootstraps pip in each virtual environment it creates with a
script it downloads from a host that this project's machines cannot reach; when a copy exists at
``~/.ansible/test/cache/get_pip_<version>.py`` it uses that copy instead. ``make test`` installs
this file there. It does what the real script does, with the standard library's ``ensurepip``
and the package index the machine already reaches:

1. ``python -m ensurepip`` puts the bundled pip into the virtual environment;
2. ``pip install <the arguments ansible-test passes>`` (e.g. ``pip==24.2``) upgrades it to the
   version ansible-test asked for, verifying TLS against the system CA bundle.
"""

from __future__ import annotations

import os
import subprocess
import sys

SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/pki/tls/certs/ca-bundle.crt",  # RHEL family
)

# Options of the real get-pip.py that pip itself does not know.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    """Bootstrap pip and install the requested packages."""
    subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    cert = [["--cert", path] for path in SYSTEM_CA_BUNDLES if os.path.exists(path)]
    command = [sys.executable, "-m", "pip", "install", *(cert[0] if cert else []), *args]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
