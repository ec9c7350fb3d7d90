# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the openssl_packages tests: an apt host made of recorded outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture
def apt_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """``apt_host(run_command, on_copy=None)`` answers every command with ``run_command`` and
    stubs what touches this machine: the package lock test, apt's private lists directory,
    and package copies (a small ar header written under the rollback point; ``on_copy`` is
    called with each package name)."""
    # imported when the fixture runs: imported by a conftest at collection time, the
    # collection fails to load ("collection metadata was not loaded")
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops

    def apply(
        run_command: Callable[..., Any], on_copy: Callable[[str], None] | None = None
    ) -> None:
        def copy_package(self: Any, pkg: dict[str, Any], dest: str) -> dict[str, str]:
            name = f"{pkg['name']}_{pkg['version']}_{pkg['arch']}.deb"
            Path(dest, name).write_bytes(b"!<arch>\n" + pkg["name"].encode())
            if on_copy is not None:
                on_copy(pkg["name"])
            return {"file": name, "origin": "download"}

        monkeypatch.setattr(AnsibleModule, "run_command", run_command)
        monkeypatch.setattr(
            AnsibleModule, "get_bin_path", lambda self, name, *a, **k: f"/usr/bin/{name}"
        )
        monkeypatch.setattr(pkgops, "lock_free", lambda paths=None: (True, ""))
        monkeypatch.setattr(pkgops, "private_lists_dir", lambda: str(tmp_path / "lists"))
        monkeypatch.setattr(pkgops.AptManager, "copy_package", copy_package)

    return apply
