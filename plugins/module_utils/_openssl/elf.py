# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal ELF reading: GNU build-id, SONAME and embedded OpenSSL version texts.

Pure ``struct`` parsing of the ELF header, program headers, PT_NOTE and PT_DYNAMIC; no
``readelf``. Every read is bounded; malformed files raise :class:`ParseError`.
Version texts are found by scanning the file in fixed-size chunks (bounded memory).
"""

from __future__ import annotations

import struct
from typing import IO, Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (
    EMBEDDED_RE,
)

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
PT_DYNAMIC = 2
PT_NOTE = 4
NT_GNU_BUILD_ID = 3
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_SONAME = 14
MAX_PHNUM = 4096
MAX_NOTE_BYTES = 1 << 20
MAX_DYN_BYTES = 1 << 22
CHUNK = 1 << 20
OVERLAP = 256
MAX_TEXTS = 16


def _read_at(fh: IO[bytes], offset: int, size: int) -> bytes:
    if offset < 0 or size < 0:
        raise ParseError("negative offset in ELF file")
    fh.seek(offset)
    data = fh.read(size)
    if len(data) != size:
        raise ParseError("ELF file truncated")
    return data


# ELF header after e_ident, per class: e_type, e_machine, e_version, e_entry, e_phoff,
# e_shoff, e_flags, e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
_HEADER_FORMAT = {1: "HHIIIIIHHHHHH", 2: "HHIQQQIHHHHHH"}
# program header per class (the fields sit in another order in 32-bit files)
_PHDR_FORMAT = {1: "IIIIIIII", 2: "IIQQQQQQ"}


def _header(fh: IO[bytes]) -> dict[str, Any]:
    ident = fh.read(16)
    if len(ident) < 16 or ident[:4] != ELF_MAGIC:
        raise ParseError("not an ELF file")
    elf_class, data_enc = ident[4], ident[5]
    if elf_class not in (1, 2) or data_enc not in (1, 2):
        raise ParseError("unsupported ELF class or encoding")
    end = "<" if data_enc == 1 else ">"
    fmt = end + _HEADER_FORMAT[elf_class]
    fields = struct.unpack(fmt, _read_at(fh, 16, struct.calcsize(fmt)))
    _type, machine, _ver, _entry, phoff, _shoff, _flags, _ehsize, phentsize, phnum = fields[:10]
    if phnum > MAX_PHNUM:
        raise ParseError("too many ELF program headers")
    return {
        "end": end,
        "is64": elf_class == 2,
        "machine": machine,
        "phoff": phoff,
        "phentsize": phentsize,
        "phnum": phnum,
    }


def _program_headers(fh: IO[bytes], hdr: dict[str, Any]) -> list[dict[str, int]]:
    headers = []
    fmt = hdr["end"] + _PHDR_FORMAT[2 if hdr["is64"] else 1]
    need = struct.calcsize(fmt)
    if hdr["phnum"] and hdr["phentsize"] < need:
        raise ParseError("bad ELF program header size")
    for index in range(hdr["phnum"]):
        raw = _read_at(fh, hdr["phoff"] + index * hdr["phentsize"], need)
        values = struct.unpack(fmt, raw)
        if hdr["is64"]:
            p_type, _flags, offset, vaddr, _paddr, filesz, _memsz, _align = values
        else:
            p_type, offset, vaddr, _paddr, filesz, _memsz, _flags, _align = values
        headers.append({"type": p_type, "offset": offset, "vaddr": vaddr, "filesz": filesz})
    return headers


def _build_id(fh: IO[bytes], hdr: dict[str, Any], phdrs: list[dict[str, int]]) -> str | None:
    end = hdr["end"]
    for ph in phdrs:
        if ph["type"] != PT_NOTE:
            continue
        data = _read_at(fh, ph["offset"], min(ph["filesz"], MAX_NOTE_BYTES))
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from(end + "III", data, pos)
            pos += 12
            name_end = pos + ((namesz + 3) & ~3)
            desc_end = name_end + ((descsz + 3) & ~3)
            if desc_end > len(data) + 3:
                break
            name = data[pos : pos + namesz].rstrip(b"\x00")
            if ntype == NT_GNU_BUILD_ID and name == b"GNU":
                return data[name_end : name_end + descsz].hex() or None
            pos = desc_end
    return None


def _vaddr_to_offset(phdrs: list[dict[str, int]], vaddr: int) -> int | None:
    for ph in phdrs:
        if ph["type"] == PT_LOAD and ph["vaddr"] <= vaddr < ph["vaddr"] + ph["filesz"]:
            return vaddr - ph["vaddr"] + ph["offset"]
    return None


def _dynamic_strings(
    fh: IO[bytes], hdr: dict[str, Any], phdrs: list[dict[str, int]]
) -> tuple[str | None, list[str]]:
    """Return (SONAME, DT_NEEDED names) from PT_DYNAMIC."""
    dyn = next((ph for ph in phdrs if ph["type"] == PT_DYNAMIC), None)
    if dyn is None:
        return None, []
    fmt = hdr["end"] + ("qQ" if hdr["is64"] else "iI")
    size = struct.calcsize(fmt)
    data = _read_at(fh, dyn["offset"], min(dyn["filesz"], MAX_DYN_BYTES))
    strtab = soname = None
    needed: list[int] = []
    for pos in range(0, len(data) - size + 1, size):
        tag, val = struct.unpack_from(fmt, data, pos)
        if tag == DT_NULL:
            break
        if tag == DT_STRTAB:
            strtab = val
        elif tag == DT_SONAME:
            soname = val
        elif tag == DT_NEEDED and len(needed) < 512:
            needed.append(val)
    if strtab is None:
        return None, []
    offset = _vaddr_to_offset(phdrs, strtab)
    if offset is None:
        offset = strtab  # some tools leave file offsets in prelinked/odd objects

    def string_at(index: int) -> str | None:
        fh.seek(offset + index)
        name = fh.read(256).split(b"\x00", 1)[0]
        return name.decode("utf-8", "replace") or None

    names = [n for n in (string_at(i) for i in needed) if n]
    return (string_at(soname) if soname is not None else None), names


def read_elf_info(fh: IO[bytes]) -> dict[str, Any]:
    """Return ``{build_id, soname, needed, elf_class, machine}`` of an open binary file.

    Raises :class:`ParseError` for non-ELF or malformed input.
    """
    try:
        fh.seek(0)
        hdr = _header(fh)
        phdrs = _program_headers(fh, hdr)
        soname, needed = _dynamic_strings(fh, hdr, phdrs)
        return {
            "build_id": _build_id(fh, hdr, phdrs),
            "soname": soname,
            "needed": needed,
            "elf_class": 64 if hdr["is64"] else 32,
            "machine": hdr["machine"],
        }
    except struct.error as exc:
        raise ParseError(f"malformed ELF file: {exc}") from exc
    except OverflowError as exc:
        raise ParseError(f"malformed ELF file: {exc}") from exc


def is_elf(fh: IO[bytes]) -> bool:
    fh.seek(0)
    return fh.read(4) == ELF_MAGIC


_ANCHORS = (b"OpenSSL ", b"LibreSSL ", b"AWS-LC ")
_MATCH_SPAN = 96


def _texts_in(data: bytes, found: list[str], limit: int) -> None:
    """Find anchors with bytes.find (memchr-fast), then run the regex only at those spots."""
    for anchor in _ANCHORS:
        pos = data.find(anchor)
        while pos != -1:
            match = EMBEDDED_RE.match(data, pos, pos + _MATCH_SPAN)
            if match:
                text = match.group(0).decode("ascii", "replace")
                if text not in found:
                    found.append(text)
                    if len(found) >= limit:
                        return
            pos = data.find(anchor, pos + 1)


def find_version_texts(fh: IO[bytes], limit: int = MAX_TEXTS) -> list[str]:
    """Scan a file in 1 MiB chunks for embedded OpenSSL/LibreSSL/AWS-LC version texts.

    Returns the distinct texts (at most ``limit``); memory use is bounded by the chunk size.
    """
    found: list[str] = []
    fh.seek(0)
    tail = b""
    while len(found) < limit:
        chunk = fh.read(CHUNK)
        if not chunk:
            break
        data = tail + chunk
        _texts_in(data, found, limit)
        tail = data[-OVERLAP:]
    return found


def inspect_file(path: str, want_texts: bool = True) -> dict[str, Any]:
    """Open ``path`` and return ELF info plus version texts; errors become an ``error`` key."""
    result: dict[str, Any] = {"build_id": None, "soname": None, "version_texts": [], "error": None}
    try:
        with open(path, "rb") as fh:
            try:
                result.update(read_elf_info(fh))
            except ParseError as exc:
                result["error"] = str(exc)
                return result
            if want_texts:
                result["version_texts"] = find_version_texts(fh)
    except OSError as exc:
        result["error"] = f"{exc.strerror or exc}"
    return result
