# SPDX-License-Identifier: GPL-3.0-or-later
"""Library discovery: recorded `ldconfig -p` (fixtures/facts/ldconfig), inventory merging."""

from __future__ import annotations

import shutil
from pathlib import Path

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    libraries,
    runtimes,
    vendored,
)

FIX = Path(__file__).parents[3] / "fixtures" / "facts"
ELF = FIX / "elf" / "libcrypto-fixture.so.10"


def test_ldconfig_recorded_excludes_nss() -> None:
    found = libraries.parse_ldconfig((FIX / "ldconfig" / "debian12-ldconfig-p.txt").read_text())
    assert sorted(e["path"] for e in found) == [
        "/lib/x86_64-linux-gnu/libcrypto.so",
        "/lib/x86_64-linux-gnu/libcrypto.so.3",
        "/lib/x86_64-linux-gnu/libssl.so",
        "/lib/x86_64-linux-gnu/libssl.so.3",
    ]
    assert {e["flags"] for e in found} == {"libc6,x86-64"}


def test_inventory_merges_aliases_and_borrows_sibling_version(tmp_path: Path) -> None:
    crypto = tmp_path / "libcrypto.so.3"
    ssl = tmp_path / "libssl.so.3"
    crypto.write_bytes(b"x")
    ssl.write_bytes(b"y")
    (tmp_path / "libssl.so").symlink_to(ssl)
    infos = {
        str(crypto): {
            "soname": "libcrypto.so.3",
            "build_id": "aa",
            "version_texts": ["OpenSSL 3.0.19 27 Jan 2026"],
        },
        str(ssl): {"soname": "libssl.so.3", "build_id": "bb", "version_texts": []},
    }
    inv = libraries.build_inventory(
        [
            (str(ssl), "ldconfig"),
            (str(tmp_path / "libssl.so"), "ldconfig"),
            (str(crypto), "ldconfig"),
            (str(ssl), "process"),
            ("/nonexistent/libssl.so.1.1", "x"),
        ],
        lambda p: infos[p],
    )
    assert [lib["kind"] for lib in inv] == ["libcrypto", "libssl"]
    lc, ls = inv
    assert (lc["version"], lc["series"], lc["version_source"]) == ("3.0.19", "3.0", "embedded")
    assert (ls["version"], ls["version_source"]) == ("3.0.19", "sibling")
    assert ls["origin"] == ["ldconfig", "process"]
    assert sorted(ls["paths"]) == sorted([str(ssl), str(tmp_path / "libssl.so")])


def test_sibling_found_on_disk(tmp_path: Path) -> None:
    (tmp_path / "libssl.so.1.1").write_bytes(b"x")
    (tmp_path / "libcrypto.so.1.1").write_bytes(b"y")
    texts = {"libcrypto.so.1.1": ["OpenSSL 1.1.1w  11 Sep 2023"], "libssl.so.1.1": []}
    inv = libraries.build_inventory(
        [(str(tmp_path / "libssl.so.1.1"), "process")],
        lambda p: {"soname": Path(p).name, "version_texts": texts[Path(p).name]},
    )
    assert [(lib["kind"], lib["version"], lib["version_source"]) for lib in inv] == [
        ("libssl", "1.1.1w", "sibling")
    ]


def test_leftover_series() -> None:
    libs = [
        {"series": "3.0", "package": "libssl3", "implementation": "openssl"},
        {"series": "1.1.1", "package": "libssl1.1", "implementation": "openssl"},
        {"series": "1.1.1", "package": None, "implementation": "openssl"},
    ]
    libraries.mark_leftovers(libs)
    assert [lib["leftover_series"] for lib in libs] == [False, True, False]


def test_walk_extra_dirs(tmp_path: Path) -> None:
    deep = tmp_path / "opt" / "app" / "lib"
    deep.mkdir(parents=True)
    (deep / "libssl.so.1.0.0").write_bytes(b"x")
    (deep / "libssl3.so").write_bytes(b"x")
    (tmp_path / "loop").symlink_to(tmp_path)
    warnings: list[str] = []
    assert libraries.walk_extra_dirs([str(tmp_path)], 5.0, warnings) == [
        str(deep / "libssl.so.1.0.0")
    ]
    ticks = iter(range(100))
    assert libraries.walk_extra_dirs([str(tmp_path)], 0.5, warnings, lambda: next(ticks)) == []
    assert "stopped" in warnings[0]


def test_vendored_scan_budget_and_linked(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(ELF, tmp_path / "a" / "_rust.abi3.so")
    (tmp_path / "a" / "notes.txt").write_text("OpenSSL 3.0.19 27 Jan 2026" * 400)
    result = vendored.scan([str(tmp_path)], 10.0)
    assert [v["version"] for v in result["found"]] == ["1.0.2k"]
    assert result["found"][0]["implementation"] == "openssl"
    assert result["scan"]["complete"] is True and result["scan"]["files_examined"] == 2

    monkeypatch.setattr(vendored, "read_elf_info", lambda fh: {"needed": ["libcrypto.so.10"]})
    linked = vendored.scan([str(tmp_path)], 10.0)
    assert linked["found"] == [] and linked["scan"]["dynamically_linked_skipped"] == 1

    ticks = iter(range(1000))
    out = vendored.scan([str(tmp_path)], 0.5, clock=lambda: next(ticks))
    assert out["scan"]["complete"] is False


def test_runtimes_find_and_probe(tmp_path: Path) -> None:
    shutil.copy(ELF, tmp_path / "python3")
    (tmp_path / "python3").chmod(0o755)
    (tmp_path / "python3.11").write_text("#!/bin/sh\nexec pyenv\n")
    (tmp_path / "python3.11").chmod(0o755)
    (tmp_path / "python3-config").write_text("x")
    found = runtimes.find_pythons(str(tmp_path), extra_dirs=())
    assert found == [str(tmp_path / "python3")]
    warnings: list[str] = []
    outputs = iter([(0, "OpenSSL 3.0.19 27 Jan 2026\n", ""), (1, "", "ModuleNotFoundError: _ssl")])
    res = runtimes.probe(found * 2, lambda argv: next(outputs), warnings)
    assert res[0]["version"] == "3.0.19" and res[0]["implementation"] == "openssl"
    assert res[1]["error"] == "ModuleNotFoundError: _ssl"
    assert len(warnings) == 1
