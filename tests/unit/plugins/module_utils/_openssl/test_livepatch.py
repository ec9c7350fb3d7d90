# SPDX-License-Identifier: GPL-3.0-or-later
"""Live-patching parsers.

No live-patching tool runs on the recording machine, so nothing here is a recorded output.
The samples are built from the printf format strings of the public sources named in
fixtures/facts/SOURCES.md (cloudlinux/libcare src/kpatch_user.c object_info; SUSE/libpulp
tools/patches.c print_process/print_lib_patches) and from the JSON shape TuxCare documents
for kcarectl (objects with "pid", "comm", "buildid", "cve").
"""

from __future__ import annotations

import json

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import livepatch
from hypothesis import given, settings
from hypothesis import strategies as st

RED, RESET = "\x1b[31m", "\x1b[0m"

# printf("pid=%d comm=%s\n"); printf("%s buildid=%s"); printf(" patchlvl=%d"); printf("\n")
LIBCARE_CTL = (
    "pid=812 comm=nginx\n"
    "/usr/lib64/libcrypto.so.1.1.1k buildid=9f1b5c2e4ad0c0e4a1f4f1c1d2a7e8b9c0d1e2f3 patchlvl=3\n"
    "/usr/lib64/libc-2.28.so buildid=aa00bb11cc22dd33ee44ff5566778899aabbccdd patchlvl=1 latest=2\n"
    "pid=990 comm=sshd\n"
    "/usr/lib64/libcrypto.so.1.1.1k buildid=9f1b5c2e4ad0c0e4a1f4f1c1d2a7e8b9c0d1e2f3"
    f" {RED}VULNERABLE{RESET}\n"
)

# printf("PID: %d, name: %s\n") ... "    in %s" " (%s)" ":\n" "      livepatch: %s" " loaded on %s"
ULP = (
    "PID: 1207, name: test\n"
    "  Livepatching status: enabled\n"
    "  Livepatchable libraries:\n"
    "    in /usr/lib64/libcrypto.so.3 (3b0cf5f4a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6):\n"
    "      livepatch: libcrypto_livepatch1.so loaded on Mon Sep  2 10:00:00 2024\n"
    "        bug labels: bsc#1229465 cve-2024-6119 \n"
    "    in /lib64/libc.so.6 (aabbccddeeff00112233445566778899aabbccdd):\n"
    "\n"
    "PID: 1300, name: other\n"
    "  Livepatching status: disabled by user\n"
    "  Livepatchable libraries:\n"
    "    (none)\n"
)


def test_libcare_ctl_info() -> None:
    recs = livepatch.parse_libcare_ctl_info(LIBCARE_CTL)
    assert [(r["pid"], r["comm"], r["patch_level"]) for r in recs] == [
        (812, "nginx", 3),
        (812, "nginx", 1),
        (990, "sshd", None),
    ]
    assert recs[0]["object"] == "/usr/lib64/libcrypto.so.1.1.1k"
    assert recs[0]["build_id"] == "9f1b5c2e4ad0c0e4a1f4f1c1d2a7e8b9c0d1e2f3"
    assert recs[1]["latest_level"] == 2
    assert recs[2]["vulnerable"] is True and recs[0]["vulnerable"] is False


def test_ulp_patches() -> None:
    recs = livepatch.parse_ulp_patches(ULP)
    assert len(recs) == 1  # libraries without a loaded livepatch are not "patched"
    rec = recs[0]
    assert (rec["pid"], rec["comm"], rec["object"]) == (1207, "test", "/usr/lib64/libcrypto.so.3")
    assert rec["build_id"] == "3b0cf5f4a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6"
    assert rec["patches"] == ["libcrypto_livepatch1.so"]
    assert rec["cves"] == ["CVE-2024-6119"]


def test_kcarectl_json_walk() -> None:
    doc = {
        "result": [
            {"pid": 512, "comm": "cron", "objects": [{"buildid": "AB12", "patchlvl": "2"}]},
            {
                "pid": "613",
                "comm": "dbus-daemon",
                "buildid": "cd34",
                "patch_level": 1,
                "cve": "CVE-2022-4450",
            },
        ]
    }
    warnings: list[str] = []
    recs = livepatch.parse_json_records(json.dumps(doc, indent=2), "kcarectl", warnings)
    assert [(r["pid"], r["comm"]) for r in recs] == [(512, "cron"), (613, "dbus-daemon")]
    assert recs[1]["cves"] == ["CVE-2022-4450"] and recs[1]["build_id"] == "cd34"
    assert warnings == []


def test_libcare_client_json_lines_with_noise() -> None:
    text = '{"pid": 10, "buildid": "aa"}\nnot json\n{"pid": 11, "buildid": "bb", "patchlvl": 4}\n'
    warnings: list[str] = []
    recs = livepatch.parse_json_records(text, "libcare-client", warnings)
    assert [(r["pid"], r["build_id"], r["patch_level"]) for r in recs] == [
        (10, "aa", None),
        (11, "bb", 4),
    ]
    assert warnings == ["libcare-client: 1 line(s) were not JSON"]


def test_cvelist() -> None:
    assert livepatch.parse_cvelist("CVE-2023-0286\ncve-2022-4450\nCVE-2023-0286\n\n") == [
        "CVE-2023-0286",
        "CVE-2022-4450",
    ]


def test_gather_without_tools() -> None:
    r = livepatch.gather(lambda argv: (1, "", ""), lambda name: None, lambda path: None, [])
    assert r["kernelcare"]["present"] is False
    assert r["libcare"]["present"] is False and r["libpulp"]["present"] is False
    assert r["patched"] == [] and r["cves"] == []


def test_gather_with_tools() -> None:
    outputs = {
        "/usr/bin/kcarectl --version": (0, "kcarectl 2.80-1\n", ""),
        "/usr/bin/kcarectl --lib-info": (
            0,
            json.dumps([{"pid": 5, "comm": "x", "buildid": "ff"}]),
            "",
        ),
        "/usr/sbin/libcare-ctl info": (0, LIBCARE_CTL, ""),
        "/usr/bin/ulp patches -b": (0, ULP, ""),
    }
    paths = {
        "kcarectl": "/usr/bin/kcarectl",
        "libcare-ctl": "/usr/sbin/libcare-ctl",
        "ulp": "/usr/bin/ulp",
    }
    files = {livepatch.KCARE_CVELIST: "CVE-2023-0286\n"}
    warnings: list[str] = []
    r = livepatch.gather(
        lambda argv: outputs.get(" ".join(argv), (1, "", "no")), paths.get, files.get, warnings
    )
    assert r["kernelcare"] == {
        "present": True,
        "path": "/usr/bin/kcarectl",
        "version": "kcarectl 2.80-1",
        "libcare_enabled": True,
    }
    sources = sorted({p["source"] for p in r["patched"]})
    assert sources == ["kcarectl", "libcare-ctl", "ulp"]
    assert r["cves"] == ["CVE-2023-0286", "CVE-2024-6119"]
    assert warnings == []


@given(
    st.lists(
        st.one_of(
            st.sampled_from(LIBCARE_CTL.splitlines() + ULP.splitlines()), st.text(max_size=50)
        ),
        max_size=20,
    )
)
def test_property_text_parsers(lines: list[str]) -> None:
    text = "\n".join(lines)
    for rec in livepatch.parse_libcare_ctl_info(text) + livepatch.parse_ulp_patches(text):
        assert isinstance(rec["pid"], int)


@settings(max_examples=settings().max_examples // 2)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["pid", "buildid", "comm", "cve", "patchlvl", "x"]),
                children,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_property_json(doc: object) -> None:
    for rec in livepatch.parse_json_records(json.dumps(doc), "kcarectl", []):
        assert isinstance(rec["pid"], int)
