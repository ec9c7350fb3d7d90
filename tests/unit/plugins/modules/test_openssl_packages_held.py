# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""openssl_packages on a Debian 12 host where libssl3 is on hold (``apt-mark hold libssl3``).

run_command is fed the outputs recorded on such a host (tests/unit/fixtures/pkgops/held,
see SOURCES.md there); apt-get install, apt-mark hold and dpkg -i change the simulated dpkg
database the way they did on the recording host: apt and dpkg both drop the hold.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import pkgops
from ansible_collections.patchwise.openssl.plugins.modules import openssl_packages

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "pkgops"
HELD = FIX / "held"
ORIG = "3.0.22-1~deb12u2"
NEW = "3.0.22-1~deb12u2+patchwise1"


def _set(query: str, name: str, version: str | None = None, status: str | None = None) -> str:
    """The dpkg-query text with one package's version and/or status abbreviation changed."""
    lines = []
    for line in query.splitlines(keepends=True):
        cols = line.rstrip("\n").split("\t")
        if len(cols) == 8 and cols[1] == name:
            if version:
                cols[3] = cols[5] = version
            if status:
                cols[6] = status
            line = "\t".join(cols) + "\n"
        lines.append(line)
    return "".join(lines)


@pytest.fixture
def host(apt_host):
    state = {"query": (HELD / "debian12-held-dpkg-query-W.txt").read_text(), "calls": []}
    answers = [
        (["apt-get", "update"], (0, (FIX / "debian12-apt-get-update-ok.txt").read_text(), "")),
        (["apt-cache"], (0, (HELD / "debian12-held-apt-cache-policy.txt").read_text(), "")),
        (["apt-get", "-s"], (0, (HELD / "debian12-held-apt-get-s-install.txt").read_text(), "")),
        (["dpkg", "--audit"], (0, "", "")),
    ]

    def install(argv):
        if "--allow-change-held-packages" not in argv and re.search(r"\thi ", state["query"]):
            return 100, (HELD / "debian12-held-apt-get-install-y.txt").read_text(), ""
        for target in argv:
            if "=" in target and ":" in target:
                name, _sep, version = target.partition("=")
                state["query"] = _set(state["query"], name.split(":")[0], version, "ii ")
        return 0, (HELD / "debian12-held-apt-get-install-y-allow-held.txt").read_text(), ""

    def run_command(self, argv, cwd=None, environ_update=None, **kwargs):
        argv = list(argv)
        state["calls"].append(argv)
        if argv[0] == "dpkg-query":
            return 0, state["query"], ""
        if argv[:2] == ["apt-get", "install"]:
            return install(argv)
        if argv[:2] == ["apt-mark", "hold"]:
            if "apt-mark" in state.get("fail", ()):
                return 1, "", "E: Can't select installed nor candidate version"
            for binary in argv[2:]:
                state["query"] = _set(state["query"], binary.split(":")[0], status="hi ")
            return 0, "", ""
        if argv[:2] == ["dpkg", "-i"]:
            for path in argv[2:]:
                if path.endswith(".deb"):
                    name, version, _arch = Path(path).name[:-4].split("_")
                    state["query"] = _set(state["query"], name, version, "ii ")
            return 0, (HELD / "debian12-held-dpkg-i-restore.txt").read_text(), ""
        for prefix, answer in answers:
            if argv[: len(prefix)] == prefix:
                return answer
        return 1, "", f"unexpected {argv}"

    apt_host(run_command)
    return state


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        openssl_packages.main()
    return json.loads(capsys.readouterr().out)


def _argvs(host, *prefix):
    return [a for a in host["calls"] if a[: len(prefix)] == list(prefix)]


@pytest.mark.parametrize("check_mode", [True, False])
def test_a_held_package_is_reported_and_the_upgrade_refused(host, capsys, tmp_path, check_mode):
    root = tmp_path / "rb"
    out = _run({"_ansible_check_mode": check_mode, "rollback_dir": str(root)}, capsys)
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["msg"] == (
        "pre-flight: OpenSSL packages on hold (apt-mark hold) would be upgraded: "
        f"libssl3 {ORIG} -> {NEW}. A hold is an administrator's decision to keep a version; it "
        "is not overridden without being asked, and nothing was changed. The OpenSSL packages "
        "move together, so openssl is not upgraded either. To upgrade, either remove the hold "
        "('apt-mark unhold libssl3') and run again, or run with allow_held=true (patch role: "
        "patch_allow_held: true), which upgrades them and puts the hold back afterwards. To "
        "keep the version, leave the host out of this run."
    )
    # The truth about the host: libssl3 is installed, at its version, on hold.
    assert out["before"] == {"libssl3": ORIG, "openssl": ORIG}
    assert out["before_states"] == {"libssl3": "hi", "openssl": "ii"}
    assert out["held"] == [
        {
            "name": "libssl3",
            "binary": "libssl3:amd64",
            "arch": "amd64",
            "version": ORIG,
            "to": NEW,
            "action": "upgrade",
        }
    ]
    assert [(p["name"], p["action"], p["held"]) for p in out["plan"]] == [
        ("libssl3", "upgrade", True),
        ("openssl", "upgrade", False),
    ]
    assert out["changed_packages"] == []
    assert out["rollback_point"] == {}
    assert not _argvs(host, "apt-get", "install")
    assert not _argvs(host, "apt-get", "-s")
    assert not root.exists()


def test_a_held_package_at_the_target_is_reported_and_nothing_refused(host, capsys, tmp_path):
    out = _run({"version": ORIG, "rollback_dir": str(tmp_path / "rb")}, capsys)
    assert "failed" not in out
    assert out["changed"] is False
    assert [(h["name"], h["action"]) for h in out["held"]] == [("libssl3", "none")]
    assert out["before_states"]["libssl3"] == "hi"


def test_allow_held_plans_in_check_mode(host, capsys, tmp_path):
    out = _run(
        {"_ansible_check_mode": True, "allow_held": True, "rollback_dir": str(tmp_path / "rb")},
        capsys,
    )
    assert "failed" not in out
    assert out["changed"] is True
    assert out["after"] == {"libssl3": NEW, "openssl": NEW}
    assert out["preflight"]["simulation"] == {"ok": True, "problems": []}
    assert not _argvs(host, "apt-get", "install")
    assert not _argvs(host, "apt-mark")


def test_allow_held_upgrades_and_puts_the_hold_back(host, capsys, tmp_path):
    root = tmp_path / "rb"
    out = _run({"allow_held": True, "run_id": "r1", "rollback_dir": str(root)}, capsys)
    assert "failed" not in out, out.get("msg")
    assert out["changed"] is True
    assert out["after"] == {"libssl3": NEW, "openssl": NEW}
    (install,) = _argvs(host, "apt-get", "install")
    assert "--allow-change-held-packages" in install
    assert _argvs(host, "apt-mark") == [["apt-mark", "hold", "libssl3:amd64"]]
    rows = {p["name"]: p for p in pkgops.parse_dpkg_query(host["query"])}
    assert rows["libssl3"]["held"] and rows["libssl3"]["version"] == NEW
    assert not rows["openssl"]["held"]
    manifest = json.loads((root / "r1" / "manifest.json").read_text())
    assert {p["name"]: p["version"] for p in manifest["packages"]} == {
        "libssl3": ORIG,
        "openssl": ORIG,
    }

    # The way back keeps the hold too (dpkg -i drops it as apt does).
    back = _run({"state": "restored", "run_id": "r1", "rollback_dir": str(root)}, capsys)
    assert "failed" not in back, back.get("msg")
    assert back["after"] == {"libssl3": ORIG, "openssl": ORIG}
    assert [h["name"] for h in back["held"]] == ["libssl3"]
    assert _argvs(host, "apt-mark")[-1] == ["apt-mark", "hold", "libssl3:amd64"]
    rows = {p["name"]: p for p in pkgops.parse_dpkg_query(host["query"])}
    assert rows["libssl3"]["held"] and rows["libssl3"]["version"] == ORIG


def test_a_hold_that_cannot_be_put_back_fails_the_run(host, capsys, tmp_path):
    host["fail"] = ("apt-mark",)
    out = _run({"allow_held": True, "run_id": "r1", "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert out["msg"].startswith(
        "the packages changed but the hold could not be put back: apt-mark hold failed (rc=1)"
    )


def test_allow_held_is_an_option_of_state_latest(host, capsys, tmp_path):
    out = _run({"state": "restored", "allow_held": True, "rollback_dir": str(tmp_path)}, capsys)
    assert out["failed"] is True
    assert out["msg"] == "allow_held applies to state=latest only, not to state=restored"
