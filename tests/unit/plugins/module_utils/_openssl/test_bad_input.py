# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input for every parser: nothing but the collection's own errors may escape.

One table (``CASES``) names every parser of plugins/module_utils/_openssl with the inputs it
is fed: recorded real outputs (tests/unit/fixtures, see the SOURCES.md files there) with random
edits - cuts, duplicated and swapped pieces, hostile pieces spliced in - and text assembled
from the format's own tokens and hostile pieces: digit runs longer than Python's int()
accepts, digits of other scripts (``int("²")`` fails), every line separator ``splitlines()``
knows, NUL bytes, lone surrogates, terminal escapes, JSON nested deeper than the recursion
limit. Structured inputs (CVE records, data.json, the database) are real documents with random
subtrees replaced. Each case states which errors it may raise (none, or a subclass of
``PatchwiseError``) and checks what it returns.

``test_every_parser_is_in_the_table`` keeps the table complete: a new ``parse_*`` function in
module_utils fails it until it has a case here.
"""

from __future__ import annotations

import copy
import errno
import gzip
import hashlib
import io
import json
import random
import re
import string
from pathlib import Path
from typing import Any, Callable

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    change_record,
    changelogs,
    debpack,
    elf,
    facts,
    initscripts,
    libraries,
    livepatch,
    packages,
    pkgops,
    pkgversions,
    policy,
    procscan,
    report,
    tlsprobe,
    versions,
    versiontext,
    vulndb,
    vulndb_build,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    DatabaseError,
    ParseError,
    PatchwiseError,
    VersionError,
)
from hypothesis import given, note, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[5]
FIX = REPO / "tests" / "unit" / "fixtures"
MODULE_UTILS = REPO / "plugins" / "module_utils" / "_openssl"
CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")
MAX_SEED = 3000  # characters of a large fixture one example sees (a random window)


# -- seeds: recorded outputs ---------------------------------------------------------------


def _text(*parts: str) -> str:
    path = FIX.joinpath(*parts)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def _texts(directory: str, pattern: str = "*") -> list[str]:
    return [_text(str(p.relative_to(FIX))) for p in sorted((FIX / directory).glob(pattern))]


def _json(*parts: str) -> Any:
    return json.loads(FIX.joinpath(*parts).read_text())


VERSION = _texts("facts/version", "*-version.txt")
VERSION_A = _texts("facts/version", "*-version-a.txt")
PROVIDERS = _texts("facts/version", "*-list-providers.txt")
MAPS = _texts("facts/proc", "*-maps.txt")
MAPS_LINES = [line for text in MAPS for line in text.splitlines()]
CGROUP = _texts("facts/cgroup")
NET = {
    name: _text(f"facts/proc/debian12-net-{name}.txt") for name in ("tcp", "tcp6", "udp", "udp6")
}
SOCKSTAT = _texts("facts/proc", "*-sockstat*.txt")
DEB_CHANGELOG = _texts("facts/changelog")
RPM_CHANGELOG = _texts("facts/rpm")
DPKG_ALL = [
    _text("facts/dpkg/debian12-dpkg-query-all.txt"),
    _text("pkgops/held/debian12-held-facts-query.txt"),
    _text("facts/dpkg/debian12-dpkg-query-want.txt"),
    _text("facts/dpkg/debian12-dpkg-query-want-held.txt"),
]
DPKG_S = [_text("facts/dpkg/debian12-dpkg-query-S.stdout")]
PID_FILES = [
    _text("initscripts/run/nginx.pid"),
    _text("initscripts/run/haproxy.pid"),
    _text("initscripts/run/apache2/apache2.pid"),
]
APT_CONFIG = [
    _text("facts/dpkg/debian12-apt-config-cache.txt"),
    _text("facts/dpkg/debian12-host-apt-config-no-cache.txt"),
]
APT_POLICY = [
    *_texts("pkgops", "*-apt-cache-policy.txt"),
    _text("facts/dpkg/debian12-apt-cache-policy.txt"),
]
DPKG_W = (
    _texts("pkgops", "*-dpkg-query-W.txt")
    + _texts("pkgops/unfinished", "*-dpkg-query-W.txt")
    + _texts("pkgops/held", "*-dpkg-query-W.txt")
)
# dpkg's status of a package: the ``${db:Status-Abbrev}`` column of those rows and the
# ``${Status}`` words of the recorded long-form queries.
DPKG_STATUS = sorted(
    {line.split("\t")[6] for text in DPKG_W for line in text.splitlines() if line.count("\t") >= 6}
    | {
        line.split("\t")[2]
        for text in _texts("pkgops/unfinished", "*-dpkg-query-status.txt")
        + _texts("pkgops/held", "*-dpkg-query-status.txt")
        for line in text.splitlines()
    }
)
APT_SIM = _texts("pkgops", "*-apt-get-s-*.txt") + _texts("pkgops/held", "*-apt-get-*.txt")
APT_UPDATE = _texts("pkgops", "*-apt-get-update-*.txt")
DNF = _texts("pkgops", "dnf-check-update-*.txt")
ZYPPER = _texts("pkgops", "zypper-*.xml") + _texts("pkgops/rpm", "zypper-xmlout-list-*.xml")
ZYPPER_DOWNLOAD = _texts("pkgops/rpm", "zypper-xmlout-download*.xml")
RPM_QP = _texts("pkgops/rpm", "rpm-qp*.txt")
DPKG_ERRORS = _texts("pkgops", "*-postinst-fails.*") + _texts("pkgops", "*-restore-*.txt")
LDCONFIG = _texts("facts/ldconfig")
OPENSSL_CNF = _texts("facts/policy")
CERT = (FIX / "tlsprobe" / "selfsigned-ec-san.der").read_bytes()
ELF = (FIX / "facts" / "elf" / "libcrypto-fixture.so.10").read_bytes()
RELEASE_METADATA = FIX / "vulndb" / "release-metadata"
SECJSON = sorted((RELEASE_METADATA / "secjson").glob("CVE-*.json"))
CVE_RECORDS = {p.name: json.loads(p.read_text()) for p in SECJSON}
DATA_JSON = _json("vulndb", "release-metadata", "data.json")
STATEMENTS = _json("vulndb", "release-metadata", "secjson", "statements.json")
SECADV = _texts("vulndb/release-metadata/secadv", "*.txt")
SOURCES_TXT = [_text("vulndb/release-metadata/SOURCES.txt")]
LEGACY_XML = gzip.decompress((FIX / "vulndb" / "legacy" / "vulnerabilities.xml.gz").read_bytes())
SHIPPED_DB = json.loads((REPO / "data" / "openssl_vulndb.json").read_text())
# a small valid database: the shipped branches and a handful of its records
SMALL_DB = {
    **{k: v for k, v in SHIPPED_DB.items() if k != "cves"},
    "cves": {k: SHIPPED_DB["cves"][k] for k in list(SHIPPED_DB["cves"])[-4:]},
}
DB_RECORDS = list(SHIPPED_DB["cves"].items())[::14]  # about 20 records of every era
# The formats of tools that do not run on the recording machine, as their sources print them
# (see test_livepatch.py and fixtures/facts/SOURCES.md): libcare-ctl info, ulp patches, a
# kcarectl/libcare-client JSON document, /var/cache/kcare/libcare_cvelist; rpm -qa with the
# query format of packages.RpmManager; /etc/os-release of Debian 12.
LIBCARE_CTL = (
    "pid=812 comm=nginx\n"
    "/usr/lib64/libcrypto.so.1.1.1k buildid=9f1b5c2e4ad0c0e4a1f4f1c1d2a7e8b9c0d1e2f3 patchlvl=3\n"
    "/usr/lib64/libc-2.28.so buildid=aa00bb11cc22dd33ee44ff5566778899aabbccdd patchlvl=1 latest=2\n"
    "pid=990 comm=sshd\n"
    "/usr/lib64/libcrypto.so.1.1.1k buildid=9f1b5c2e4ad0c0e4a1f4f1c1d2a7e8b9c0d1e2f3"
    " \x1b[31mVULNERABLE\x1b[0m\n"
)
ULP = (
    "PID: 1207, name: test\n"
    "  Livepatching status: enabled\n"
    "  Livepatchable libraries:\n"
    "    in /usr/lib64/libcrypto.so.3 (3b0cf5f4a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6):\n"
    "      livepatch: libcrypto_livepatch1.so loaded on Mon Sep  2 10:00:00 2024\n"
    "        bug labels: bsc#1229465 cve-2024-6119 \n"
    "    in /lib64/libc.so.6 (aabbccddeeff00112233445566778899aabbccdd):\n"
)
KCARE_JSON = json.dumps(
    {
        "result": [
            {"pid": 512, "comm": "cron", "objects": [{"buildid": "AB12", "patchlvl": "2"}]},
            {"pid": "613", "comm": "dbus", "buildid": "cd34", "cve": "CVE-2022-4450"},
        ]
    },
    indent=2,
)
CVELIST = "CVE-2023-0286\ncve-2022-4450\nCVE-2023-0286\n\n"
RPM_QA = (
    "openssl-libs\topenssl-3.0.7-27.el9.src.rpm\t1\t3.0.7\t27.el9\tx86_64\n"
    "openssl\topenssl-3.0.7-27.el9.src.rpm\t1\t3.0.7\t27.el9\tx86_64\n"
    "zlib\tzlib-1.2.11-40.el9.src.rpm\t0\t1.2.11\t40.el9\tx86_64\n"
)
OS_RELEASE = (
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
    'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
    'HOME_URL="https://www.debian.org/"\n'
)
STAT = "4242 (nginx: master) S 1 4242 4242 0 -1 4194560 125 0 0 0\n"
STATUS = "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nPPid:\t1\nUid:\t0\t0\t0\t0\n"
VERSIONS = sorted(
    {
        r[k]
        for rec in SHIPPED_DB["cves"].values()
        for r in rec["affected"]
        for k in ("introduced", "fixed", "last_affected")
        if r[k]
    }
)
PKG_VERSIONS = [
    "3.0.19-1~deb12u2",
    "1:3.0.7-28.el9_4",
    "1.1.1w-0+deb11u8",
    "3.5.7-1~deb13u3",
    "2:1.0.2k-25.el7_9",
    "1.1.1k-14.el8_6",
    "3.0.0~~alpha1-1",
    "0.9.8zh+dfsg-1",
]
STATUS_STANZA = (
    "Package: libssl3\nStatus: install ok installed\nPriority: optional\nSection: libs\n"
    "Installed-Size: 6176\nMaintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists>\n"
    "Architecture: amd64\nMulti-Arch: same\nSource: openssl\nVersion: 3.0.19-1~deb12u2\n"
    "Depends: libc6 (>= 2.34)\nDescription: Secure Sockets Layer toolkit - shared libraries\n"
    " This package is part of the OpenSSL project's implementation.\n"
)


# -- strategies ------------------------------------------------------------------------------
#
# Each input is made from one integer hypothesis draws, the seed of the random.Random that
# picks the sample and the edits: one draw per example keeps an example well under a
# millisecond, so the suite can afford a hundred thousand of them. A failing example is
# reported with its seed and the input it produced. A generator is a function of that
# random.Random.

# Pieces that broke, or could break, parsers written for well-formed input.
HOSTILE = [
    "9" * 4400,  # int() refuses more than 4300 digits
    "-" + "1" * 4301,
    "²",  # str.isdigit() is True, int() fails
    "³:",
    "٣",  # Arabic-Indic digit: \d matches, int() accepts
    "\U0001d7d8\U0001d7d9",  # mathematical double-struck digits
    "①",
    "\x00",
    "\ud800",  # lone surrogate (not encodable)
    "\x1b[31m",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
    "\t",
    "  ",
    "[" * 3000,  # deeper than the JSON decoder's recursion limit
    "{" * 1500 + '"a":' * 2,
    "(",
    ")",
    ":",
    "=",
    "-",
    "0x",
    "1e999",
    "NaN",
    "-0",
    "00000000000000000000",
    "ﬁ",  # a ligature: case and normalisation change its length
    "İ",
    "A" * 5000,
    " (deleted)",
    "CVE-2023-0286",
    "cve-9999-99999999",
]
SEPARATORS = ["\n", "\n", "\n", " ", "\t", "\r\n", "\x85", "\u2028", ""]
CHARS = string.printable + "äéßµ€\u00a0\u200b\ufeff"
SEED = st.integers(0, 2**64 - 1)
Gen = Callable[[random.Random], Any]


def choice(values: list[Any]) -> Gen:
    return lambda rng: rng.choice(values)


def both(*gens: Gen) -> Gen:
    """A tuple with one value of each generator."""
    return lambda rng: tuple(gen(rng) for gen in gens)


def either(*gens: Gen) -> Gen:
    return lambda rng: rng.choice(gens)(rng)


def encoded(gen: Gen) -> Gen:
    """Bytes of a generated text (lone surrogates kept, as undecodable /proc bytes would be)."""
    return lambda rng: gen(rng).encode("utf-8", "surrogatepass")


def _vocabulary(samples: list[str]) -> list[str]:
    """Tokens of the samples (words, numbers, punctuation runs), at most 400."""
    found: dict[str, None] = {}
    for text in samples:
        for token in re.findall(r"[A-Za-z_]+|[0-9]+|[^\sA-Za-z0-9_]+|\s+", text[:20000]):
            found.setdefault(token)
            if len(found) >= 400:
                return list(found)
    return list(found) or [""]


def _random_text(rng: random.Random, size: int) -> str:
    if rng.random() < 0.2:  # anywhere in Unicode, surrogates included
        return "".join(chr(rng.randrange(0x110000)) for _i in range(size))
    return "".join(rng.choice(CHARS) for _i in range(size))


def _piece(rng: random.Random, vocabulary: list[str]) -> str:
    kind = rng.randrange(10)
    if kind < 5:
        return rng.choice(vocabulary)
    if kind < 7:
        return rng.choice(HOSTILE)
    if kind < 9:
        return _random_text(rng, rng.randrange(1, 9))
    return rng.choice(SEPARATORS)


def _mutate(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    """1-4 edits: insert, delete, replace, duplicate a slice, or cut the rest."""
    for _i in range(rng.randrange(1, 5)):
        i = rng.randrange(len(text) + 1)
        j = rng.randrange(i, min(len(text), i + 300) + 1)
        op = rng.randrange(5)
        if op == 0:
            text = text[:i] + _piece(rng, vocabulary) + text[i:]
        elif op == 1:
            text = text[:i] + text[j:]
        elif op == 2:
            text = text[:i] + _piece(rng, vocabulary) + text[j:]
        elif op == 3:
            text = text[:j] + text[i:j] + text[i:]
        else:
            text = text[:i]
    return text


def texts(samples: list[str]) -> Gen:
    """Recorded outputs (a random window of a large one) with random edits, or text assembled
    from their tokens and hostile pieces."""
    vocabulary = _vocabulary(samples)

    def make(rng: random.Random) -> str:
        if rng.randrange(3) == 0:
            return "".join(_piece(rng, vocabulary) for _i in range(rng.randrange(41)))
        text = rng.choice(samples)
        if len(text) > MAX_SEED:
            start = rng.randrange(len(text) - MAX_SEED)
            text = text[start : start + MAX_SEED]
        return _mutate(rng, text, vocabulary)

    return make


def blobs(samples: list[bytes]) -> Gen:
    """Binary samples with random edits, or random bytes."""

    def make(rng: random.Random) -> bytes:
        if rng.randrange(4) == 0:
            return rng.randbytes(rng.randrange(301))
        data = rng.choice(samples)
        for _i in range(rng.randrange(1, 5)):
            i = rng.randrange(len(data) + 1)
            j = rng.randrange(i, min(len(data), i + 64) + 1)
            op = rng.randrange(4)
            if op == 0:
                data = data[:i] + rng.randbytes(rng.randrange(1, 17)) + data[j:]
            elif op == 1:
                data = data[:i] + data[j:]
            elif op == 2:
                data = data[:i] + bytes([rng.randrange(256)]) * (j - i) + data[j:]
            else:
                data = data[:i]
        return data

    return make


JSON_WORDS = [
    *VERSIONS[:40],
    "3.0",
    "1.1.1",
    "fips-1.1.2",
    "2026-02-30",
    "Apr 2026",
    "affected",
    "unaffected",
    "lessThan",
    "PUBLISHED",
    "CVE-2023-0286",
    "",
]


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 10**20, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan")])
    if kind in (4, 5):
        return rng.choice(JSON_WORDS)
    if kind == 6:
        return _random_text(rng, rng.randrange(12))
    if kind == 7:
        return [_json_value(rng, depth + 1) for _i in range(rng.randrange(4))]
    return {
        _random_text(rng, rng.randrange(6)): _json_value(rng, depth + 1)
        for _i in range(rng.randrange(4))
    }


def _nodes(doc: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every container entry of a JSON document."""
    found = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.append((*path, key))
            found.extend(_nodes(value, (*path, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.append((*path, index))
            found.extend(_nodes(value, (*path, index)))
    return found


def documents(samples: list[Any]) -> Gen:
    """Real JSON documents with 1-3 entries replaced by random JSON values, deleted or
    renamed; or a random JSON value."""
    paths = [_nodes(doc) for doc in samples]

    def make(rng: random.Random) -> Any:
        if rng.randrange(8) == 0:
            return _json_value(rng)
        index = rng.randrange(len(samples))
        doc, nodes = copy.deepcopy(samples[index]), paths[index]
        for edit in range(rng.randrange(1, 4)):
            if edit:  # the tree changed: walk it again
                nodes = _nodes(doc)
            if not nodes:
                return _json_value(rng)
            path = rng.choice(nodes)
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            op = rng.randrange(4)
            if op == 0 or (op == 3 and isinstance(parent, list)):
                parent[path[-1]] = _json_value(rng)
            elif op == 1:
                del parent[path[-1]]
            elif op == 2:
                parent[path[-1]] = _json_value(rng, depth=2)
            else:
                parent[_random_text(rng, rng.randrange(6))] = parent.pop(path[-1])
        return doc

    return make


# -- the table -------------------------------------------------------------------------------


class Case:
    """A parser, what it is fed, what it may raise, and what its result must satisfy."""

    def __init__(
        self,
        name: str,
        make: Gen,
        call: Callable[[Any], Any],
        raises: tuple[type[PatchwiseError], ...] = (),
        check: Callable[[Any, Any], bool | None] | None = None,
        covers: tuple[str, ...] = (),
        heavy: bool = False,
    ) -> None:
        self.name = name
        self.make = make
        self.call = call
        self.raises = raises
        self.check = check
        self.covers = covers or (name,)
        self.heavy = heavy  # costs several times a plain parser: fewer examples

    def __repr__(self) -> str:
        return self.name


def _check_version(text: str, result: versions.OpenSSLVersion) -> None:
    assert str(result) == text.strip()
    again = versions.OpenSSLVersion.parse(str(result))
    assert again == result and hash(again) == hash(result)
    assert result.release == result  # build markers do not take part in the order
    if not result.is_fips_module:
        assert versions.branch_sort_key(result.branch)


def _check_dpkg_rows(_text: str, result: list[dict[str, Any]]) -> None:
    for row in result:
        assert row["held"] in (True, False, None)


def _check_version_line(_text: str, result: dict[str, Any]) -> None:
    assert result["implementation"] in (
        "openssl",
        "libressl",
        "boringssl",
        "aws-lc",
        "quictls",
        "unknown",
    )
    assert all(isinstance(w, str) for w in result["warnings"])
    if result["version"] is not None:
        assert result["implementation"] in ("openssl", "quictls")
        assert result["series"] == versiontext.series_of(result["version"])


def _check_dpkg_status(_text: str, result: dict[str, Any]) -> None:
    assert result["state"] in pkgops.DPKG_STATES.values()
    assert result["want"] in pkgops.DPKG_WANTS.values()
    assert result["unfinished"] is (
        result["state"] in pkgops.UNFINISHED_STATES
        or (result["reinst_required"] and result["state"] not in ("not-installed", "config-files"))
    )


def _check_maps_line(line: str, result: dict[str, Any]) -> None:
    assert result["deleted"] == line.rstrip("\n").endswith(" (deleted)")
    assert isinstance(result["inode"], int) and len(result["perms"]) == 4


def _check_mappings(_text: str, result: list[dict[str, Any]]) -> None:
    for lib in result:
        assert lib["kind"] in ("libssl", "libcrypto") and lib["path"].startswith("/")


def _check_cgroup(_text: str, result: dict[str, Any]) -> None:
    assert result["service"] is None or result["service"].endswith((".service", ".scope"))


def _check_net(_text: Any, result: dict[int, dict[str, Any]]) -> None:
    for entry in result.values():
        assert 0 <= entry["port"] <= 65535


def _check_changelog(_text: str, result: dict[str, Any]) -> None:
    assert result["entries"] >= 1
    for cve, entry in result["cves"].items():
        assert CVE_ID.fullmatch(cve) and entry in result["cve_entries"][cve]


def _check_livepatch(_text: str, result: list[dict[str, Any]]) -> None:
    for record in result:
        assert isinstance(record["pid"], int) and record["pid"] >= 0
        assert all(CVE_ID.fullmatch(cve) for cve in record["cves"])


def _check_antisymmetric(compare: Callable[[str, str], int]) -> Callable[[Any, Any], None]:
    def check(pair: tuple[str, str], result: int) -> None:
        left, right = pair
        assert compare(left, left) == 0
        mirrored = compare(right, left)
        assert (result > 0) == (mirrored < 0) and (result == 0) == (mirrored == 0)

    return check


def _check_certificate(der: bytes, result: dict[str, Any]) -> None:
    if not der:
        assert result == {"error": "no certificate received"}
        return
    assert result["sha256"] == hashlib.sha256(der).hexdigest()
    assert ("error" in result) != ("not_after" in result and "days_left" in result)


def _check_record(_value: Any, result: dict[str, Any]) -> None:
    """A converted record either is valid or is refused, naming the field, by the validation
    the build runs on it."""
    try:
        vulndb.validate_record(result["id"], result, "converted")
    except DatabaseError as exc:
        assert "converted: cves." in str(exc)


def _cli_facts(outputs: tuple[str, str, str]) -> dict[str, Any]:
    version_a, version, providers = outputs

    def run(argv: list[str]) -> tuple[int, str, str]:
        return {
            "-a": (0, version_a, ""),
            "version": (0, version, ""),
            "-providers": (0, providers, ""),
        }[argv[-1]]

    return facts.cli_facts("/usr/bin/openssl", run, [])


def _livepatch_gather(outputs: tuple[str, str, str, str, str]) -> dict[str, Any]:
    version, lib_info, libcare, ulp, cvelist = outputs
    by_argv = {"--version": version, "--lib-info": lib_info, "info": libcare, "-b": ulp}
    paths = {
        "kcarectl": "/usr/bin/kcarectl",
        "libcare-ctl": "/usr/sbin/libcare-ctl",
        "ulp": "/usr/bin/ulp",
    }
    return livepatch.gather(
        lambda argv: (0, by_argv[argv[-1]], ""), paths.get, lambda path: cvelist, []
    )


def _policy(inputs: tuple[str, str]) -> dict[str, Any]:
    conf, flags = inputs

    def listdir(path: str) -> list[str]:
        raise FileNotFoundError(errno.ENOENT, path)

    files = {"/usr/lib/ssl/openssl.cnf": conf, "/etc/crypto-policies/config": conf}
    return policy.gather("/usr/lib/ssl", flags, read=files.get, listdir=listdir)


class _Stat:
    def __init__(self, ino: int) -> None:
        self.st_ino = ino
        self.st_dev = 0xFE00
        self.st_uid = 0


class _FakeProc(procscan.ProcReader):
    """A /proc with the scanner's own process (pid 1) and one hostile process (pid 4242)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__("/fakeproc")
        self.files = files

    def listdir(self) -> list[str]:
        return ["1", "4242", "self", "net"]

    def read_bytes(self, *parts: str) -> bytes:
        if parts[0] == "1":
            return b"systemd\n" if parts[-1] == "comm" else b""
        key = "/".join(parts[1:])
        if key not in self.files:
            raise FileNotFoundError(errno.ENOENT, key)
        return self.files[key]

    def readlink(self, *parts: str) -> str:
        key = "/".join(parts[1:])
        if key == "exe":
            return self.files.get("cmdline", b"").decode("utf-8", "replace")[:64] or "/x"
        if key.startswith("ns/"):
            return f"{parts[-1]}:[{4026531840 if parts[0] == '1' else 4026532000}]"
        raise FileNotFoundError(errno.ENOENT, key)

    def stat(self, *parts: str) -> Any:
        return _Stat(int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:6], 16))

    def stat_host(self, path: str) -> Any:
        return self.stat(path)

    def owner(self, pid: str) -> int:
        return 0

    def fd_count(self, pid: str) -> int:
        return 0

    def list_fds(self, pid: str) -> list[str]:
        raise PermissionError(errno.EACCES, "fd")


def _scan(files: dict[str, bytes]) -> dict[str, Any]:
    return procscan.Scanner(_FakeProc(files), self_pid=1, systemd=True).scan()


_PROC_FILES = {
    "maps": blobs([t.encode() for t in MAPS]),
    "stat": encoded(texts([STAT])),
    "status": encoded(texts([STATUS])),
    "cgroup": encoded(texts(CGROUP)),
    "cmdline": blobs([b"nginx: master process /usr/sbin/nginx\x00"]),
    "net/tcp": encoded(texts([NET["tcp"]])),
    "net/sockstat": encoded(texts(SOCKSTAT)),
    "net/udp": encoded(texts([NET["udp"]])),
}


def proc_files(rng: random.Random) -> dict[str, bytes]:
    return {name: gen(rng) for name, gen in _PROC_FILES.items()}


def _elf(blob: bytes) -> dict[str, Any]:
    fh = io.BytesIO(blob)
    info = elf.read_elf_info(fh)
    info["texts"] = elf.find_version_texts(io.BytesIO(blob))
    return info


def _tls_probe(exc: BaseException) -> dict[str, Any]:
    def connect(address: tuple, timeout: float) -> Any:
        raise exc

    return tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": 443, "validate_certs": False}, connect=connect
    )


EXCEPTIONS = st.builds(
    lambda kind, text: kind(text),
    st.sampled_from(
        [
            OSError,
            ConnectionRefusedError,
            ConnectionResetError,
            TimeoutError,
            ValueError,
            UnicodeError,
            BrokenPipeError,
        ]
    ),
    st.text(max_size=30),
) | st.builds(OSError, st.integers(0, 200), st.text(max_size=20))


def _branches(args: tuple[Any, Any]) -> dict[str, Any]:
    """What build_db does with data.json and statements.json."""
    data_json, statements = args
    statements = vulndb_build.check_statements(statements, Path("statements.json"))
    vulndb_build._disputed(statements, Path("statements.json"), {})
    return vulndb_build._branch_table(data_json, Path("data.json"), statements, {})


def _run_id(text: str) -> str | None:
    try:
        return change_record.validate_run_id(text)
    except change_record.ChangeRecordError:
        return None


CASES = [
    # versions
    Case(
        "OpenSSLVersion.parse",
        texts([*VERSIONS, "fips-1.1.2", "3.0.0-alpha17+quic"]),
        versions.OpenSSLVersion.parse,
        (VersionError,),
        _check_version,
        covers=("parse_version", "OpenSSLVersion.parse", "branch_of"),
    ),
    Case(
        "branch_first_release",
        texts(["3.0", "1.1.1", "0.9.8", "3.10", "fips-1.1"]),
        versions.branch_first_release,
        (VersionError,),
        lambda _t, r: isinstance(versions.OpenSSLVersion.parse(r), versions.OpenSSLVersion),
        covers=("branch_sort_key", "branch_first_release"),
    ),
    # openssl version / version -a / list -providers
    Case(
        "parse_version_line",
        texts(VERSION + VERSION_A),
        versiontext.parse_version_line,
        check=_check_version_line,
        covers=("parse_version_line", "series_of"),
    ),
    Case(
        "parse_version_text",
        texts(VERSION + VERSION_A),
        versiontext.parse_version_text,
        (ParseError,),
        _check_version_line,
    ),
    Case("parse_version_all", texts(VERSION_A), versiontext.parse_version_all),
    Case(
        "parse_providers",
        texts(PROVIDERS),
        versiontext.parse_providers,
        check=lambda _t, r: isinstance(versiontext.fips_active(r), bool),
    ),
    Case(
        "cli_facts",
        both(texts(VERSION_A), texts(VERSION), texts(PROVIDERS)),
        _cli_facts,
        check=lambda _t, r: (
            r["implementation"]
            in ("openssl", "libressl", "boringssl", "aws-lc", "quictls", "unknown")
        ),
    ),
    # /proc
    Case(
        "parse_maps_line",
        texts(MAPS_LINES),
        procscan.parse_maps_line,
        (ParseError,),
        _check_maps_line,
    ),
    Case("openssl_mappings", texts(MAPS), procscan.openssl_mappings, check=_check_mappings),
    Case("parse_cgroup", texts(CGROUP), procscan.parse_cgroup, check=_check_cgroup),
    Case(
        "parse_net_table",
        both(texts(list(NET.values())), choice(list(NET))),
        lambda args: procscan.parse_net_table(*args),
        check=_check_net,
    ),
    Case(
        "Scanner.scan",
        proc_files,
        _scan,
        check=lambda _f, r: all(isinstance(p["pid"], int) for p in r["processes"]),
        heavy=True,
    ),
    Case("parse_ldconfig", texts(LDCONFIG), libraries.parse_ldconfig),
    Case("parse_os_release", texts([OS_RELEASE]), facts.parse_os_release),
    # changelogs
    Case(
        "parse_debian_changelog",
        texts(DEB_CHANGELOG),
        changelogs.parse_debian_changelog,
        (ParseError,),
        _check_changelog,
    ),
    Case(
        "parse_rpm_changelog",
        texts(RPM_CHANGELOG),
        changelogs.parse_rpm_changelog,
        (ParseError,),
        _check_changelog,
    ),
    # live patching
    Case(
        "parse_libcare_ctl_info",
        texts([LIBCARE_CTL]),
        livepatch.parse_libcare_ctl_info,
        check=_check_livepatch,
    ),
    Case("parse_ulp_patches", texts([ULP]), livepatch.parse_ulp_patches, check=_check_livepatch),
    Case(
        "parse_json_records",
        texts([KCARE_JSON, KCARE_JSON.replace("\n", "")]),
        lambda text: livepatch.parse_json_records(text, "kcarectl", []),
        check=_check_livepatch,
    ),
    Case(
        "parse_cvelist",
        texts([CVELIST]),
        livepatch.parse_cvelist,
        check=lambda _t, r: all(CVE_ID.fullmatch(c) for c in r),
    ),
    Case(
        "livepatch.gather",
        both(
            texts(["kcarectl 2.80-1\n"]),
            texts([KCARE_JSON]),
            texts([LIBCARE_CTL]),
            texts([ULP]),
            texts([CVELIST]),
        ),
        _livepatch_gather,
        check=lambda _t, r: all(CVE_ID.fullmatch(c) for c in r["cves"]),
        heavy=True,
    ),
    # package managers (facts)
    Case(
        "packages.parse_dpkg_query",
        texts(DPKG_ALL),
        packages.parse_dpkg_query,
        covers=("parse_dpkg_query", "split_evr"),
        check=_check_dpkg_rows,
    ),
    Case("parse_dpkg_search", texts(DPKG_S), packages.parse_dpkg_search),
    Case(
        "parse_pid_file",
        texts(PID_FILES),
        initscripts.parse_pid_file,
        check=lambda _t, r: all(0 < p <= initscripts.PID_MAX for p in r),
    ),
    Case("parse_apt_policy", texts(APT_POLICY), packages.parse_apt_policy),
    Case(
        "parse_apt_config_shell",
        texts(APT_CONFIG),
        packages.parse_apt_config_shell,
        check=lambda _t, r: all(isinstance(k, str) and isinstance(v, str) for k, v in r.items()),
    ),
    Case("parse_rpm_query", texts([RPM_QA]), packages.parse_rpm_query),
    # package managers (patching)
    Case("pkgops.parse_dpkg_query", texts(DPKG_W), pkgops.parse_dpkg_query, (ParseError,)),
    Case("parse_apt_cache_policy", texts(APT_POLICY), pkgops.parse_apt_cache_policy, (ParseError,)),
    Case(
        "parse_dpkg_status",
        texts(DPKG_STATUS),
        pkgops.parse_dpkg_status,
        (ParseError,),
        check=_check_dpkg_status,
    ),
    Case("parse_apt_get_simulate", texts(APT_SIM), pkgops.parse_apt_get_simulate),
    Case("parse_apt_update", texts(APT_UPDATE), pkgops.parse_apt_update),
    Case("parse_dnf_check_update", texts(DNF), pkgops.parse_dnf_check_update),
    Case("parse_zypper_updates", texts(ZYPPER), pkgops.parse_zypper_updates, (ParseError,)),
    Case(
        "parse_zypper_download", texts(ZYPPER_DOWNLOAD), pkgops.parse_zypper_download, (ParseError,)
    ),
    Case(
        "parse_rpm_qp",
        texts(RPM_QP),
        pkgops.parse_rpm_qp,
        (ParseError,),
        check=lambda _t, r: all(r.values()) and not r["version"].startswith("0:"),
    ),
    Case(
        "parse_dpkg_errors",
        texts(DPKG_ERRORS),
        pkgops.parse_dpkg_errors,
        check=lambda _t, r: all(isinstance(e, str) and e for e in r),
    ),
    Case("upstream_branch", texts(PKG_VERSIONS), pkgops.upstream_branch),
    # package versions
    Case(
        "dpkg_compare",
        both(texts(PKG_VERSIONS), texts(PKG_VERSIONS)),
        lambda pair: pkgversions.dpkg_compare(*pair),
        check=_check_antisymmetric(pkgversions.dpkg_compare),
        covers=("dpkg_compare", "pkgversions.split_evr"),
    ),
    Case(
        "rpm_compare",
        both(texts(PKG_VERSIONS), texts(PKG_VERSIONS)),
        lambda pair: pkgversions.rpm_compare(*pair),
        check=_check_antisymmetric(pkgversions.rpm_compare),
    ),
    Case(
        "compare_deb_versions",
        both(texts(PKG_VERSIONS), texts(PKG_VERSIONS)),
        lambda pair: pkgversions.compare_deb_versions(*pair),
        (ParseError,),
        covers=("compare_deb_versions", "split_deb_version"),
    ),
    Case(
        "package_compare",
        both(choice(["dpkg", "rpm", None]), texts(PKG_VERSIONS), texts(PKG_VERSIONS)),
        lambda args: pkgversions.package_compare(*args),
    ),
    Case("upstream_of_package_version", texts(PKG_VERSIONS), assess.upstream_of_package_version),
    # OpenSSL configuration
    Case(
        "policy.gather",
        both(texts(OPENSSL_CNF), texts(VERSION_A)),
        _policy,
        covers=("parse_conf", "seclevel_from_flags", "policy.gather"),
    ),
    # ELF files
    Case(
        "read_elf_info",
        blobs([ELF[:4096], ELF]),
        _elf,
        (ParseError,),
        covers=("read_elf_info", "find_version_texts"),
    ),
    # TLS probe: the certificate the server sends, the errors a handshake raises
    Case(
        "decode_certificate", blobs([CERT]), tlsprobe.decode_certificate, check=_check_certificate
    ),
    Case("protocols_below", texts(["TLSv1.2", "TLSv1.3", "TLSv1"]), tlsprobe.protocols_below),
    # vulnerability data
    Case(
        "parse_db",
        either(texts([json.dumps(SMALL_DB)]), lambda rng: json.dumps(documents([SMALL_DB])(rng))),
        vulndb.parse_db,
        (DatabaseError,),
        heavy=True,
    ),
    Case("validate_db", documents([SMALL_DB]), vulndb.validate_db, (DatabaseError,), heavy=True),
    Case(
        "validate_record",
        both(choice([k for k, _v in DB_RECORDS]), documents([v for _k, v in DB_RECORDS])),
        lambda args: vulndb.validate_record(*args),
        (DatabaseError,),
    ),
    Case(
        "convert_record",
        both(choice(sorted(CVE_RECORDS)), documents(list(CVE_RECORDS.values()))),
        lambda args: vulndb_build.convert_record(Path(args[0]), args[1], {}),
        (DatabaseError,),
        _check_record,
    ),
    Case(
        "data.json and statements.json",
        both(documents([DATA_JSON]), documents([STATEMENTS])),
        _branches,
        (DatabaseError,),
        covers=("check_statements", "_branch_table", "_disputed"),
    ),
    Case(
        "parse_upstream_date",
        texts(["14 Apr 2026", "Oct 2027", "2026-04-14", "1st Sep 2023"]),
        vulndb_build.parse_upstream_date,
        (DatabaseError,),
    ),
    Case("parse_sources_file", texts(SOURCES_TXT), vulndb_build.parse_sources_file),
    Case(
        "advisory_facts",
        texts(SECADV),
        lambda text: [
            vulndb_build.advisory_facts(s) for s in vulndb_build._advisory_sections(text).values()
        ],
        covers=("advisory_facts", "_advisory_sections"),
    ),
    Case(
        "legacy XML",
        blobs([LEGACY_XML[:4000], LEGACY_XML]),
        lambda blob: vulndb_build._safe_xml(blob, "vulnerabilities.xml"),
        (DatabaseError,),
        covers=("_safe_xml",),
    ),
    # Debian package repacking (rollback points)
    Case(
        "parse_status_stanza",
        texts([STATUS_STANZA]),
        debpack.parse_status_stanza,
        (debpack.RepackError,),
    ),
    Case(
        "read_ar",
        blobs(
            [
                debpack.write_ar(
                    [("debian-binary", b"2.0\n"), ("control.tar.gz", b"\x1f\x8b" + b"\0" * 30)]
                )
            ]
        ),
        debpack.read_ar,
        (debpack.RepackError,),
    ),
    Case(
        "gunzip_tar_names",
        blobs([b"\x1f\x8b\x08\x00" + b"\0" * 20]),
        debpack.gunzip_tar_names,
        (debpack.RepackError,),
    ),
    # names that become file names
    Case(
        "run ids and file names",
        texts(["20261122T071500Z-3f9a1c", "web-01.example.com"]),
        lambda text: (
            change_record.safe_filename(text),
            report.safe_filename(text),
            pkgops.valid_run_id(text),
            _run_id(text),
        ),
        check=lambda _t, r: "/" not in r[0] and "/" not in r[1],
        covers=("safe_filename", "validate_run_id", "valid_run_id"),
    ),
    Case("parse_today", texts(["2026-11-22", "today"]), assess.parse_today, (assess.AssessError,)),
]


def _short_repr(value: Any) -> str:
    """repr() for a failure message, bounded; integers past Python's digit limit included."""
    try:
        return repr(value)[:2000]
    except ValueError:  # an int with more than sys.get_int_max_str_digits() digits
        return f"<{type(value).__name__} too long to print>"


def _run(case: Case, seed: int) -> None:
    value = case.make(random.Random(seed))  # noqa: S311 - test data, not cryptography
    note(f"input: {value!r}"[:4000])
    try:
        result = case.call(value)
    except case.raises as exc:
        assert str(exc)  # a message the user can act on
        return
    if case.check is not None:
        # a check either asserts itself (returns None) or returns whether the result holds
        verdict = case.check(value, result)
        if verdict is not None and verdict is not True:
            pytest.fail(f"{case.name}: check failed for {_short_repr(result)}")


@pytest.mark.parametrize("case", [c for c in CASES if not c.heavy], ids=repr)
@settings(max_examples=settings().max_examples * 3 // 2)
@given(seed=SEED)
def test_bad_input(case: Case, seed: int) -> None:
    _run(case, seed)


@pytest.mark.parametrize("case", [c for c in CASES if c.heavy], ids=repr)
@settings(max_examples=settings().max_examples // 2)
@given(seed=SEED)
def test_bad_input_costly(case: Case, seed: int) -> None:
    _run(case, seed)


def test_every_parser_is_in_the_table() -> None:
    """Each public ``parse_*`` function of module_utils has a case above."""
    covered = {name.rsplit(".", 1)[-1] for case in CASES for name in case.covers}
    missing = []
    for path in sorted(MODULE_UTILS.glob("*.py")):
        for name in re.findall(r"^def (parse_\w+)\(", path.read_text(), re.MULTILINE):
            if name not in covered:
                missing.append(f"{path.name}: {name}")
    assert missing == []


@settings(max_examples=settings().max_examples // 2)
@given(EXCEPTIONS)
def test_tls_probe_errors_become_failures(exc: BaseException) -> None:
    """Whatever the connection raises, the probe reports a failed check with a message."""
    result = _tls_probe(exc)
    assert result["passed"] is False and result["handshake"] is False
    assert isinstance(result["error"], str) and result["error"]
    assert result["failures"] == [f"127.0.0.1:443: handshake failed: {result['error']}"]


# -- the inputs that escaped before, as plain examples ---------------------------------------


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    head = bytes([size]) if size < 128 else bytes([0x82, size >> 8, size & 0xFF])
    return bytes([tag]) + head + body


def _certificate_valid_until(generalized_time: bytes) -> bytes:
    """The fields decode_certificate reads, with a GeneralizedTime validity."""
    name = _der(0x30, _der(0x31, _der(0x30, _der(0x06, b"\x55\x04\x03") + _der(0x0C, b"x"))))
    validity = _der(0x30, _der(0x18, generalized_time) + _der(0x18, generalized_time))
    tbs = _der(
        0x30,
        _der(0xA0, _der(0x02, b"\x02"))
        + _der(0x02, b"\x01")
        + _der(0x30, b"")
        + name
        + validity
        + name
        + _der(0x30, b""),
    )
    return _der(0x30, tbs + _der(0x30, b"") + _der(0x03, b"\x00"))


def _ar_with_size(size: bytes) -> bytes:
    header = b"control.tar.gz".ljust(16) + b"0".ljust(12) + b"0".ljust(6) * 2 + b"100644".ljust(8)
    return b"!<arch>\n" + header + size.ljust(10) + b"`\n"


def _legacy_xml(tmp_path: Path, raw: bytes) -> Any:
    path = tmp_path / "vulnerabilities.xml.gz"
    path.write_bytes(raw)
    return vulndb_build.load_legacy_xml(path)


def _record_with(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    record = copy.deepcopy(CVE_RECORDS["CVE-2014-0160.json"])
    mutate(record["containers"]["cna"])
    return vulndb_build.convert_record(Path("CVE-2014-0160.json"), record, {})


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        # a branch name with a leading zero is no branch ("03.0" named a branch no version has)
        (lambda _t: versions.branch_sort_key("03.0"), VersionError, None),
        # JSON nested deeper than the decoder's recursion limit: not JSON
        (lambda _t: livepatch.parse_json_records("[" * 3000, "kcarectl", []), None, []),
        (lambda _t: vulndb.parse_db("[" * 3000), DatabaseError, None),
        # pids and patch levels longer than int() converts: the line is not a record
        (lambda _t: livepatch.parse_libcare_ctl_info("pid=" + "1" * 4400 + " comm=x\n"), None, []),
        (lambda _t: livepatch.parse_ulp_patches("PID: " + "1" * 4400 + ", name: x\n"), None, []),
        # "²" passes str.isdigit(), int() refuses it; epochs of 4400 digits
        (lambda _t: pkgversions.dpkg_compare("²:1.1", "1.0"), None, 1),
        (lambda _t: pkgversions.split_evr("9" * 4400 + ":1.0-1"), None, (0, "1.0", "1")),
        (lambda _t: packages.split_evr("²:1.0-1")["epoch"], None, None),
        (lambda _t: pkgversions.compare_deb_versions("9" * 4400 + ":1.0", "1.0"), ParseError, None),
        # rpm version segments longer than int() converts are compared as rpm does
        (lambda _t: pkgversions.rpm_compare("1" * 4400, "2" * 4399), None, 1),
        (lambda _t: pkgversions.rpm_compare("0" * 4400 + "7", "7"), None, 0),
        # package manager outputs
        (
            lambda _t: pkgops.parse_apt_cache_policy("p:\n  Installed: 1\n  1 " + "9" * 4400),
            ParseError,
            None,
        ),
        (lambda _t: pkgops.parse_zypper_updates("<stream>\ud800</stream>"), ParseError, None),
        # an ar member of negative size looped for ever; a corrupt gzip member
        (lambda _t: debpack.read_ar(_ar_with_size(b"-60")), debpack.RepackError, None),
        (
            lambda _t: debpack.gunzip_tar_names(b"\x1f\x8b\x08\x00" + b"\x00" * 20),
            debpack.RepackError,
            None,
        ),
        # a certificate valid until the year 0001: decoded, expired
        (
            lambda _t: tlsprobe.decode_certificate(_certificate_valid_until(b"00010101000000Z"))[
                "expired"
            ],
            None,
            True,
        ),
        # CVE records whose parts have the wrong type name the field
        (
            lambda _t: _record_with(lambda cna: cna["descriptions"][0].update(lang=["en"]))[
                "title"
            ],
            None,
            "(no title)",
        ),
        (
            lambda _t: _record_with(lambda cna: cna["metrics"][0].update(other=None)),
            DatabaseError,
            None,
        ),
        (
            lambda _t: _record_with(lambda cna: cna.update(references={"url": "x"})),
            DatabaseError,
            None,
        ),
        (
            lambda _t: _record_with(lambda cna: cna["references"][0].update(tags=7)),
            DatabaseError,
            None,
        ),
        (
            lambda _t: vulndb_build.check_statements({"disputed": None}, "statements.json"),
            DatabaseError,
            None,
        ),
        # the legacy XML: a corrupt gzip stream, an encoding expat does not know
        (
            lambda t: _legacy_xml(t, gzip.compress(LEGACY_XML)[:-12] + b"\xff" * 12),
            DatabaseError,
            None,
        ),
        (
            lambda t: _legacy_xml(t, b'<?xml version="1.0" encoding="foo"?><security/>'),
            DatabaseError,
            None,
        ),
    ],
)
def test_inputs_that_escaped_before(
    tmp_path: Path, call: Callable[[Path], Any], error: type[PatchwiseError] | None, expected: Any
) -> None:
    if error is not None:
        with pytest.raises(error) as info:
            call(tmp_path)
        assert str(info.value)
        return
    result = call(tmp_path)
    assert result == expected or (isinstance(expected, int) and result * expected > 0)
