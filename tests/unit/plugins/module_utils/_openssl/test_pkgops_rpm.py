# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollback copies and restore on rpm systems (zypper, dnf, yum) on recorded real outputs.

The recordings (tests/unit/fixtures/pkgops/rpm/SOURCES.md) are real zypper 1.14.42, dnf 4.14.0
and rpm 4.18.0 outputs made against stand-in packages in a local repository; each starts with
``$ <command>`` and ends with ``[rc=N]``. The fake runner answers with them; where a command
writes a file (zypper/dnf download), the fake writes it at the path the recording names, with
the recording's scratch directory replaced by the one the code under test passed.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import ParseError
from hypothesis import given
from hypothesis import strategies as st

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "pkgops" / "rpm"

OLD = {"name": "libopenssl3", "arch": "x86_64", "version": "3.1.4-150600.5.15.1"}
OLD_FILE = "libopenssl3-3.1.4-150600.5.15.1.x86_64.rpm"


def recorded(name: str) -> tuple[str, int, str]:
    """(command line, exit code, output) of a recording."""
    lines = (FIX / name).read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[0].startswith("$ ")
    match = re.fullmatch(r"\[rc=(\d+)\]\n?", lines[-1])
    assert match, lines[-1]
    return lines[0][2:].strip(), int(match.group(1)), "".join(lines[1:-1])


def output(name: str) -> str:
    return recorded(name)[2]


class FakeRpmHost:
    """A runner: argv -> (rc, out, err) from recordings, with downloads written to disk."""

    def __init__(self, download: str | None = None, qp: str = "rpm-qp.txt",
                 file_name: str = OLD_FILE) -> None:
        self.download = download
        self.qp = qp
        self.file_name = file_name
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], cwd: str | None = None) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[:2] == ["rpm", "-qp"]:
            _cmd, rc, out = recorded(self.qp)
            return rc, out, ""
        if argv[0] == "zypper" and "download" in argv:
            return self._zypper(argv)
        if argv[0] == "yumdownloader" or (argv[0] in ("dnf", "yum") and "download" in argv):
            return self._dnf(argv)
        if argv[:2] == ["rpm", "-Uvh"]:
            _cmd, rc, out = recorded("rpm-Uvh-oldpackage.txt")
            return rc, out, ""
        return 127, "", f"unexpected command {argv}"

    def _zypper(self, argv: list[str]) -> tuple[int, str, str]:
        scratch = argv[argv.index("--pkg-cache-dir") + 1]
        cmd, rc, out = recorded(self.download)
        recorded_dir = cmd.split("--pkg-cache-dir ", 1)[1].split()[0]
        out = out.replace(recorded_dir, scratch)
        for path in re.findall(r'<localfile path="([^"]+)"', out):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).write_bytes(b"recorded download stand-in")
        return rc, out, ""

    def _dnf(self, argv: list[str]) -> tuple[int, str, str]:
        destdir = argv[argv.index("--destdir") + 1]
        _cmd, rc, out = recorded(self.download)
        if rc == 0:
            Path(destdir, self.file_name).write_bytes(b"recorded download stand-in")
        return rc, out, ""


def zypper(run: FakeRpmHost, cache: Path) -> pkgops.ZypperManager:
    mgr = pkgops.ZypperManager(run)
    mgr.cache_roots = (str(cache),)
    return mgr


# --- parsers on the recordings ---------------------------------------------------------------


def test_zypper_download_names_the_file_and_the_exact_edition():
    result = pkgops.parse_zypper_download(output("zypper-xmlout-download.xml"))
    assert result == {
        "downloads": [{"name": "libopenssl3", "version": "3.1.4-150600.5.15.1",
                       "arch": "x86_64",
                       "path": "/tmp/pw-dl1/pw-sle-update/" + OLD_FILE}],
        "messages": [],
    }
    cached = pkgops.parse_zypper_download(output("zypper-xmlout-download-cached.xml"))
    assert cached["downloads"] == result["downloads"]
    nevra = pkgops.parse_zypper_download(output("zypper-xmlout-download-nevra.xml"))
    assert nevra["downloads"][0]["name"] == "openssl-3"


def test_zypper_download_failures_exit_zero_and_name_no_file():
    assert recorded("zypper-xmlout-download-missing-version.xml")[1] == 0
    missing = pkgops.parse_zypper_download(output("zypper-xmlout-download-missing-version.xml"))
    assert missing == {"downloads": [], "messages": [
        "Argument resolves to no package: libopenssl3.x86_64=3.1.4-150600.5.9.1"]}
    assert recorded("zypper-xmlout-download-file-gone.xml")[1] == 0
    gone = pkgops.parse_zypper_download(output("zypper-xmlout-download-file-gone.xml"))
    assert gone["downloads"] == []
    assert gone["messages"][0].startswith(f"File './{OLD_FILE}' not found on medium")
    assert gone["messages"][-1] == "ABORT request: Aborting requested by user"


def test_zypper_download_public_sles11_samples():
    text = (FIX / "zypper-xmlout-download-sles11sp3-machinery.xml").read_text(encoding="utf-8")
    result = pkgops.parse_zypper_download(text)
    assert result["downloads"][0]["version"] == "2.6.0-10.17.1"
    path = result["downloads"][0]["path"]
    assert path.endswith("/rpm/x86_64/fontconfig-2.6.0-10.17.1.x86_64.rpm")
    text = (FIX / "zypper-xmlout-download-no-package-machinery.xml").read_text(encoding="utf-8")
    assert pkgops.parse_zypper_download(text)["downloads"] == []


def test_zypper_download_without_xml_is_a_parse_error():
    with pytest.raises(ParseError, match="no <stream>"):
        pkgops.parse_zypper_download(output("rpm-qa.txt"))


def test_rpm_qp_and_rpm_qa_agree_on_versions():
    assert pkgops.parse_rpm_qp(output("rpm-qp.txt")) == OLD
    calls = []

    def run_qa(argv, cwd=None):
        calls.append(argv)
        return 0, output("rpm-qa.txt"), ""

    installed = pkgops.ZypperManager(run_qa).installed()
    assert {p["name"]: p["version"] for p in installed} == {
        "libopenssl3": "3.1.4-150600.5.15.1", "openssl-3": "3.1.4-150600.5.15.1"}
    assert calls == [["rpm", "-qa", "--qf", pkgops.DnfManager.RPM_FORMAT]]


@pytest.mark.parametrize("name", ["rpm-qp-truncated.txt", "rpm-qp-not-rpm.txt"])
def test_rpm_qp_errors_are_parse_errors(name):
    _cmd, rc, out = recorded(name)
    assert rc != 0
    with pytest.raises(ParseError):
        pkgops.parse_rpm_qp(out)


def test_epoch_is_kept_when_not_zero():
    assert pkgops.parse_rpm_qp("openssl-libs\t1:3.0.7-27.el9\tx86_64\n")["version"] == \
        "1:3.0.7-27.el9"
    assert pkgops.rpm_filename({"name": "openssl-libs", "version": "1:3.0.7-27.el9",
                                "arch": "x86_64"}) == "openssl-libs-3.0.7-27.el9.x86_64.rpm"


def test_recorded_list_updates_and_check_update():
    updates = pkgops.parse_zypper_updates(output("zypper-xmlout-list-updates-standins.xml"))
    assert [(u["name"], u["version"], u["old_version"]) for u in updates] == [
        ("libopenssl3", "3.1.4-150600.5.21.1", "3.1.4-150600.5.15.1"),
        ("openssl-3", "3.1.4-150600.5.21.1", "3.1.4-150600.5.15.1")]
    _cmd, rc, out = recorded("dnf-check-update.txt")
    assert rc == 100
    assert [(u["name"], u["version"]) for u in pkgops.parse_dnf_check_update(out)] == [
        ("libopenssl3", "3.1.4-150600.5.21.1"), ("openssl-3", "3.1.4-150600.5.21.1")]


# --- zypper rollback copies ---------------------------------------------------------------------


def test_zypper_copy_from_its_package_cache_when_the_file_is_exact(tmp_path):
    cache = tmp_path / "packages"
    (cache / "pw-sle-update").mkdir(parents=True)
    (cache / "pw-sle-update" / OLD_FILE).write_bytes(b"cached rpm")
    dest = tmp_path / "point"
    dest.mkdir()
    run = FakeRpmHost()
    copy = zypper(run, cache).copy_package(dict(OLD), str(dest))
    assert copy == {"file": OLD_FILE, "origin": "zypper-cache"}
    assert (dest / OLD_FILE).read_bytes() == b"cached rpm"
    assert run.calls == [["rpm", "-qp", "--qf", pkgops.RPM_QP_FORMAT,
                          str(cache / "pw-sle-update" / OLD_FILE)]]


def test_zypper_copy_downloads_the_exact_edition_and_checks_it(tmp_path):
    dest = tmp_path / "point"
    dest.mkdir()
    run = FakeRpmHost(download="zypper-xmlout-download.xml")
    copy = zypper(run, tmp_path / "no-cache").copy_package(dict(OLD), str(dest))
    assert copy == {"file": OLD_FILE, "origin": "download"}
    assert sorted(os.listdir(dest)) == [OLD_FILE]  # the scratch directory is gone
    download = run.calls[0]
    assert download[:4] == ["zypper", "--non-interactive", "--xmlout", "--pkg-cache-dir"]
    assert download[5:] == ["download", "libopenssl3.x86_64=3.1.4-150600.5.15.1"]
    assert os.path.dirname(download[4]) == str(dest)
    assert run.calls[1][:2] == ["rpm", "-qp"]


def test_zypper_cached_file_of_another_build_is_not_taken(tmp_path):
    cache = tmp_path / "packages" / "repo"
    cache.mkdir(parents=True)
    (cache / OLD_FILE).write_bytes(b"truncated")
    dest = tmp_path / "point"
    dest.mkdir()
    run = FakeRpmHost(download="zypper-xmlout-download.xml", qp="rpm-qp-truncated.txt")
    with pytest.raises(pkgops.PackageError, match="did not yield it"):
        zypper(run, tmp_path / "packages").copy_package(dict(OLD), str(dest))
    assert os.listdir(dest) == []
    assert [c[0] for c in run.calls] == ["rpm", "zypper", "rpm"]


@pytest.mark.parametrize(("recording", "message"), [
    ("zypper-xmlout-download-missing-version.xml", "Argument resolves to no package"),
    ("zypper-xmlout-download-file-gone.xml", "not found on medium"),
])
def test_zypper_copy_fails_clearly_when_nothing_was_downloaded(tmp_path, recording, message):
    dest = tmp_path / "point"
    dest.mkdir()
    pkg = dict(OLD, version="3.1.4-150600.5.9.1") if "missing" in recording else dict(OLD)
    mgr = zypper(FakeRpmHost(download=recording), tmp_path / "no-cache")
    with pytest.raises(pkgops.PackageError) as err:
        mgr.copy_package(pkg, str(dest))
    assert message in str(err.value)
    assert "not in the package cache" in str(err.value)
    assert os.listdir(dest) == []


def test_zypper_copy_of_a_version_that_differs_from_the_file_is_refused(tmp_path):
    dest = tmp_path / "point"
    dest.mkdir()
    newer = dict(OLD, version="3.1.4-150600.5.21.1")
    run = FakeRpmHost(download="zypper-xmlout-download.xml")
    with pytest.raises(pkgops.PackageError, match=re.escape("3.1.4-150600.5.21.1 (x86_64)")):
        zypper(run, tmp_path / "no-cache").copy_package(newer, str(dest))
    assert os.listdir(dest) == []


# --- dnf and yum ------------------------------------------------------------------------------


def test_dnf_copy_downloads_the_exact_nevra(tmp_path):
    run = FakeRpmHost(download="dnf-download-nevra.txt")
    mgr = pkgops.DnfManager(run)
    mgr.cache_roots = (str(tmp_path / "no-cache"),)
    copy = mgr.copy_package(dict(OLD), str(tmp_path))
    assert copy == {"file": OLD_FILE, "origin": "download"}
    assert run.calls[0][:4] == ["dnf", "-q", "download", "--destdir"]
    assert run.calls[0][-1] == "libopenssl3-3.1.4-150600.5.15.1.x86_64"
    assert sorted(os.listdir(tmp_path)) == [OLD_FILE]


def test_dnf_nevra_carries_a_non_zero_epoch():
    mgr = pkgops.DnfManager(FakeRpmHost())
    pkg = {"name": "openssl-libs", "version": "1:3.0.7-27.el9", "arch": "x86_64"}
    assert mgr.nevra(pkg) == "openssl-libs-1:3.0.7-27.el9.x86_64"


@pytest.mark.parametrize(("recording", "version", "message"), [
    ("dnf-download-missing.txt", "3.1.4-150600.5.9.1",
     "No package libopenssl3-3.1.4-150600.5.9.1.x86_64 available."),
    ("dnf-download-file-gone.txt", "3.1.4-150600.5.15.1",
     "Some packages from local repository have incorrect checksum"),
])
def test_dnf_copy_failure_is_clear(tmp_path, recording, version, message):
    mgr = pkgops.DnfManager(FakeRpmHost(download=recording))
    mgr.cache_roots = ()
    with pytest.raises(pkgops.PackageError, match="dnf download failed: Error: ") as err:
        mgr.copy_package(dict(OLD, version=version), str(tmp_path))
    assert message in str(err.value)
    assert version in str(err.value)
    assert os.listdir(tmp_path) == []


def test_yum_without_yumdownloader_says_what_to_install(tmp_path):
    mgr = pkgops.MANAGERS["yum"](FakeRpmHost())
    mgr.cache_roots = ()
    mgr.which = lambda _name: None
    with pytest.raises(pkgops.PackageError, match="yum-utils"):
        mgr.copy_package(dict(OLD), str(tmp_path))


def test_yum_copies_with_yumdownloader(tmp_path):
    run = FakeRpmHost(download="dnf-download-nevra.txt")
    mgr = pkgops.MANAGERS["yum"](run)
    mgr.cache_roots = ()
    mgr.which = lambda name: f"/usr/bin/{name}"
    assert mgr.copy_package(dict(OLD), str(tmp_path))["origin"] == "download"
    assert run.calls[0][0] == "yumdownloader"
    assert mgr.name == "yum"


# --- restore ----------------------------------------------------------------------------------


def test_restore_reinstalls_packages_already_at_the_recorded_version():
    run = FakeRpmHost()
    pkgops.ZypperManager(run).restore(["/p/a.rpm", "/p/b.rpm"])
    assert run.calls == [["rpm", "-Uvh", "--oldpackage", "--replacepkgs", "/p/a.rpm", "/p/b.rpm"]]
    # without --replacepkgs rpm refuses the whole set when one package is already installed
    cmd, rc, out = recorded("rpm-Uvh-oldpackage-no-replacepkgs.txt")
    assert "--replacepkgs" not in cmd
    assert rc == 4
    assert "is already installed" in out
    assert recorded("rpm-Uvh-oldpackage-again.txt")[1] == 0


def test_restore_failure_is_a_package_error():
    _cmd, rc, out = recorded("rpm-Uvh-oldpackage-no-replacepkgs.txt")
    mgr = pkgops.ZypperManager(lambda argv, cwd=None: (rc, out, ""))
    with pytest.raises(pkgops.PackageError, match=r"rpm -U --oldpackage failed \(rc=4\)"):
        mgr.restore(["/p/a.rpm"])


def test_audit_after_restore_is_empty():
    _cmd, rc, out = recorded("rpm-Va-nofiles.txt")
    assert pkgops.ZypperManager(lambda argv, cwd=None: (rc, out, "")).audit() == ""


# --- property tests -----------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)


@given(_TEXT)
def test_rpm_family_parsers_never_raise_foreign_errors(text):
    for parser in (pkgops.parse_zypper_download, pkgops.parse_rpm_qp):
        with contextlib.suppress(ParseError):
            parser(text)


@given(st.integers(min_value=0, max_value=1200), st.text(max_size=40))
def test_zypper_download_parser_on_mutated_recording(cut, noise):
    text = output("zypper-xmlout-download.xml")
    with contextlib.suppress(ParseError):
        result = pkgops.parse_zypper_download(text[:cut] + noise + text[cut:])
        assert isinstance(result["downloads"], list)
