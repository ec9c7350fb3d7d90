# SPDX-License-Identifier: GPL-3.0-or-later
"""ELF reader: build-id, SONAME, DT_NEEDED and embedded version texts (fixtures/facts/elf)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import elf
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "facts" / "elf" / "libcrypto-fixture.so.10"
HOST_LIBCRYPTO = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"


def test_fixture_build_id_soname_and_text() -> None:
    info = elf.inspect_file(str(FIX))
    assert info["error"] is None
    assert info["build_id"] == "678843b737b6a1e93e0c9b1020803e4c11c8c494"
    assert info["soname"] == "libcrypto.so.10"
    assert info["needed"] == []  # no DT_NEEDED: readelf -d lists none
    assert info["elf_class"] == 64
    assert info["version_texts"] == ["OpenSSL 1.0.2k-fips  26 Jan 2017"]


def test_32_bit_file() -> None:
    """A real i386 shared object (Debian 12's libatomic1): the 32-bit header and program
    header layouts give what readelf shows."""
    info = elf.inspect_file(str(FIX.with_name("i386-libatomic.so.1.2.0")))
    assert info["error"] is None
    assert info["elf_class"] == 32
    assert info["machine"] == 3  # EM_386
    assert info["build_id"] == "e67694b18faeff67c0824d116f7846185810aa06"
    assert info["soname"] == "libatomic.so.1"
    assert info["needed"] == ["libc.so.6"]
    assert info["version_texts"] == []


def test_text_split_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"\x00" * 1000 + b"OpenSSL 3.0.19 27 Jan 2026\x00" + b"\x00" * 50
    monkeypatch.setattr(elf, "CHUNK", 1010)  # the text straddles the chunk border
    assert elf.find_version_texts(io.BytesIO(data)) == ["OpenSSL 3.0.19 27 Jan 2026"]


def test_limit_and_dedup() -> None:
    data = b"\x00".join([b"OpenSSL 1.1.1w  11 Sep 2023"] * 5 + [b"LibreSSL 3.8.2", b""])
    assert elf.find_version_texts(io.BytesIO(data)) == [
        "OpenSSL 1.1.1w  11 Sep 2023",
        "LibreSSL 3.8.2",
    ]
    assert elf.find_version_texts(io.BytesIO(data), limit=1) == ["OpenSSL 1.1.1w  11 Sep 2023"]


@pytest.mark.parametrize(
    "blob",
    [b"", b"\x7fEL", b"\x7fELF", b"\x7fELF\x02\x01\x01" + b"\x00" * 9, b"#!/bin/sh\n"],
)
def test_not_elf_or_truncated(blob: bytes) -> None:
    with pytest.raises(ParseError):
        elf.read_elf_info(io.BytesIO(blob))


def test_truncated_real_file() -> None:
    data = FIX.read_bytes()
    for cut in (20, 64, 200, 1000, len(data) // 2):
        try:
            info = elf.read_elf_info(io.BytesIO(data[:cut]))
        except ParseError:
            continue
        assert set(info) >= {"build_id", "soname"}


def test_unreadable_path_is_an_error_value(tmp_path: Path) -> None:
    assert elf.inspect_file(str(tmp_path / "missing"))["error"]
    text = tmp_path / "t.txt"
    text.write_text("hello")
    assert elf.inspect_file(str(text))["error"] == "not an ELF file"


@pytest.mark.skipif(not os.path.exists(HOST_LIBCRYPTO), reason="needs Debian's libcrypto.so.3")
def test_host_libcrypto_matches_readelf() -> None:
    """Live check against the host's real OpenSSL library (and readelf, if installed)."""
    info = elf.inspect_file(HOST_LIBCRYPTO)
    assert info["soname"] == "libcrypto.so.3"
    assert info["version_texts"][0].startswith("OpenSSL 3.")
    try:
        out = subprocess.run(
            ["readelf", "-n", HOST_LIBCRYPTO], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        return
    assert f"Build ID: {info['build_id']}" in out.stdout


@given(st.binary(max_size=400))
def test_property_random_bytes_after_magic(tail: bytes) -> None:
    fh = io.BytesIO(b"\x7fELF" + tail)
    try:
        info = elf.read_elf_info(fh)
    except ParseError:
        return
    assert info["elf_class"] in (32, 64)


@settings(max_examples=settings().max_examples * 4 // 5)
@given(st.integers(min_value=0, max_value=13999), st.binary(min_size=1, max_size=8))
def test_property_corrupted_real_file(offset: int, patch: bytes) -> None:
    data = bytearray(FIX.read_bytes())
    data[offset : offset + len(patch)] = patch
    with contextlib.suppress(ParseError):
        elf.read_elf_info(io.BytesIO(bytes(data)))
    elf.find_version_texts(io.BytesIO(bytes(data)))
