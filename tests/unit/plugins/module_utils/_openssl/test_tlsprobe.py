# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tlsprobe against real TLS servers on 127.0.0.1 (Python ssl servers in threads).

Certificates are generated per test session with the machine's `openssl` CLI.
"""

from __future__ import annotations

import datetime
import shutil
import socket
import ssl
import subprocess
import threading
import warnings
from pathlib import Path

import pytest
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import tlsprobe
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def _make_cert(directory: Path, name: str, days: int) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    args = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
    args += ["-out", str(cert), "-subj", "/CN=localhost/O=patchwise test"]
    args += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    if days < 0:  # an expired certificate: valid yesterday only
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
        end = start + datetime.timedelta(days=1)
        args += ["-not_before", start.strftime("%Y%m%d%H%M%SZ")]
        args += ["-not_after", end.strftime("%Y%m%d%H%M%SZ")]
    else:
        args += ["-days", str(days)]
    subprocess.run(args, check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    good = _make_cert(directory, "good", 30)
    try:
        expired = _make_cert(directory, "expired", -1)
    except subprocess.CalledProcessError:  # openssl < 3.4 has no -not_after
        expired = None
    return {"good": good, "expired": expired}


class _Server:
    """A TLS server on 127.0.0.1 that completes handshakes and answers one byte."""

    def __init__(self, cert, key, minimum=ssl.TLSVersion.TLSv1_2, legacy=False, http=False,
                 maximum=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if legacy:
                self.ctx.set_ciphers("ALL:@SECLEVEL=0")
                self.ctx.minimum_version = ssl.TLSVersion.TLSv1
            else:
                self.ctx.minimum_version = minimum
            if maximum is not None:
                self.ctx.maximum_version = maximum
        self.http = http
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _peer = self.sock.accept()
            except OSError:
                continue
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    if self.http:
                        tls.recv(4096)
                        tls.sendall(
                            b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n"
                        )
            except (OSError, ssl.SSLError):
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def server(certs):
    servers = []

    def start(**kwargs):
        cert, key = kwargs.pop("cert", certs["good"])
        srv = _Server(cert, key, **kwargs)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.close()


def test_modern_server_passes_and_refuses_legacy(server, certs):
    srv = server()
    ep = {
        "host": "127.0.0.1",
        "port": srv.port,
        "server_name": "localhost",
        "ca_file": str(certs["good"][0]),
    }
    result = tlsprobe.probe_endpoint(ep, timeout=3)
    assert result["handshake"] is True
    assert result["protocol"] == "TLSv1.3"
    assert result["cipher"]["name"].startswith("TLS_")
    assert result["certificate"]["subject"] == {
        "commonName": "localhost",
        "organizationName": "patchwise test",
    }
    assert result["certificate"]["subject_alt_names"] == ["DNS:localhost", "IP:127.0.0.1"]
    assert 28 <= result["certificate"]["days_left"] <= 30
    assert [p["protocol"] for p in result["legacy"]] == ["TLSv1", "TLSv1.1"]
    for probe in result["legacy"]:
        # This machine's OpenSSL offers TLS 1.0/1.1 at SECLEVEL=0: the server must refuse.
        assert probe["result"] in (tlsprobe.REFUSED, tlsprobe.UNTESTABLE)
        if tlsprobe.local_support(probe["protocol"])[0]:
            assert probe["result"] == tlsprobe.REFUSED
    assert result["passed"] is True
    assert result["failures"] == []


def test_legacy_server_fails_policy(server):
    if not tlsprobe.local_support("TLSv1")[0]:
        pytest.skip("the local library cannot offer TLSv1")
    srv = server(legacy=True)
    result = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False}, timeout=3
    )
    assert result["handshake"] is True
    tls1 = next(p for p in result["legacy"] if p["protocol"] == "TLSv1")
    assert tls1["result"] == tlsprobe.ACCEPTED
    assert result["passed"] is False
    assert any("TLSv1 accepted" in f for f in result["failures"])


def test_a_server_that_speaks_only_tls11_is_named_with_the_policy_minimum(server):
    """The default client refuses the server's TLS 1.1 with an obscure OpenSSL reason; the
    probe finds out and says which protocol the server speaks and what the policy wanted."""
    if not tlsprobe.local_support("TLSv1.1")[0]:
        pytest.skip("the local library cannot offer TLSv1.1")
    srv = server(legacy=True, maximum=ssl.TLSVersion.TLSv1_1)
    result = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False}, timeout=3
    )
    assert result["handshake"] is False and result["passed"] is False
    assert result["server_protocols"] == ["TLSv1", "TLSv1.1"]
    [failure] = result["failures"]
    assert failure.startswith(f"127.0.0.1:{srv.port}: handshake failed: ")
    assert failure.endswith(
        "; the server accepts only TLSv1, TLSv1.1, below the policy minimum TLSv1.2")
    assert [p["result"] for p in result["legacy"]] == [tlsprobe.ACCEPTED, tlsprobe.ACCEPTED]


def test_no_diagnosis_for_a_refused_connection_or_a_healthy_server(server):
    srv = server()
    ok = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False}, timeout=3)
    assert ok["server_protocols"] is None
    untrusted = tlsprobe.probe_endpoint({"host": "127.0.0.1", "port": srv.port}, timeout=3)
    assert untrusted["server_protocols"] is None and untrusted["legacy"] == []


def test_min_tls13_probes_tls12(server):
    srv = server()  # accepts TLS 1.2 and 1.3
    result = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False},
        min_protocol="TLSv1.3",
        timeout=3,
    )
    tls12 = next(p for p in result["legacy"] if p["protocol"] == "TLSv1.2")
    assert tls12["result"] == tlsprobe.ACCEPTED
    assert result["passed"] is False


def test_a_negotiated_protocol_below_the_minimum_names_the_minimum(server):
    srv = server(maximum=ssl.TLSVersion.TLSv1_2)  # speaks TLS 1.2 only
    result = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False},
        min_protocol="TLSv1.3", check_legacy=False, timeout=3,
    )
    assert result["protocol"] == "TLSv1.2"
    assert result["failures"] == [
        f"127.0.0.1:{srv.port}: negotiated TLSv1.2, below the policy minimum TLSv1.3"]


def test_self_signed_fails_verification_but_passes_without(server):
    srv = server()
    verified = tlsprobe.probe_endpoint({"host": "127.0.0.1", "port": srv.port}, timeout=3)
    assert verified["handshake"] is False
    assert "certificate verification failed" in verified["error"]
    unverified = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False}, timeout=3
    )
    assert unverified["handshake"] is True
    assert unverified["certificate"]["issuer"]["commonName"] == "localhost"


def test_expired_certificate_is_a_failure(server, certs):
    if certs["expired"] is None:
        pytest.skip("openssl CLI cannot back-date certificates")
    srv = server(cert=certs["expired"])
    result = tlsprobe.probe_endpoint(
        {"host": "127.0.0.1", "port": srv.port, "validate_certs": False}, timeout=3
    )
    assert result["certificate"]["expired"] is True
    assert any("certificate expired" in f for f in result["failures"])


def test_connection_refused_is_a_clear_error():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = tlsprobe.probe_endpoint({"host": "127.0.0.1", "port": port}, timeout=2)
    assert result["error"] == "connection refused"
    assert result["legacy"] == []
    assert result["failures"] == [f"127.0.0.1:{port}: handshake failed: connection refused"]


def test_unresolvable_host():
    result = tlsprobe.probe_endpoint({"host": "no-such-host.invalid", "port": 443}, timeout=2)
    assert result["passed"] is False
    assert "name resolution failed" in result["error"]


def test_untestable_when_library_cannot_offer(monkeypatch):
    monkeypatch.setattr(tlsprobe, "local_support", lambda p: (False, f"cannot offer {p}"))
    probe = tlsprobe.probe_legacy("127.0.0.1", 1, None, "TLSv1", timeout=1)
    assert probe == {"protocol": "TLSv1", "result": "untestable", "detail": "cannot offer TLSv1"}


def test_health_url(server, certs):
    srv = server(http=True)
    url = f"https://localhost:{srv.port}/healthz"
    good = tlsprobe.probe_http({"url": url, "status": 204, "ca_file": str(certs["good"][0])})
    assert good == {
        "url": url,
        "expected_status": 204,
        "status": 204,
        "passed": True,
        "error": None,
    }
    bad = tlsprobe.probe_http({"url": url, "validate_certs": False})
    assert bad["passed"] is False
    assert bad["error"] == "status 204, expected 200"
    assert tlsprobe.probe_http({"url": "ftp://x"})["error"].startswith("url must be")


def test_run_checks_aggregates(server):
    srv = server()
    report = tlsprobe.run_checks(
        [{"host": "127.0.0.1", "port": srv.port, "validate_certs": False}],
        [{"url": "http://127.0.0.1:1/"}],
        timeout=2,
    )
    assert report["endpoints"][0]["passed"] is True
    assert report["passed"] is False
    assert report["failures"] == ["http://127.0.0.1:1/: connection refused"]
    assert report["client_library"] == ssl.OPENSSL_VERSION


def test_protocols_below():
    assert tlsprobe.protocols_below("TLSv1.2") == ["TLSv1", "TLSv1.1"]
    assert tlsprobe.protocols_below("TLSv1.3") == ["TLSv1", "TLSv1.1", "TLSv1.2"]
    assert tlsprobe.protocols_below("bogus") == []


def test_decode_certificate_real_der(certs):
    der = ssl.PEM_cert_to_DER_cert(certs["good"][0].read_text())
    cert = tlsprobe.decode_certificate(der)
    assert cert["subject"]["commonName"] == "localhost"
    assert cert["not_after"].endswith("Z")
    assert cert["expired"] is False


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decode_certificate_never_raises(data):
    result = tlsprobe.decode_certificate(data)
    assert isinstance(result, dict)
    assert "error" in result or "subject" in result


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(min_size=1, max_size=200), where=st.integers(min_value=0, max_value=2000))
def test_decode_certificate_mutated_never_raises(certs, noise, where):
    # Flip bytes inside a real certificate structure.
    base = bytearray(ssl.PEM_cert_to_DER_cert(certs["good"][0].read_text()))
    for i, byte in enumerate(noise):
        base[(where + i) % len(base)] ^= byte
    result = tlsprobe.decode_certificate(bytes(base))
    assert isinstance(result, dict)
    assert result["sha256"]


def test_days_left_uses_now(certs):
    der = ssl.PEM_cert_to_DER_cert(certs["good"][0].read_text())
    first = tlsprobe.decode_certificate(der)
    not_after = datetime.datetime.strptime(first["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
    later = tlsprobe.decode_certificate(der, now=not_after + datetime.timedelta(days=3))
    assert later["expired"] is True
    assert later["days_left"] == -3
