# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""debpack: rebuild an installed package from dpkg's records and the files on disk.

The status stanza and /var/lib/dpkg/info files are recorded from a Debian 12 host
(tests/unit/fixtures/pkgops/SOURCES.md); the files themselves are laid out in a temporary root.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import debpack
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "pkgops"


def _status(name: str) -> str:
    text = (FIX / "debian12-dpkg-query-s.txt").read_text()
    stanzas = text.split("\nPackage: ")
    for stanza in stanzas:
        body = stanza if stanza.startswith("Package: ") else "Package: " + stanza
        if body.startswith(f"Package: {name}\n"):
            return body
    raise AssertionError(name)


@pytest.fixture
def host(tmp_path):
    """A fake root with openssl's files and an admindir with the recorded info files."""
    admindir = tmp_path / "dpkg"
    (admindir / "info").mkdir(parents=True)
    for src in (FIX / "debian12-dpkg-info").iterdir():
        name = src.name.replace("_amd64", ":amd64")
        if name.endswith(".gz"):  # kept compressed: a bare '#!/bin/sh -e' trips sanity checks
            (admindir / "info" / name[: -len(".gz")]).write_bytes(gzip.decompress(src.read_bytes()))
        else:
            shutil.copy(src, admindir / "info" / name)
    root = tmp_path / "root"
    root.mkdir()
    listed = (admindir / "info" / "openssl.list").read_text().splitlines()
    # Recreate a few of the listed paths; the rest are reported as missing.
    (root / "etc/ssl").mkdir(parents=True)
    (root / "etc/ssl/openssl.cnf").write_text("# locally modified\n")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/openssl").write_bytes(b"\x7fELF fake")
    (root / "usr/bin/c_rehash").write_text("#!/usr/bin/perl\n")
    keep = {
        "/.",
        "/etc",
        "/etc/ssl",
        "/etc/ssl/openssl.cnf",
        "/usr",
        "/usr/bin",
        "/usr/bin/openssl",
        "/usr/bin/c_rehash",
    }
    (admindir / "info" / "openssl.list").write_text(
        "\n".join(p for p in listed if p in keep or p == "/usr/share/doc/openssl") + "\n"
    )
    return admindir, root


def test_repack_builds_a_valid_deb(host, tmp_path):
    admindir, root = host
    out = tmp_path / "out"
    out.mkdir()
    result = debpack.repack(
        "openssl",
        "amd64",
        str(out),
        None,
        status_text=_status("openssl"),
        admindir=str(admindir),
        root=str(root),
    )
    path = Path(result["path"])
    assert path.name == "openssl_3.0.20-1~deb12u2_amd64.deb"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert result["warnings"][0] == (
        "/usr/share/doc/openssl: missing on disk, not packed (No such file or directory)"
    )
    # The fake files differ from dpkg's md5sums: reported, as dpkg-repack would carry them.
    assert result["modified"] == ["usr/bin/c_rehash", "usr/bin/openssl"]
    members = debpack.read_ar(path.read_bytes())
    assert [m[0] for m in members] == ["debian-binary", "control.tar.gz", "data.tar.gz"]
    assert members[0][1] == b"2.0\n"
    control_names = debpack.gunzip_tar_names(members[1][1])
    assert {"./control", "./md5sums", "./conffiles", "./postinst"} <= set(control_names)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(members[1][1]))) as tar:
        control = tar.extractfile("./control").read().decode()
        md5sums = tar.extractfile("./md5sums").read().decode()
        postinst = tar.getmember("./postinst")
    assert control.startswith("Package: openssl\n")
    assert "Status:" not in control and "Conffiles:" not in control
    assert "Version: 3.0.20-1~deb12u2\n" in control
    assert "etc/ssl/openssl.cnf" not in md5sums  # conffiles stay out of md5sums
    assert "usr/bin/openssl" in md5sums
    assert postinst.mode == 0o755
    data_names = debpack.gunzip_tar_names(members[2][1])
    assert data_names[0] in ("./", ".")
    assert "./usr/bin/openssl" in data_names


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_dpkg_deb_accepts_the_rebuilt_package(host, tmp_path):
    admindir, root = host
    result = debpack.repack(
        "openssl",
        "amd64",
        str(tmp_path),
        None,
        status_text=_status("openssl"),
        admindir=str(admindir),
        root=str(root),
    )
    fields = subprocess.run(
        ["dpkg-deb", "-f", result["path"], "Package", "Version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert fields == "Package: openssl\nVersion: 3.0.20-1~deb12u2\n"
    listing = subprocess.run(
        ["dpkg-deb", "-c", result["path"]], check=True, capture_output=True, text=True
    ).stdout
    assert "./usr/bin/openssl" in listing


def test_missing_list_is_a_clear_error(tmp_path):
    with pytest.raises(debpack.RepackError, match="no file list"):
        debpack.repack(
            "libssl3",
            "amd64",
            str(tmp_path),
            None,
            status_text=_status("libssl3"),
            admindir=str(tmp_path),
        )


def test_wrong_stanza_is_refused(host, tmp_path):
    admindir, root = host
    with pytest.raises(debpack.RepackError, match="not the one of openssl"):
        debpack.repack(
            "openssl",
            "amd64",
            str(tmp_path),
            None,
            status_text=_status("libssl3"),
            admindir=str(admindir),
            root=str(root),
        )


def test_deb_filename_escapes_epoch():
    assert (
        debpack.deb_filename("openssl", "1:3.0.7-27", "amd64") == "openssl_1%3a3.0.7-27_amd64.deb"
    )


def test_ar_roundtrip():
    members = [("debian-binary", b"2.0\n"), ("odd", b"abc")]
    assert debpack.read_ar(debpack.write_ar(members, 0)) == members


@settings(max_examples=settings().max_examples // 5)
@given(st.text(max_size=300))
def test_status_parser_raises_only_its_error(text):
    try:
        fields = debpack.parse_status_stanza(text)
    except debpack.RepackError:
        return
    assert fields


@settings(max_examples=settings().max_examples // 5)
@given(st.binary(max_size=200))
def test_read_ar_raises_only_its_error(blob):
    with contextlib.suppress(debpack.RepackError):
        debpack.read_ar(b"!<arch>\n" + blob)
