# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet-scale assessment: many varied hosts through one Assessor give real, independent results.

The speed target (10,000 hosts in under 10 s) is measured by ``benchmarks/controller_assess.py``
(``make bench``), not here: timed assertions in unit tests only measure how busy the runner is.

The fleet is synthetic but built from recorded material (tests/unit/fixtures/assess): the real
changelog CVE maps of Debian 11/12/13 and EL9 packages, real version strings, Debian library
paths, 20-60 processes per host with listening sockets, 5 % of them mapping a replaced library,
a fifth of the hosts with a vendored copy.
"""

from __future__ import annotations

import json
import pathlib
import random

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    report,
    vulndb,
)

FIXTURES = pathlib.Path(__file__).parents[3] / "fixtures" / "assess"
CHANGELOGS = json.loads((FIXTURES / "changelog-cves.json").read_text())
TODAY = "2026-11-22"
HOSTS = 500
ANY = "0.0.0.0"  # noqa: S104 - a listening address in facts, nothing binds

# (distro, package, package version, upstream, changelog fixture, soname, manager, libdir)
PROFILES = [
    ("debian12", "libssl3", "3.0.19-1~deb12u2", "3.0.19",
     "libssl3_3.0.19-1~deb12u2.changelog.Debian.gz", "3", "dpkg", "/usr/lib/x86_64-linux-gnu"),
    ("debian12", "libssl3", "3.0.22-1~deb12u2", "3.0.22",
     "libssl3_3.0.22-1~deb12u2.changelog.Debian.gz", "3", "dpkg", "/usr/lib/x86_64-linux-gnu"),
    ("debian11", "libssl1.1", "1.1.1w-0+deb11u8", "1.1.1w",
     "libssl1.1_1.1.1w-0+deb11u8.changelog.Debian.gz", "1.1", "dpkg",
     "/usr/lib/x86_64-linux-gnu"),
    ("debian13", "libssl3t64", "3.5.7-1~deb13u3", "3.5.7",
     "libssl3t64_3.5.7-1~deb13u3.changelog.Debian.gz", "3", "dpkg", "/usr/lib/x86_64-linux-gnu"),
    ("el9", "openssl-libs", "1:3.0.7-28.el9_4", "3.0.7",
     "openssl-3.0.7-28.el9_4.spec-changelog.txt", "3", "rpm", "/usr/lib64"),
    ("el8", "openssl-libs", "1:1.1.1k-14.el8_6", "1.1.1k",
     "openssl-1.1.1k-14.el8_6.spec-changelog.txt", "1.1", "rpm", "/usr/lib64"),
]  # fmt: skip
VENDORED = ["3.2.1", "3.1.4", "3.0.13", "1.1.1t", "3.3.2", "3.4.0", "3.5.4"]
SERVICES = [("sshd", 22), ("nginx", 443), ("haproxy", 8443), ("postgres", 5432), (None, None)]


def synthetic_host(rng: random.Random, index: int) -> dict:
    distro, package, pkg_version, upstream, log, soname, manager, libdir = rng.choice(PROFILES)
    data = CHANGELOGS[log]
    libs = [
        {
            "path": f"{libdir}/{kind}.so.{soname}",
            "real_path": f"{libdir}/{kind}.so.{soname}",
            "kind": kind,
            "implementation": "openssl",
            "version": upstream,
            "version_text": f"OpenSSL {upstream}",
            "build_id": f"{index:08x}{kind}",
            "package": package,
            "package_version": pkg_version,
            "unpackaged": False,
        }
        for kind in ("libssl", "libcrypto")
    ]
    processes = []
    for pid in range(100, 100 + rng.randint(20, 60)):
        name, port = rng.choice(SERVICES)
        stale = rng.random() < 0.05
        processes.append(
            {
                "pid": pid,
                "comm": name or f"worker{pid % 7}",
                "service": f"{name}.service" if name else None,
                "container": None,
                "listening": [{"proto": "tcp", "address": ANY, "port": port}] if port else [],
                "libraries": [
                    {
                        "path": f"{libdir}/libcrypto.so.{soname}",
                        "kind": "libcrypto",
                        "stale": stale,
                        "deleted": stale,
                        "stale_reason": "deleted" if stale else None,
                        "version_text": "OpenSSL 3.0.18" if stale and soname == "3" else None,
                        "package_version": None,
                    }
                ],
                "stale": stale,
            }
        )
    facts = {
        "schema_version": 1,
        "collected_at": "2026-11-22T06:00:00Z",
        "privileged": True,
        "distro": {"id": distro},
        "libraries": libs,
        "packages": [
            {
                "name": package,
                "version": pkg_version,
                "upstream_version": upstream,
                "manager": manager,
                "candidate": pkg_version,
                "changelog": {
                    "path": "/usr/share/doc",
                    "cves": dict(data["cves"]),
                    "entries": data["entries"],
                    "trimmed": data["trimmed"],
                    "error": None,
                },
            }
        ],
        "processes": processes,
        "vendored": [],
        "runtimes": [],
        "cli": [],
    }
    if rng.random() < 0.2:
        facts["vendored"].append(
            {
                "path": f"/srv/app{index}/venv/lib/_rust.abi3.so",
                "implementation": "openssl",
                "version": rng.choice(VENDORED),
                "package": None,
            }
        )
    return facts


@pytest.fixture(scope="module")
def fleet():
    rng = random.Random(20261122)  # noqa: S311 - reproducible test data, not security
    return [synthetic_host(rng, i) for i in range(HOSTS)]


def test_fleet_assessment_is_real(fleet):
    assessor = assess.Assessor(vulndb.load_db(), TODAY)
    results = assessor.assess_many({f"host{i:05d}": f for i, f in enumerate(fleet)})
    summary = report.fleet_summary(results, generated_at=TODAY)
    assert summary["hosts_assessed"] == HOSTS
    # the results are real assessments, not shortcuts
    statuses = {s for r in results.values() for s, n in r["summary"]["findings"].items() if n}
    assert {"vulnerable", "fixed_by_backport", "unknown", "not_assessed"} <= statuses
    assert summary["restart_only_hosts"] or summary["ranking"][0]["score"] > 0


def test_assess_many_is_assess(fleet):
    assessor = assess.Assessor(vulndb.load_db(), TODAY)
    batch = assessor.assess_many({f"h{i}": f for i, f in enumerate(fleet[:30])}, fail_on="high")
    for i, facts in enumerate(fleet[:30]):
        assert batch[f"h{i}"] == assessor.assess(facts, f"h{i}", fail_on="high")


def test_results_do_not_share_mutable_state(fleet):
    assessor = assess.Assessor(vulndb.load_db(), TODAY)
    first = assessor.assess(fleet[0], "a")
    snapshot = json.dumps(first, sort_keys=True, default=str)
    for facts in fleet[1:50]:
        assessor.assess(facts, "b")
    assert json.dumps(first, sort_keys=True, default=str) == snapshot
