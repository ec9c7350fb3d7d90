# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real TLS handshakes against endpoints, legacy-protocol refusal checks, HTTP health probes.

Standard library only (``ssl``, ``socket``, ``http.client``); runs on Python 3.9+ on a managed
host or on the controller. Every probe returns a plain dict; nothing here raises for network
or TLS failures, those become ``error`` strings in the result.

Legacy protocols (TLS 1.0/1.1) are probed with a context pinned to exactly that version and
``@SECLEVEL=0``, because OpenSSL 3 refuses to offer them at its default security level. When
the local library cannot even produce a ClientHello for a version (built without it, or a
crypto policy forbids it), the result is ``untestable`` rather than ``refused``: a refusal must
come from the server.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import ipaddress
import socket
import ssl
import time
import warnings
from typing import Any, Callable
from urllib.parse import urlsplit

PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Protocols this module can probe for refusal (SSLv3 is gone from every current OpenSSL build).
LEGACY_PROBES = ("TLSv1", "TLSv1.1", "TLSv1.2")

REFUSED = "refused"
ACCEPTED = "accepted"
UNTESTABLE = "untestable"
ERROR = "error"

Connector = Callable[[tuple, float], socket.socket]

# OpenSSL reasons that mean "the local library will not offer this protocol at all".
_LOCAL_REFUSAL_MARKERS = (
    "NO_PROTOCOLS_AVAILABLE",
    "no protocols available",
    "NO_CIPHERS_AVAILABLE",
    "no ciphers available",
)


def _tls_version(name: str) -> ssl.TLSVersion:
    return {
        "TLSv1": ssl.TLSVersion.TLSv1,
        "TLSv1.1": ssl.TLSVersion.TLSv1_1,
        "TLSv1.2": ssl.TLSVersion.TLSv1_2,
        "TLSv1.3": ssl.TLSVersion.TLSv1_3,
    }[name]


def protocols_below(minimum: str) -> list[str]:
    """Protocols this module can probe that are older than ``minimum``."""
    if minimum not in PROTOCOLS:
        return []
    return [p for p in LEGACY_PROBES if PROTOCOLS.index(p) < PROTOCOLS.index(minimum)]


# --- certificate decoding (a small DER reader; getpeercert() is empty without verification) ---

_OID_NAMES = {
    "2.5.4.3": "commonName",
    "2.5.4.6": "countryName",
    "2.5.4.7": "localityName",
    "2.5.4.8": "stateOrProvinceName",
    "2.5.4.10": "organizationName",
    "2.5.4.11": "organizationalUnitName",
    "1.2.840.113549.1.9.1": "emailAddress",
}
_OID_SAN = "2.5.29.17"


class _DerError(ValueError):
    pass


def _der_read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of content, end of content) of the TLV at ``pos``."""
    if pos + 2 > len(data):
        raise _DerError("truncated")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise _DerError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise _DerError("truncated content")
    return tag, pos, pos + length


def _der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    items = []
    pos = start
    while pos < end:
        tag, cstart, cend = _der_read(data, pos)
        items.append((tag, cstart, cend))
        pos = cend
    return items


def _oid(raw: bytes) -> str:
    if not raw:
        raise _DerError("empty oid")
    parts = [raw[0] // 40, raw[0] % 40]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _der_time(tag: int, raw: bytes) -> str:
    text = raw.decode("ascii")
    fmt = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"
    parsed = datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
    # isoformat() writes four-digit years; strftime("%Y") gives "1" for the year 0001, which
    # strptime() refuses when the expiry is computed
    return parsed.isoformat().replace("+00:00", "Z")


def _name(data: bytes, start: int, end: int) -> dict[str, str]:
    result: dict[str, str] = {}
    for _set_tag, sstart, send in _der_children(data, start, end):
        for _seq_tag, astart, aend in _der_children(data, sstart, send):
            parts = _der_children(data, astart, aend)
            if len(parts) < 2:
                continue
            oid = _oid(data[parts[0][1] : parts[0][2]])
            value = data[parts[1][1] : parts[1][2]].decode("utf-8", "replace")
            key = _OID_NAMES.get(oid, oid)
            result[key] = f"{result[key]}, {value}" if key in result else value
    return result


def _san(data: bytes, start: int, end: int) -> list[str]:
    """DNS names and IP addresses of a subjectAltName extension value (OCTET STRING content)."""
    names = []
    _tag, gstart, gend = _der_read(data, start)
    for tag, cstart, cend in _der_children(data, gstart, gend):
        raw = data[cstart:cend]
        if tag == 0x82:
            names.append("DNS:" + raw.decode("ascii", "replace"))
        elif tag == 0x87 and len(raw) in (4, 16):
            names.append("IP:" + str(ipaddress.ip_address(raw)))
    return names


def _extensions(data: bytes, start: int, end: int) -> list[str]:
    _tag, estart, eend = _der_read(data, start)
    for _t, xstart, xend in _der_children(data, estart, eend):
        parts = _der_children(data, xstart, xend)
        if parts and _oid(data[parts[0][1] : parts[0][2]]) == _OID_SAN:
            value = parts[-1]
            return _san(data, value[1], value[2])
    return []


def decode_certificate(der: bytes | None, now: datetime.datetime | None = None) -> dict[str, Any]:
    """Subject, issuer, validity, SAN and SHA-256 fingerprint of a DER certificate.

    Never raises: an undecodable certificate gives ``{"error": ...}`` with the fingerprint.
    """
    if not der:
        return {"error": "no certificate received"}
    result: dict[str, Any] = {"sha256": hashlib.sha256(der).hexdigest()}
    try:
        _tag, cstart, cend = _der_read(der, 0)
        _tag, tstart, tend = _der_children(der, cstart, cend)[0]
        fields = _der_children(der, tstart, tend)
        if fields and fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        # serial, signature algorithm, issuer, validity, subject, public key, [extensions]
        result["issuer"] = _name(der, fields[2][1], fields[2][2])
        validity = _der_children(der, fields[3][1], fields[3][2])
        result["not_before"] = _der_time(validity[0][0], der[validity[0][1] : validity[0][2]])
        result["not_after"] = _der_time(validity[1][0], der[validity[1][1] : validity[1][2]])
        result["subject"] = _name(der, fields[4][1], fields[4][2])
        ext = [f for f in fields[6:] if f[0] == 0xA3]
        result["subject_alt_names"] = _extensions(der, ext[0][1], ext[0][2]) if ext else []
    except (_DerError, IndexError, ValueError, UnicodeDecodeError) as exc:
        result["error"] = f"certificate could not be decoded: {exc}"
        return result
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = datetime.datetime.strptime(result["not_after"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc
    )
    result["days_left"] = (not_after - now).days
    result["expired"] = not_after < now
    return result


# --- contexts ----------------------------------------------------------------------------------


def client_context(
    verify: bool = True,
    ca_file: str | None = None,
    minimum: str | None = None,
    maximum: str | None = None,
    seclevel0: bool = False,
) -> ssl.SSLContext:
    """A client context; pinned to ``minimum``..``maximum`` when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        if ca_file:
            ctx.load_verify_locations(cafile=ca_file)
        else:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Python 3.10+ deprecates TLSVersion.TLSv1/1.1; probing them is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        if seclevel0:
            # The library's defaults (seclevel >= 1, crypto policies) forbid TLS 1.0/1.1.
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        if minimum:
            ctx.minimum_version = _tls_version(minimum)
        if maximum:
            ctx.maximum_version = _tls_version(maximum)
    return ctx


def local_support(protocol: str) -> tuple[bool, str]:
    """Can the local library produce a ClientHello for exactly ``protocol``?"""
    try:
        ctx = client_context(verify=False, minimum=protocol, maximum=protocol, seclevel0=True)
    except (ssl.SSLError, ValueError) as exc:
        return False, f"the local TLS library refuses to configure {protocol}: {exc}"
    obj = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="probe.invalid")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return True, ""  # ClientHello written, waiting for the server: the library can offer it
    except ssl.SSLError as exc:
        return (
            False,
            f"the local TLS library cannot offer {protocol} ({ssl.OPENSSL_VERSION}): {exc}",
        )
    return True, ""


# --- handshakes --------------------------------------------------------------------------------


def _default_connect(address: tuple, timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout=timeout)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {exc.verify_message or exc}"
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"name resolution failed: {exc}"
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def _handshake(
    host: str,
    port: int,
    server_name: str | None,
    ctx: ssl.SSLContext,
    timeout: float,
    connect: Connector,
) -> dict[str, Any]:
    sock = connect((host, port), timeout)
    try:
        sock.settimeout(timeout)
        with ctx.wrap_socket(sock, server_hostname=server_name or None) as tls:
            cipher = tls.cipher()
            return {
                "protocol": tls.version(),
                "cipher": {"name": cipher[0], "protocol": cipher[1], "bits": cipher[2]}
                if cipher
                else None,
                "der": tls.getpeercert(binary_form=True),
            }
    finally:
        sock.close()


def probe_legacy(
    host: str,
    port: int,
    server_name: str | None,
    protocol: str,
    timeout: float = 5.0,
    connect: Connector = _default_connect,
) -> dict[str, Any]:
    """Try a handshake pinned to ``protocol``; the server must refuse it."""
    supported, reason = local_support(protocol)
    if not supported:
        return {"protocol": protocol, "result": UNTESTABLE, "detail": reason}
    ctx = client_context(verify=False, minimum=protocol, maximum=protocol, seclevel0=True)
    try:
        got = _handshake(host, port, server_name, ctx, timeout, connect)
    except ssl.SSLError as exc:
        text = str(exc)
        if any(marker in text for marker in _LOCAL_REFUSAL_MARKERS):
            return {"protocol": protocol, "result": UNTESTABLE, "detail": text}
        return {"protocol": protocol, "result": REFUSED, "detail": text}
    except (ConnectionResetError, BrokenPipeError, EOFError) as exc:
        # A server that drops the connection on a ClientHello it does not accept refuses too.
        return {"protocol": protocol, "result": REFUSED, "detail": _describe(exc)}
    except OSError as exc:
        return {"protocol": protocol, "result": ERROR, "detail": _describe(exc)}
    return {
        "protocol": protocol,
        "result": ACCEPTED,
        "detail": f"server completed a {got['protocol']} handshake with {got['cipher']['name']}"
        if got.get("cipher")
        else f"server completed a {got['protocol']} handshake",
    }


def probe_endpoint(
    endpoint: dict[str, Any],
    min_protocol: str = "TLSv1.2",
    check_legacy: bool = True,
    timeout: float = 5.0,
    connect: Connector = _default_connect,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """Handshake with one endpoint and check its protocol policy.

    ``endpoint``: ``host`` (required), ``port`` (443), ``server_name`` (SNI; defaults to host),
    ``ca_file``, ``validate_certs`` (True), ``min_protocol`` (overrides the argument).
    """
    host = str(endpoint.get("host") or "")
    port = int(endpoint.get("port") or 443)
    server_name = endpoint.get("server_name") or endpoint.get("sni") or host
    verify = bool(endpoint.get("validate_certs", True))
    minimum = endpoint.get("min_protocol") or min_protocol
    started = time.monotonic()
    result: dict[str, Any] = {
        "host": host,
        "port": port,
        "server_name": server_name,
        "validate_certs": verify,
        "min_protocol": minimum,
        "protocol": None,
        "cipher": None,
        "certificate": None,
        "handshake": False,
        "legacy": [],
        "server_protocols": None,
        "failures": [],
        "error": None,
    }
    try:
        ctx = client_context(verify=verify, ca_file=endpoint.get("ca_file"))
        got = _handshake(host, port, server_name, ctx, timeout, connect)
    except (OSError, ValueError) as exc:
        result["error"] = _describe(exc)
        failure = f"{host}:{port}: handshake failed: {result['error']}"
        if _tls_refusal(exc):
            old = diagnose_old_protocols(host, port, server_name, minimum, timeout, connect)
            result["legacy"] = old
            result["server_protocols"] = [p["protocol"] for p in old if p["result"] == ACCEPTED]
            if result["server_protocols"]:
                failure += (f"; the server accepts only {', '.join(result['server_protocols'])}, "
                            f"below the policy minimum {minimum}")
        result["failures"].append(failure)
    else:
        result.update(handshake=True, protocol=got["protocol"], cipher=got["cipher"])
        result["certificate"] = decode_certificate(got["der"], now=now)
        _check_negotiated(result, minimum)
    if check_legacy and result["handshake"]:
        for protocol in protocols_below(minimum):
            probe = probe_legacy(host, port, server_name, protocol, timeout, connect)
            result["legacy"].append(probe)
            if probe["result"] == ACCEPTED:
                result["failures"].append(
                    f"{host}:{port}: {protocol} accepted (policy minimum {minimum}): "
                    f"{probe['detail']}"
                )
    result["passed"] = not result["failures"]
    result["elapsed_seconds"] = round(time.monotonic() - started, 3)
    return result


def _tls_refusal(exc: BaseException) -> bool:
    """A TLS-level failure (alert, protocol or algorithm mismatch), not a network error or a
    certificate the client does not trust."""
    return isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLCertVerificationError)


def diagnose_old_protocols(
    host: str,
    port: int,
    server_name: str | None,
    minimum: str,
    timeout: float,
    connect: Connector = _default_connect,
) -> list[dict[str, Any]]:
    """After a failed handshake: does the server speak only protocols below ``minimum``?

    One handshake pinned to each older protocol this library can offer; a server that completes
    one explains a refusal that OpenSSL words obscurely (e.g. "legacy sigalg disallowed").
    """
    probes = []
    for protocol in protocols_below(minimum):
        try:
            probes.append(probe_legacy(host, port, server_name, protocol, timeout, connect))
        except (OSError, ValueError) as exc:  # a failure while diagnosing adds nothing
            probes.append({"protocol": protocol, "result": ERROR, "detail": _describe(exc)})
    return probes


def _check_negotiated(result: dict[str, Any], minimum: str) -> None:
    where = f"{result['host']}:{result['port']}"
    protocol = result["protocol"]
    known = protocol in PROTOCOLS and minimum in PROTOCOLS
    if known and PROTOCOLS.index(protocol) < PROTOCOLS.index(minimum):
        result["failures"].append(
            f"{where}: negotiated {protocol}, below the policy minimum {minimum}")
    cert = result["certificate"] or {}
    if cert.get("expired"):
        result["failures"].append(f"{where}: certificate expired on {cert.get('not_after')}")


# --- HTTP health -------------------------------------------------------------------------------


def probe_http(check: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """GET ``url`` once (no redirects followed) and compare the status with ``status``."""
    url = str(check.get("url") or "")
    expected = int(check.get("status") or 200)
    result: dict[str, Any] = {
        "url": url,
        "expected_status": expected,
        "status": None,
        "passed": False,
        "error": None,
    }
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        result["error"] = "url must be http:// or https:// with a host"
        return result
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        if parts.scheme == "https":
            ctx = client_context(
                verify=bool(check.get("validate_certs", True)), ca_file=check.get("ca_file")
            )
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, context=ctx
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        try:
            conn.request("GET", path, headers={"User-Agent": "patchwise.openssl health probe"})
            response = conn.getresponse()
            response.read(65536)
            result["status"] = response.status
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        result["error"] = _describe(exc)
        return result
    result["passed"] = result["status"] == expected
    if not result["passed"]:
        result["error"] = f"status {result['status']}, expected {expected}"
    return result


def run_checks(
    endpoints: list[dict[str, Any]],
    health_urls: list[dict[str, Any]],
    min_protocol: str = "TLSv1.2",
    check_legacy: bool = True,
    timeout: float = 5.0,
    connect: Connector = _default_connect,
) -> dict[str, Any]:
    """All endpoint and health probes; ``passed`` only when every one passed."""
    results = [
        probe_endpoint(ep, min_protocol, check_legacy, float(ep.get("timeout") or timeout), connect)
        for ep in endpoints
    ]
    health = [probe_http(h, float(h.get("timeout") or timeout)) for h in health_urls]
    failures = [f for r in results for f in r["failures"]]
    failures += [f"{h['url']}: {h['error']}" for h in health if not h["passed"]]
    untestable = sorted(
        {p["protocol"] for r in results for p in r["legacy"] if p["result"] == UNTESTABLE}
    )
    warnings_out = [
        f"{p} could not be tested: the local TLS library ({ssl.OPENSSL_VERSION}) cannot offer it"
        for p in untestable
    ]
    return {
        "endpoints": results,
        "health": health,
        "failures": failures,
        "passed": not failures,
        "client_library": ssl.OPENSSL_VERSION,
        "warnings": warnings_out,
    }
