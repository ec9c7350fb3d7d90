# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rebuild an installed Debian package as a .deb from the files on disk (like dpkg-repack).

The last resort of a rollback point: when neither apt's cache nor the repository has the exact
installed version any more, the package is rebuilt from

* its status stanza (``dpkg-query -s``), minus the installation-only fields,
* its maintainer scripts and control files under ``/var/lib/dpkg/info/``,
* the files it owns (``<package>.list``), taken from the filesystem as they are now.

md5sums are regenerated from the packed files; files whose content differs from dpkg's record
(locally modified conffiles, for instance) are reported, because the rebuilt package then
carries the modified content, as dpkg-repack's does. Diverted files are packed from the
diversion target. Standard library only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
import time
import zlib
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

Run = Callable[[list], tuple]

# Control files dpkg keeps per package that belong into control.tar (conffiles, md5sums are
# written separately).
CONTROL_MEMBERS = (
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "config",
    "templates",
    "triggers",
    "shlibs",
    "symbols",
)
EXECUTABLE = ("preinst", "postinst", "prerm", "postrm", "config")
# Fields of the status stanza that describe the installation, not the package.
DROP_FIELDS = ("Status", "Config-Version", "Conffiles")


class RepackError(PatchwiseError):
    """The installed package cannot be rebuilt (missing files, unreadable database)."""


def parse_status_stanza(text: str) -> list[tuple[str, str]]:
    """``dpkg-query -s`` output of one package as ordered (field, value) pairs.

    Continuation lines (starting with a space) stay part of their field's value.
    """
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # first stanza only
            continue
        if line[0] in " \t":
            if not fields:
                raise RepackError("status stanza starts with a continuation line")
            name, value = fields[-1]
            fields[-1] = (name, value + "\n" + line)
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or " " in name:
            raise RepackError(f"not a status field: {line[:80]!r}")
        fields.append((name, value.strip()))
    if not fields:
        raise RepackError("empty status stanza")
    return fields


def control_text(fields: list[tuple[str, str]]) -> str:
    kept = [(k, v) for k, v in fields if k not in DROP_FIELDS]
    return "".join(f"{k}: {v}\n" for k, v in kept)


def deb_filename(name: str, version: str, arch: str) -> str:
    """The file name apt gives a package: epoch colon escaped as ``%3a``."""
    return f"{name}_{version.replace(':', '%3a')}_{arch}.deb"


def _info_path(admindir: str, name: str, arch: str, member: str) -> str | None:
    for key in (f"{name}:{arch}", name):
        path = os.path.join(admindir, "info", f"{key}.{member}")
        if os.path.exists(path):
            return path
    return None


def _ar_member(name: str, data: bytes, mtime: int) -> bytes:
    header = f"{name:<16}{mtime:<12}{0:<6}{0:<6}{0o100644:<8o}{len(data):<10}`\n".encode("ascii")
    return header + data + (b"\n" if len(data) % 2 else b"")


def write_ar(members: list[tuple[str, bytes]], mtime: int | None = None) -> bytes:
    """A System V ``ar`` archive as dpkg-deb writes it."""
    stamp = int(time.time()) if mtime is None else mtime
    return b"!<arch>\n" + b"".join(_ar_member(n, d, stamp) for n, d in members)


def read_ar(blob: bytes) -> list[tuple[str, bytes]]:
    """Members of an ``ar`` archive (used to check what :func:`write_ar` produced)."""
    if not blob.startswith(b"!<arch>\n"):
        raise RepackError("not an ar archive")
    pos, members = 8, []
    while pos < len(blob):
        header = blob[pos : pos + 60]
        if len(header) < 60 or header[58:60] != b"`\n":
            raise RepackError("corrupt ar header")
        size_field = header[48:58].strip()
        if not size_field.isdigit():
            raise RepackError(f"corrupt ar member size {size_field[:10]!r}")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(size_field)
        members.append((name, blob[pos + 60 : pos + 60 + size]))
        pos += 60 + size + (size % 2)
    return members


def _tar_add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _diversions(run: Run | None) -> dict[str, str]:
    """path -> diverted-to path, from ``dpkg-divert --list``."""
    if run is None:
        return {}
    rc, out, _err = run(["dpkg-divert", "--list"])
    if rc != 0:
        return {}
    result = {}
    for line in out.splitlines():
        # "diversion of /usr/bin/x to /usr/bin/x.real by pkg" / "local diversion of ..."
        words = line.split()
        if "of" in words and "to" in words:
            src = words[words.index("of") + 1]
            dst = words[words.index("to") + 1]
            result[src] = dst
    return result


def _data_tar(
    paths: list[str], root: str, diversions: dict[str, str], warnings: list[str]
) -> tuple[bytes, dict[str, str]]:
    buf = io.BytesIO()
    md5s: dict[str, str] = {}
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for path in paths:
            if path in ("/.", "/"):
                info = tar.gettarinfo(root, arcname="./")
                info.mode = 0o755  # the root of a container may be read-only; packages say 0755
                tar.addfile(info)
                continue
            real = os.path.join(root, diversions.get(path, path).lstrip("/"))
            try:
                st = os.lstat(real)
            except OSError as exc:
                warnings.append(f"{path}: missing on disk, not packed ({exc.strerror})")
                continue
            info = tar.gettarinfo(real, arcname="." + path)
            if stat.S_ISREG(st.st_mode):
                with open(real, "rb") as handle:
                    data = handle.read()
                md5s[path.lstrip("/")] = hashlib.md5(data).hexdigest()  # noqa: S324 - dpkg format
                tar.addfile(info, io.BytesIO(data))
            elif stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
                tar.addfile(info)
            else:
                warnings.append(f"{path}: not a file, directory or symlink, not packed")
    return buf.getvalue(), md5s


def _recorded_md5s(admindir: str, name: str, arch: str) -> dict[str, str]:
    path = _info_path(admindir, name, arch, "md5sums")
    if not path:
        return {}
    result = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            digest, _sep, file_path = line.strip().partition("  ")
            if file_path:
                result[file_path] = digest
    return result


def _conffiles(admindir: str, name: str, arch: str) -> list[str]:
    path = _info_path(admindir, name, arch, "conffiles")
    if not path:
        return []
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return [line.strip() for line in handle if line.strip()]


def _read_list(admindir: str, name: str, arch: str) -> list[str]:
    path = _info_path(admindir, name, arch, "list")
    if not path:
        raise RepackError(f"{name}: no file list in {admindir}/info (is it installed?)")
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def _control_tar(
    control: str, admindir: str, name: str, arch: str, md5s: dict[str, str], mtime: int
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        _tar_add_bytes(tar, "./control", control.encode("utf-8"), 0o644, mtime)
        md5_text = "".join(f"{digest}  {path}\n" for path, digest in sorted(md5s.items()))
        _tar_add_bytes(tar, "./md5sums", md5_text.encode("utf-8"), 0o644, mtime)
        conffiles = _info_path(admindir, name, arch, "conffiles")
        if conffiles:
            with open(conffiles, "rb") as handle:
                _tar_add_bytes(tar, "./conffiles", handle.read(), 0o644, mtime)
        for member in CONTROL_MEMBERS:
            path = _info_path(admindir, name, arch, member)
            if path:
                with open(path, "rb") as handle:
                    mode = 0o755 if member in EXECUTABLE else 0o644
                    _tar_add_bytes(tar, f"./{member}", handle.read(), mode, mtime)
    return buf.getvalue()


def repack(
    name: str,
    arch: str,
    dest_dir: str,
    run: Run | None,
    status_text: str | None = None,
    admindir: str = "/var/lib/dpkg",
    root: str = "/",
) -> dict[str, Any]:
    """Rebuild ``name:arch`` into ``dest_dir``; returns ``{path, version, warnings}``.

    ``status_text`` is the package's ``dpkg-query -s`` output; when None it is read via ``run``.
    """
    if status_text is None:
        if run is None:
            raise RepackError("neither status text nor a command runner given")
        rc, status_text, err = run(["dpkg-query", "-s", f"{name}:{arch}"])
        if rc != 0:
            raise RepackError(f"dpkg-query -s {name}:{arch} failed: {err.strip()}")
    fields = parse_status_stanza(status_text)
    values = dict(fields)
    version = values.get("Version")
    if not version or values.get("Package") != name:
        raise RepackError(f"status stanza is not the one of {name}")
    warnings: list[str] = []
    mtime = int(time.time())
    paths = _read_list(admindir, name, arch)
    data, md5s = _data_tar(paths, root, _diversions(run), warnings)
    recorded = _recorded_md5s(admindir, name, arch)
    changed = sorted(p for p, d in md5s.items() if p in recorded and recorded[p] != d)
    for path in changed:
        warnings.append(f"/{path}: differs from the packaged file (locally modified)")
    # md5sums of a Debian package leave the conffiles out (dh_md5sums does the same).
    conffiles = set(_conffiles(admindir, name, arch))
    md5s = {p: d for p, d in md5s.items() if "/" + p not in conffiles}
    control = _control_tar(control_text(fields), admindir, name, arch, md5s, mtime)
    blob = write_ar(
        [("debian-binary", b"2.0\n"), ("control.tar.gz", control), ("data.tar.gz", data)],
        mtime,
    )
    path = os.path.join(dest_dir, deb_filename(name, version, arch))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(blob)
    return {"path": path, "version": version, "warnings": warnings, "modified": changed}


def gunzip_tar_names(blob: bytes) -> list[str]:
    """Member names of a gzip-compressed tar (for tests and self-checks)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
            return tar.getnames()
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise RepackError(f"not a gzip-compressed tar: {exc}") from exc
