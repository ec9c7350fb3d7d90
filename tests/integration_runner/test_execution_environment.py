# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/execution-environment.yml: ansible-builder creates a complete build context."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EE_FILE = REPO / "meta" / "execution-environment.yml"
VERSION = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
TARBALL = f"patchwise-openssl-{VERSION}.tar.gz"


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the collection, then `ansible-builder create` from a copy of the checkout layout."""
    root = tmp_path_factory.mktemp("ee")
    (root / "meta").mkdir()
    shutil.copy(EE_FILE, root / "meta" / EE_FILE.name)
    dist = root / ".cache" / "dist"
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    out = root / "context"
    subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            str(root / "meta" / EE_FILE.name),
            "-c",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out


def test_schema_version_3_and_tarball_name_in_step_with_galaxy_yml():
    ee = yaml.safe_load(EE_FILE.read_text())
    assert ee["version"] == 3
    collections = ee["dependencies"]["galaxy"]["collections"]
    assert collections[0] == {"name": f"collections/{TARBALL}", "type": "file"}
    assert ee["additional_build_files"][0]["src"].endswith(TARBALL)
    # the collection declares no Python or system dependency (only ansible-core)
    assert "python" not in ee["dependencies"] and "system" not in ee["dependencies"]


def test_no_registry_host_is_named():
    ee = yaml.safe_load(EE_FILE.read_text())
    image = ee["images"]["base_image"]["name"]
    first = image.split("/", 1)[0]
    assert first == "localhost" or ("." not in first and ":" not in first)


def test_containerfile_steps(context):
    text = (context / "Containerfile").read_text()
    assert re.search(r'^ARG EE_BASE_IMAGE="localhost/patchwise-ee-base:latest"$', text, re.M)
    assert "FROM $EE_BASE_IMAGE AS base" in text
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core==2.19.14 ansible-runner==2.4.3"' in text
    assert "ansible-galaxy collection install" in text
    assert "-r requirements.yml" in text
    assert "introspect.py introspect" in text
    assert "RUN /output/scripts/check_ansible $PYCMD" in text


def test_context_holds_the_collection(context):
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {"name": f"collections/{TARBALL}", "type": "file"} in requirements["collections"]
    tarball = context / "_build" / "collections" / TARBALL
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        manifest = archive.extractfile("MANIFEST.json")
        assert manifest is not None
        info = yaml.safe_load(manifest.read())["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == ("patchwise", "openssl", VERSION)
    for member in (
        "playbooks/assess.yml",
        "roles/assess/meta/argument_specs.yml",
        "plugins/action/openssl_assess.py",
        "meta/execution-environment.yml",
    ):
        assert member in names


def test_introspection_finds_no_extra_requirements(context, tmp_path):
    """What ansible-builder's introspection adds for the installed collection: nothing."""
    tarball = context / "_build" / "collections" / TARBALL
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(tmp_path), str(tarball)],
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [
            sys.executable,
            str(context / "_build" / "scripts" / "introspect.py"),
            "introspect",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert yaml.safe_load(proc.stdout) == {"python": [], "system": []}
