# SPDX-License-Identifier: GPL-3.0-or-later
"""TLS policy from real Debian openssl.cnf files (fixtures/facts/policy, SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import policy
from hypothesis import given, settings
from hypothesis import strategies as st

FIX = Path(__file__).parents[3] / "fixtures" / "facts" / "policy"
FLAGS = "gcc -fPIC -DOPENSSL_TLS_SECURITY_LEVEL=2 -O2"


def reader(files: dict[str, str]):
    return files.get


def test_debian11_system_default() -> None:
    files = {"/usr/lib/ssl/openssl.cnf": (FIX / "debian11-openssl.cnf").read_text()}
    r = policy.gather("/usr/lib/ssl", None, read=reader(files), listdir=lambda p: [])
    assert r["min_protocol"] == "TLSv1.2"
    assert r["cipher_string"] == "DEFAULT@SECLEVEL=2"
    assert (r["seclevel"], r["seclevel_source"]) == (2, "openssl.cnf")


def test_debian12_uses_build_default() -> None:
    files = {"/usr/lib/ssl/openssl.cnf": (FIX / "debian12-openssl.cnf").read_text()}
    r = policy.gather("/usr/lib/ssl", FLAGS, read=reader(files), listdir=lambda p: [])
    assert r["min_protocol"] is None and r["cipher_string"] is None
    assert r["seclevel"] == 2
    assert r["seclevel_source"].startswith("build default")
    assert r["crypto_policy"] is None


def test_debian13_file_parses() -> None:
    files = {"/usr/lib/ssl/openssl.cnf": (FIX / "debian13-openssl.cnf").read_text()}
    r = policy.gather("/usr/lib/ssl", FLAGS, read=reader(files), listdir=lambda p: [])
    assert r["openssl_cnf"] is not None and r["seclevel"] == 2


def test_rhel_style_include_and_crypto_policy() -> None:
    """RHEL 9 layout: openssl.cnf includes the crypto-policies back-end (format as shipped)."""
    files = {
        "/etc/pki/tls/openssl.cnf": (
            "openssl_conf = openssl_init\n"
            ".include /etc/crypto-policies/back-ends/opensslcnf.config\n"
            "[openssl_init]\nssl_conf = ssl_module\n"
            "[ ssl_module ]\nsystem_default = crypto_policy\n"
        ),
        "/etc/crypto-policies/back-ends/opensslcnf.config": (
            "[ crypto_policy ]\nCipherString = @SECLEVEL=2:kEECDH:kRSA\n"
            "Ciphersuites = TLS_AES_256_GCM_SHA384\nMinProtocol = TLSv1.2\n"
        ),
        "/etc/crypto-policies/config": "# comment\nDEFAULT\n",
    }
    warnings: list[str] = []
    r = policy.gather("/etc/pki/tls", None, read=reader(files), listdir=_no_dir, warnings=warnings)
    assert (r["min_protocol"], r["seclevel"], r["crypto_policy"]) == ("TLSv1.2", 2, "DEFAULT")
    assert r["ciphersuites"] == "TLS_AES_256_GCM_SHA384"
    assert warnings == []


def _no_dir(path: str) -> list[str]:
    raise NotADirectoryError(path)


def test_include_directory_and_loop() -> None:
    files = {
        # as in OpenSSL, the section current at the end of an included file stays current
        "/c/openssl.cnf": "openssl_conf = init\n[init]\nssl_conf = s\n.include conf.d\n",
        "/c/conf.d/10.cnf": (
            "[s]\nsystem_default = d\n[d]\nMinProtocol = TLSv1.3\n.include /c/openssl.cnf\n"
        ),
    }

    def listdir(path: str) -> list[str]:
        if path == "/c/conf.d":
            return ["10.cnf", "README"]
        raise NotADirectoryError(path)

    warnings: list[str] = []
    sections = policy.parse_conf("/c/openssl.cnf", files.get, listdir, warnings)
    assert policy.system_default(sections) == {"MinProtocol": "TLSv1.3"}
    assert any("loop" in w for w in warnings)


@settings(max_examples=settings().max_examples * 3 // 2)
@given(st.text(max_size=400))
def test_property_conf(text: str) -> None:
    sections = policy.parse_conf("/x.cnf", {"/x.cnf": text}.get, _no_dir, [])
    assert "default" in sections
    policy.system_default(sections)
