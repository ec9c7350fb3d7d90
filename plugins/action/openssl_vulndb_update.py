# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin patchwise.openssl.openssl_vulndb_update (documentation in the module stub).

Rebuilds the vulnerability database on the controller from a copy of openssl/release-metadata:
a local directory, a git URL (``git clone --depth 1``) or an https tarball (``open_url``).
Fetched content is only read as data, never executed: a tarball's ``.git`` directories are not
extracted and git never runs inside an extracted tarball (a repository configuration can name
programs git runs, for example ``gpg.program`` with ``log.showSignature``). Credentials in a
URL (``https://user:token@host/...``) never appear in a message.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable

from ansible.errors import AnsibleActionFail
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    vulndb,
    vulndb_build,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

MAX_TARBALL_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 20000
_GIT_URL = re.compile(r"^(git\+)?(https://|ssh://|git@|file://).*|.*\.git/?$")
_TARBALL_URL = re.compile(r"^https://.*\.(tar\.gz|tgz|tar\.xz|tar\.bz2|tar)(\?.*)?$")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


ARGUMENT_SPEC = {
    "src": {"type": "str", "required": True},
    "dest": {"type": "path"},
    "legacy_xml": {"type": "path"},
    "allow_downgrade": {"type": "bool", "default": False},
    "commit": {"type": "str"},
    "commit_date": {"type": "str"},
    "timeout": {"type": "int", "default": 120},
}


def run_command(argv: list[str], timeout: int = 120) -> tuple[int, str, str]:
    """Run a fixed argv (git only) without a shell; (rc, stdout, stderr)."""
    exe = shutil.which(argv[0])
    if exe is None:
        return 127, "", f"{argv[0]}: command not found"
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(  # noqa: S603 -- fixed argv, no shell, data-only use of the result
            [exe, *argv[1:]], capture_output=True, text=True, check=False, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]}: timed out after {timeout} s"
    return proc.returncode, proc.stdout, proc.stderr


def _find_root(base: Path) -> Path:
    """The directory holding secjson/ and data.json (a tarball has one top-level folder)."""
    if (base / "secjson").is_dir():
        return base
    children = [p for p in base.iterdir() if p.is_dir()]
    for child in children:
        if (child / "secjson").is_dir():
            return child
    raise PatchwiseError(f"{base}: no secjson/ directory in the fetched source")


def clone_git(url: str, work: Path, run: Callable[..., tuple[int, str, str]], timeout: int) -> Path:
    target = work / "release-metadata"
    argv = [
        "git",
        "-c",
        "protocol.ext.allow=never",
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--no-tags",
        "--",
        url.removeprefix("git+"),
        str(target),
    ]
    rc, _out, err = run(argv, timeout)
    if rc != 0:
        raise PatchwiseError(redact(f"git clone of {url} failed (rc={rc}): {err.strip()[:500]}"))
    return target


def _safe_members(archive: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    members = []
    for count, member in enumerate(archive.getmembers()):
        if count >= MAX_MEMBERS:
            raise PatchwiseError("tarball has too many members")
        name = member.name
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise PatchwiseError(f"tarball member with an unsafe path: {name!r}")
        if ".git" in (part.lower() for part in Path(name).parts):
            continue  # repository data (configuration naming programs) is never extracted
        if member.isdir() or member.isfile():
            if not (dest / name).resolve().is_relative_to(dest.resolve()):
                raise PatchwiseError(f"tarball member outside the target: {name!r}")
            member.mode = 0o755 if member.isdir() else 0o644
            members.append(member)
        # links, devices and fifos are skipped: only plain data is used
    return members


def extract_tarball(path: Path, work: Path) -> tuple[Path, dict[str, str]]:
    """Extract plain files and directories; return the root and provenance from the archive.

    ``git archive`` (and forges' tarball downloads) store the commit id in the pax header
    ``comment`` and the commit time as every member's mtime.
    """
    dest = work / "extracted"
    dest.mkdir()
    try:
        with tarfile.open(path, "r:*") as archive:
            members = _safe_members(archive, dest)
            comment = archive.pax_headers.get("comment", "")
            newest = max((m.mtime for m in members), default=0)
            archive.extractall(dest, members=members)  # noqa: S202 -- members vetted above
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise PatchwiseError(f"{path}: not a readable tarball ({exc})") from exc
    provenance = {}
    if re.fullmatch(r"[0-9a-f]{40}", comment.strip()) and newest:
        stamp = datetime.datetime.fromtimestamp(newest, datetime.timezone.utc)
        provenance = {"commit": comment.strip(), "commit_date": stamp.isoformat()}
    return _find_root(dest), provenance


def download(url: str, work: Path, timeout: int) -> Path:
    target = work / "source.tar.gz"
    try:
        response = open_url(url, timeout=timeout, validate_certs=True, follow_redirects="safe")
        with target.open("wb") as stream:
            total = 0
            while chunk := response.read(1024 * 1024):
                total += len(chunk)
                if total > MAX_TARBALL_BYTES:
                    raise PatchwiseError(redact(f"{url}: larger than {MAX_TARBALL_BYTES} bytes"))
                stream.write(chunk)
    except PatchwiseError:
        raise
    except Exception as exc:  # open_url raises many types (URLError, HTTPError, ssl, socket)
        raise PatchwiseError(redact(f"download of {url} failed: {exc}")) from exc
    return target


def fetch_source(
    src: str, work: Path, run: Callable[..., tuple[int, str, str]], timeout: int
) -> tuple[Path, dict[str, str]]:
    """Local directory, git URL or https tarball -> (local directory, provenance)."""
    local = Path(os.path.expanduser(src))
    if local.is_dir():
        return local, {}
    if src.lower().startswith(("http://", "git://", "git+http://", "git+git://")):
        raise PatchwiseError(
            redact(f"{src}: unencrypted transports are refused; use https, ssh or a local copy")
        )
    if _TARBALL_URL.match(src):
        return extract_tarball(download(src, work, timeout), work)
    if _GIT_URL.match(src):
        return clone_git(src, work, run, timeout), {}
    raise PatchwiseError(redact(f"{src}: not a directory, a git URL or an https tarball URL"))


def _read_current(dest: Path, warnings: list[str]) -> dict[str, Any] | None:
    if not dest.exists():
        return None
    try:
        current = vulndb.parse_db(dest.read_bytes(), str(dest))
    except OSError as exc:
        warnings.append(f"{dest}: current database unreadable ({exc}); it will be replaced")
        return None
    except PatchwiseError as exc:  # not JSON, or not a database: nothing to compare with
        warnings.append(f"{dest}: current database unreadable ({exc}); it will be replaced")
        return None
    return dict(current)


def update_database(
    params: dict[str, Any],
    check_mode: bool,
    run: Callable[..., tuple[int, str, str]] = run_command,
) -> dict[str, Any]:
    """The whole refresh; returns the task result. Raises PatchwiseError on refusal."""
    dest = Path(params.get("dest") or vulndb.default_db_path())
    warnings: list[str] = []
    timeout = int(params.get("timeout") or 120)
    collection_root = Path(vulndb.__file__).resolve().parents[3]
    with tempfile.TemporaryDirectory(prefix="vulndb-update-") as tmp:
        root, fetched = fetch_source(params["src"], Path(tmp), run, timeout)
        # git reads the configuration of the repository it runs in: never in an extracted
        # tarball (its provenance comes from the archive or SOURCES.txt)
        git_ok = not _TARBALL_URL.match(params["src"])
        db, build_warnings = vulndb_build.build_db(
            root,
            params.get("legacy_xml"),
            commit=params.get("commit") or fetched.get("commit"),
            commit_date=params.get("commit_date") or fetched.get("commit_date"),
            run=(lambda argv: run(argv, timeout)) if git_ok else None,
            generator_version=vulndb_build.collection_version(collection_root),
        )
    warnings.extend(build_warnings)
    current = _read_current(dest, warnings)
    warnings.extend(vulndb_build.check_not_older(current, db, bool(params.get("allow_downgrade"))))
    changed = not vulndb_build.same_content(current, db)
    changes = vulndb_build.diff_dbs(current, db)
    summary = (
        vulndb_build.diff_lines(changes, db)
        if current
        else [f"new database with {len(db['cves'])} records"]
    )
    if changed and not check_mode:
        if not dest.parent.is_dir():
            raise PatchwiseError(f"{dest.parent}: directory does not exist")
        vulndb_build.write_atomic(dest, vulndb_build.dumps_db(db), 0o644)
        if dest.resolve() == vulndb.default_db_path():
            vulndb_build.write_atomic(dest.with_name("NOTICE.md"), vulndb_build.notice_text(db))
    return {
        "changed": changed,
        "dest": str(dest),
        "source": db["source"],
        "records": len(db["cves"]),
        "changes": changes,
        "summary": summary,
        "warnings": warnings,
        "msg": (
            ("would update" if check_mode else "updated") + f" {dest}"
            if changed
            else f"{dest} is up to date"
        ),
    }


class ActionModule(ActionBase):
    """Refresh the OpenSSL vulnerability database on the controller."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            outcome = update_database(params, bool(self._task.check_mode))
        except PatchwiseError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        warnings = outcome.pop("warnings")
        result.update(outcome)
        for warning in warnings:
            self._display.warning(warning)
        result["vulndb_warnings"] = warnings
        if self._task.diff and outcome["changed"]:
            result["diff"] = {"prepared": "\n".join(outcome["summary"]) + "\n"}
        return result
