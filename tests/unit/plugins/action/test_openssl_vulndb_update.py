# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh logic on copies of the recorded fixtures (and of the shared upstream copy)."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.action import openssl_vulndb_update as action
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    PatchwiseError,
)

HERE = Path(__file__).resolve()
REPO = HERE.parents[4]
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "vulndb"
SHARED_META = REPO.parent / "shared" / "data" / "openssl-release-metadata"
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")
NEWER = "e91fdcf64bb7e9d06d768e3805350b9c3e6867ab  (2026-07-01 10:00:00 +0200)"
OLDER = "e91fdcf64bb7e9d06d768e3805350b9c3e6867ab  (2025-01-01 10:00:00 +0200)"


def copy_meta(tmp_path: Path, source: Path = FIXTURES / "release-metadata") -> Path:
    target = tmp_path / "release-metadata"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git"))
    if not (target / "SOURCES.txt").exists():
        shutil.copy(FIXTURES / "release-metadata" / "SOURCES.txt", target / "SOURCES.txt")
    return target


def set_commit(meta: Path, line: str) -> None:
    text = (meta / "SOURCES.txt").read_text()
    lines = [
        f"  commit     : {line}" if part.strip().startswith("commit") else part
        for part in text.splitlines()
    ]
    (meta / "SOURCES.txt").write_text("\n".join(lines) + "\n")


def add_record(meta: Path, cve_id: str = "CVE-2026-99999", published: str = "2026-06-30") -> None:
    data = json.loads((meta / "secjson" / "CVE-2024-0727.json").read_text())
    data["cveMetadata"]["cveId"] = cve_id
    data["containers"]["cna"]["datePublic"] = f"{published}T00:00:00.000Z"
    data["containers"]["cna"]["title"] = "A new issue"
    (meta / "secjson" / f"{cve_id}.json").write_text(json.dumps(data))


def update(meta: Path, dest: Path, check_mode: bool = False, **params):
    return action.update_database({"src": str(meta), "dest": str(dest), **params}, check_mode)


@pytest.fixture
def meta(tmp_path):
    return copy_meta(tmp_path)


def test_first_build_then_idempotent(tmp_path, meta):
    dest = tmp_path / "db.json"
    first = update(meta, dest)
    assert first["changed"] is True
    assert first["records"] == 15
    assert first["summary"] == ["new database with 15 records"]
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    before = dest.read_bytes()
    again = update(meta, dest)
    assert again["changed"] is False
    assert again["summary"] == []
    assert dest.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".db.json")]


def test_check_mode_writes_nothing(tmp_path, meta):
    dest = tmp_path / "db.json"
    result = update(meta, dest, check_mode=True)
    assert result["changed"] is True and "would update" in result["msg"]
    assert not dest.exists()
    update(meta, dest)
    add_record(meta)
    set_commit(meta, NEWER)
    before = dest.read_bytes()
    result = update(meta, dest, check_mode=True)
    assert result["changed"] is True
    assert result["changes"]["new_cves"] == ["CVE-2026-99999"]
    assert dest.read_bytes() == before


def test_newer_copy_with_a_new_record_and_edits(tmp_path, meta):
    dest = tmp_path / "db.json"
    update(meta, dest)
    add_record(meta)
    path = meta / "secjson" / "CVE-2023-2650.json"
    record = json.loads(path.read_text())
    record["containers"]["cna"]["metrics"][0]["other"]["content"]["text"] = "High"
    record["containers"]["cna"]["affected"][0]["versions"][1]["lessThan"] = "3.0.10"
    path.write_text(json.dumps(record))
    set_commit(meta, NEWER)
    result = update(meta, dest)
    assert result["changed"] is True
    assert "new CVE-2026-99999 [low] A new issue" in result["summary"]
    assert "severity CVE-2023-2650: moderate -> high" in result["summary"]
    assert any(line.startswith("ranges CVE-2023-2650:") for line in result["summary"])
    written = json.loads(dest.read_text())
    assert written["cves"]["CVE-2026-99999"]["title"] == "A new issue"
    assert written["source"]["commit_date"] == "2026-07-01T10:00:00+02:00"


def test_corrupt_copy_is_refused_and_database_kept(tmp_path, meta):
    dest = tmp_path / "db.json"
    update(meta, dest)
    before = dest.read_bytes()
    (meta / "secjson" / "CVE-2014-0160.json").write_text("{ truncated")
    with pytest.raises(DatabaseError, match=r"CVE-2014-0160\.json: file: not valid JSON"):
        update(meta, dest)
    assert dest.read_bytes() == before


def test_older_copy_is_refused_unless_allowed(tmp_path, meta):
    dest = tmp_path / "db.json"
    update(meta, dest)
    before = dest.read_bytes()
    older = copy_meta(tmp_path / "old")
    set_commit(older, OLDER)
    (older / "secjson" / "CVE-2024-0727.json").unlink()
    with pytest.raises(DatabaseError, match="older than the current database"):
        update(older, dest)
    assert dest.read_bytes() == before
    result = update(older, dest, allow_downgrade=True)
    assert result["changed"] is True
    assert any("older" in w for w in result["warnings"])
    assert result["changes"]["removed_cves"] == ["CVE-2024-0727"]


def test_unreadable_current_database_is_replaced_with_warning(tmp_path, meta):
    dest = tmp_path / "db.json"
    dest.write_text("not json")
    result = update(meta, dest)
    assert result["changed"] is True
    assert "unreadable" in result["warnings"][0]
    assert json.loads(dest.read_text())["format"] == 1


@pytest.mark.parametrize(
    "content", ['["a", "list"]', '{"format": 1, "source": [], "cves": {"x": 1}}', "[" * 5000]
)
def test_current_database_of_another_shape_is_replaced_with_warning(tmp_path, meta, content):
    dest = tmp_path / "db.json"
    dest.write_text(content)
    result = update(meta, dest)
    assert result["changed"] is True
    assert "current database unreadable" in result["warnings"][0]
    assert json.loads(dest.read_text())["format"] == 1


def test_missing_destination_directory(tmp_path, meta):
    with pytest.raises(PatchwiseError, match="does not exist"):
        update(meta, tmp_path / "nowhere" / "db.json")


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("http://example.invalid/x.tar.gz", "unencrypted transports are refused"),
        ("git://example.invalid/release-metadata.git", "unencrypted transports are refused"),
        ("http://example.invalid/release-metadata.git", "unencrypted transports are refused"),
        ("/nonexistent/dir", "not a directory, a git URL"),
    ],
)
def test_bad_sources(tmp_path, src, message):
    with pytest.raises(PatchwiseError, match=message):
        action.update_database({"src": src, "dest": str(tmp_path / "db.json")}, False)


def test_git_source_is_cloned_shallow_with_argv(tmp_path):
    calls = []

    def run(argv, timeout=120):
        calls.append(argv)
        if "clone" in argv:
            copy_meta(Path(argv[-1]).parent)
            return 0, "", ""
        return 1, "", "not a git repository"

    result = action.update_database(
        {
            "src": "https://example.invalid/openssl/release-metadata.git",
            "dest": str(tmp_path / "db.json"),
        },
        False,
        run,
    )
    clone = calls[0]
    assert clone[:2] == ["git", "-c"] and "protocol.ext.allow=never" in clone
    assert clone[clone.index("--depth") + 1] == "1"
    assert clone[clone.index("--") + 1] == "https://example.invalid/openssl/release-metadata.git"
    assert result["changed"] is True
    assert result["source"]["provenance"] == "SOURCES.txt"


def test_failed_clone(tmp_path):
    with pytest.raises(PatchwiseError, match=r"git clone of .* failed"):
        action.update_database(
            {"src": "git@example.invalid:x.git", "dest": str(tmp_path / "db.json")},
            False,
            lambda argv, timeout=120: (128, "", "fatal: could not resolve host"),
        )


def make_tarball(meta: Path, commit: str = "a" * 40, extra=None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}
    ) as archive:
        for path in sorted(meta.rglob("*")):
            if path.name == "SOURCES.txt":
                continue
            info = archive.gettarinfo(
                path, arcname=f"release-metadata-{commit[:7]}/{path.relative_to(meta)}"
            )
            info.mtime = 1782900000  # 2026-07-01T10:00:00Z
            if path.is_file():
                with path.open("rb") as stream:
                    archive.addfile(info, stream)
            else:
                archive.addfile(info)
        for member, data in extra or []:
            archive.addfile(member, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def test_https_tarball(tmp_path, meta, monkeypatch):
    blob = make_tarball(meta)
    seen = {}

    def fake_open_url(url, **kwargs):
        seen.update(url=url, **kwargs)
        return io.BytesIO(blob)

    monkeypatch.setattr(action, "open_url", fake_open_url)
    result = action.update_database(
        {
            "src": "https://example.invalid/release-metadata.tar.gz",
            "dest": str(tmp_path / "db.json"),
        },
        False,
    )
    assert seen["validate_certs"] is True
    assert result["source"]["commit"] == "a" * 40
    assert result["source"]["commit_date"] == "2026-07-01T10:00:00+00:00"
    assert result["records"] == 15


def test_tarball_with_unsafe_member_is_refused(tmp_path, meta):
    evil = tarfile.TarInfo("../../etc/evil")
    evil.size = 1
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(make_tarball(meta, extra=[(evil, b"x")]))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PatchwiseError, match="unsafe path"):
        action.extract_tarball(path, work)
    assert not (tmp_path / "etc").exists()


def test_tarball_links_are_skipped(tmp_path, meta):
    link = tarfile.TarInfo("release-metadata-aaaaaaa/secjson/link.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    path = tmp_path / "links.tar.gz"
    path.write_bytes(make_tarball(meta, extra=[(link, None)]))
    work = tmp_path / "work"
    work.mkdir()
    root, provenance = action.extract_tarball(path, work)
    assert (root / "secjson" / "CVE-2014-0160.json").is_file()
    assert not (root / "secjson" / "link.json").exists()
    assert provenance["commit"] == "a" * 40


def _signed_repository(path: Path, marker: Path) -> None:
    """A git repository whose configuration makes ``git log`` run a program (gpg.program with
    log.showSignature) and whose last commit carries a signature, as a tarball could ship it."""
    fake_gpg = path.parent / "fake-gpg.sh"
    fake_gpg.write_text(
        # read the payload git writes to stdin first (exiting unread fails git's write: EPIPE)
        "#!/bin/sh\ncat >/dev/null\necho '-----BEGIN PGP SIGNATURE-----'\necho iQ\n"
        "echo '-----END PGP SIGNATURE-----'\n"
        # git looks for "\n[GNUPG:] SIG_CREATED " on the status fd: a line must come before it
        "echo '[GNUPG:] BEGIN_SIGNING' >&2\necho '[GNUPG:] SIG_CREATED D 1 8 00 1 AB' >&2\n"
    )
    evil = path.parent / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    for script in (fake_gpg, evil):
        script.chmod(0o755)
    git = ["git", "-C", str(path), "-c", "user.email=a@b.invalid", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "-c", f"gpg.program={fake_gpg}", "-c", "user.signingkey=AB", "commit",
                    "-q", "--allow-empty", "-S", "-m", "signed"], check=True)
    for key, value in (("log.showSignature", "true"), ("gpg.program", str(evil))):
        subprocess.run([*git, "config", key, value], check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_fetched_repository_configuration_never_runs(tmp_path, meta, monkeypatch):
    """A tarball that carries a .git directory whose configuration names a program: the
    program does not run (git is not run in extracted content, .git is not extracted), the
    database is built from the data alone. The same repository in a local copy would run it
    (checked first, so the test proves something)."""
    marker = tmp_path / "EXECUTED"
    _signed_repository(meta, marker)
    subprocess.run(["git", "-C", str(meta), "log", "-1", "--format=%H"], capture_output=True,
                   check=False)
    assert marker.exists(), "the planted configuration does not run a program: test is void"
    marker.unlink()
    blob = make_tarball(meta, commit="")  # no pax commit: provenance must come from elsewhere
    monkeypatch.setattr(action, "open_url", lambda url, **kwargs: io.BytesIO(blob))
    with pytest.raises(PatchwiseError, match="provenance unknown"):
        action.update_database(
            {"src": "https://example.invalid/release-metadata.tar.gz",
             "dest": str(tmp_path / "db.json")},
            False,
        )
    assert not marker.exists()
    result = action.update_database(
        {"src": "https://example.invalid/release-metadata.tar.gz",
         "dest": str(tmp_path / "db.json"), "commit": "b" * 40,
         "commit_date": "2026-07-01T10:00:00+00:00"},
        False,
    )
    assert result["changed"] and not marker.exists()
    work = tmp_path / "work"
    work.mkdir()
    path = tmp_path / "repo.tar.gz"
    path.write_bytes(blob)
    root, _provenance = action.extract_tarball(path, work)
    assert not (root / ".git").exists()


@pytest.mark.parametrize(
    "src",
    [
        "https://reader:s3cret@example.invalid/release-metadata.tar.gz",
        "https://oauth2:s3cret@example.invalid/openssl/release-metadata.git",
        "git://reader:s3cret@example.invalid/release-metadata.git",
    ],
)
def test_credentials_in_the_url_never_appear_in_messages(tmp_path, monkeypatch, src):
    def refuse(url, **kwargs):
        raise OSError(f"connection to {url} refused")

    monkeypatch.setattr(action, "open_url", refuse)
    with pytest.raises(PatchwiseError) as info:
        action.update_database(
            {"src": src, "dest": str(tmp_path / "db.json")},
            False,
            lambda argv, timeout=120: (128, "", f"fatal: unable to access '{argv[-2]}'"),
        )
    assert "s3cret" not in str(info.value) and "reader" not in str(info.value)
    assert "***@example.invalid" in str(info.value)


def test_corrupt_tarball(tmp_path):
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(PatchwiseError, match="not a readable tarball"):
        action.extract_tarball(path, work)


@pytest.mark.skipif(not SHARED_META.is_dir(), reason="shared OpenSSL data absent")
def test_newer_copy_of_the_shared_data(tmp_path):
    meta = copy_meta(tmp_path, SHARED_META)
    dest = tmp_path / "db.json"
    shutil.copy(REPO / "data" / "openssl_vulndb.json", dest)
    xml = REPO.parent / "shared" / "data" / "openssl-web-legacy" / "vulnerabilities.xml"
    same = update(meta, dest, legacy_xml=str(xml))
    assert same["changed"] is False  # the shipped database is current
    add_record(meta, "CVE-2026-99999", "2026-06-10")
    set_commit(meta, NEWER)
    result = update(meta, dest, legacy_xml=str(xml))
    assert result["changes"]["new_cves"] == ["CVE-2026-99999"]
    assert result["records"] == 276


# --- the playbook, end to end: check, apply, apply, check ----------------------------------------


def run_playbook(tmp_path: Path, extra: list[str]) -> dict:
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    if not tree.exists():
        tree.mkdir(parents=True)
        (tree / "openssl").symlink_to(REPO)
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    proc = subprocess.run(
        [
            str(PLAYBOOK_BIN),
            "-i",
            "localhost,",
            "patchwise.openssl.vulndb_update",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    return {"rc": proc.returncode, "out": proc.stdout, "err": proc.stderr}


def _changed(run: dict) -> bool:
    result = json.loads(run["out"])
    return result["stats"]["localhost"]["changed"] > 0


@pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not installed")
def test_playbook_check_apply_apply_check(tmp_path, meta):
    dest = tmp_path / "db.json"
    args = ["-e", f"vulndb_src={meta}", "-e", f"vulndb_dest={dest}"]
    runs = [
        run_playbook(tmp_path, [*args, "--check"]),
        run_playbook(tmp_path, args),
        run_playbook(tmp_path, args),
        run_playbook(tmp_path, [*args, "--check"]),
    ]
    for run in runs:
        assert run["rc"] == 0, run["out"][-2000:] + run["err"][-2000:]
    assert [_changed(run) for run in runs] == [True, True, False, False]
    assert dest.is_file()


@pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-playbook not installed")
def test_playbook_refusal_is_a_clear_failure(tmp_path, meta):
    (meta / "secjson" / "CVE-2014-0160.json").write_text("[")
    run = run_playbook(
        tmp_path, ["-e", f"vulndb_src={meta}", "-e", f"vulndb_dest={tmp_path}/x.json"]
    )
    assert run["rc"] != 0
    assert "CVE-2014-0160.json: file: not valid JSON" in run["out"]
    assert "Traceback" not in run["out"] + run["err"]
    missing = run_playbook(tmp_path, [])
    assert missing["rc"] != 0 and "Set vulndb_src" in missing["out"]
