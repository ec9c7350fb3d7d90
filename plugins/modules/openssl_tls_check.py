#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openssl_tls_check
short_description: Probe TLS endpoints with real handshakes and check their protocol policy
version_added: 0.1.0
description:
  - Opens a real TLS connection to each endpoint and records the negotiated protocol and
    cipher and the server certificate (subject, issuer, validity, subject alternative names,
    SHA-256 fingerprint).
  - Checks that protocols older than the policy minimum (default C(TLSv1.2)) are refused. For
    each of C(TLSv1) and C(TLSv1.1) (and C(TLSv1.2) when the minimum is C(TLSv1.3)) it tries a
    handshake with a client context pinned to exactly that version at C(@SECLEVEL=0).
  - When the local TLS library cannot even offer such a version (built without it, or a
    system crypto policy forbids it), that check is reported as C(untestable), never as
    C(refused).
  - Optionally sends one C(GET) to each health URL and compares the HTTP status (redirects are
    not followed).
  - Read-only. It runs the probes in check mode too, because they change nothing.
  - Runs on the managed host (probing its own loopback) or delegated to the controller. Needs
    only the Python standard library.
  - A failed probe does not fail the task; RV(passed) and RV(failures) say what failed. Only
    invalid arguments fail the module.
author:
  - patchwise.openssl maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Probes run in check mode as well; they change nothing.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  platform:
    support: full
    platforms: posix
    description: Any host with Python 3.9 or later, including the controller.
options:
  endpoints:
    description: TLS endpoints to probe.
    type: list
    elements: dict
    default: []
    suboptions:
      host:
        description: Host name or address to connect to.
        type: str
        required: true
      port:
        description: TCP port (1-65535).
        type: int
        default: 443
      server_name:
        description:
          - Server name sent as SNI and checked against the certificate.
          - Defaults to O(endpoints[].host).
        type: str
        aliases: [sni]
      ca_file:
        description: PEM file with the CA certificates to trust instead of the system store.
        type: path
      validate_certs:
        description:
          - Verify the certificate chain and the host name.
          - Set to V(false) for self-signed certificates; the certificate is still decoded
            and reported.
        type: bool
        default: true
      min_protocol:
        description: Policy minimum for this endpoint; overrides O(min_protocol).
        type: str
        choices: [TLSv1.2, TLSv1.3]
      timeout:
        description: Seconds per connection attempt (more than 0); overrides O(timeout).
        type: float
  health_urls:
    description: HTTP(S) URLs to fetch once each.
    type: list
    elements: dict
    default: []
    suboptions:
      url:
        description: C(http://) or C(https://) URL.
        type: str
        required: true
      status:
        description: Expected HTTP status (100-599).
        type: int
        default: 200
      ca_file:
        description: PEM file with the CA certificates to trust.
        type: path
      validate_certs:
        description: Verify the server certificate of C(https://) URLs.
        type: bool
        default: true
      timeout:
        description: Seconds (more than 0); overrides O(timeout).
        type: float
  min_protocol:
    description:
      - Oldest protocol the endpoints may accept. Older protocols must be refused.
    type: str
    default: TLSv1.2
    choices: [TLSv1.2, TLSv1.3]
  check_legacy:
    description: Probe whether protocols older than the minimum are refused.
    type: bool
    default: true
  timeout:
    description: Seconds per connection attempt (more than 0).
    type: float
    default: 5.0
notes:
  - SSLv3 is not probed; no current OpenSSL build can offer it.
  - The C(untestable) result depends on the probing side's TLS library. Delegate to a host
    whose library still offers TLS 1.0/1.1 at security level 0 (Debian 11-13 do) for a
    conclusive answer.
seealso:
  - module: patchwise.openssl.openssl_facts
"""

EXAMPLES = r"""
---
- name: Probe the local nginx and a health URL
  patchwise.openssl.openssl_tls_check:
    endpoints:
      - host: 127.0.0.1
        port: 443
        server_name: www.example.com
        validate_certs: false
    health_urls:
      - url: https://127.0.0.1/healthz
        validate_certs: false
        status: 200
  register: tls

- name: Fail when a probe failed
  ansible.builtin.assert:
    that: tls.passed
    fail_msg: "{{ tls.failures | join('; ') }}"

- name: Probe from the controller with the organisation's CA
  patchwise.openssl.openssl_tls_check:
    endpoints:
      - host: "{{ inventory_hostname }}"
        port: 8443
        ca_file: /etc/pki/internal-ca.pem
    min_protocol: TLSv1.3
  delegate_to: localhost
"""

RETURN = r"""
passed:
  description: True when every endpoint handshake, protocol check and health URL passed.
  returned: always
  type: bool
  sample: true
failures:
  description: One message per failed check.
  returned: always
  type: list
  elements: str
  sample:
    - "127.0.0.1:443: TLSv1 accepted (policy minimum TLSv1.2): server completed a TLSv1 handshake"
    - "127.0.0.1:8443: handshake failed: SSLError: [SSL] legacy sigalg disallowed or unsupported
      (_ssl.c:992); the server accepts only TLSv1.1, below the policy minimum TLSv1.2"
endpoints:
  description: One result per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: Host connected to.
      returned: always
      type: str
    port:
      description: TCP port.
      returned: always
      type: int
    server_name:
      description: SNI sent.
      returned: always
      type: str
    handshake:
      description: Whether the handshake with the default client settings succeeded.
      returned: always
      type: bool
    protocol:
      description: Negotiated protocol, null when the handshake failed.
      returned: always
      type: str
      sample: TLSv1.3
    cipher:
      description: Negotiated cipher (C(name), C(protocol), C(bits)), null when it failed.
      returned: always
      type: dict
      sample: {"name": "TLS_AES_256_GCM_SHA384", "protocol": "TLSv1.3", "bits": 256}
    certificate:
      description:
        - Server certificate (C(subject), C(issuer), C(not_before), C(not_after), C(days_left),
          C(expired), C(subject_alt_names), C(sha256)); C(error) when it could not be decoded.
        - Null when the handshake failed.
      returned: always
      type: dict
    legacy:
      description:
        - One entry per probed legacy protocol with C(protocol), C(result) (C(refused),
          C(accepted), C(untestable) or C(error)) and C(detail).
        - After a handshake that failed at the TLS level (not a refused connection or an
          untrusted certificate), the protocols below the minimum are probed as well, to tell
          why; this list then holds those probes, also when O(check_legacy=false).
      returned: always
      type: list
      elements: dict
    server_protocols:
      description:
        - After a handshake that failed at the TLS level, the protocols below the policy
          minimum the server completed a handshake with (for example V(TLSv1.1) for a server
          that speaks nothing newer); the failure message then names them. Null when no such
          diagnosis ran.
      returned: always
      type: list
      elements: str
      sample: ["TLSv1.1"]
    failures:
      description: Failed checks of this endpoint.
      returned: always
      type: list
      elements: str
    error:
      description: Why the handshake failed, null when it succeeded.
      returned: always
      type: str
    passed:
      description: True when this endpoint passed every check.
      returned: always
      type: bool
    elapsed_seconds:
      description: Time spent on this endpoint.
      returned: always
      type: float
health:
  description:
    - One result per health URL with C(url), C(status), C(expected_status), C(passed), C(error).
  returned: always
  type: list
  elements: dict
client_library:
  description: The probing side's TLS library (Python's C(ssl.OPENSSL_VERSION)).
  returned: always
  type: str
  sample: OpenSSL 3.0.19 27 Jan 2026
warnings_list:
  description:
    - Notes such as legacy protocols that could not be tested locally.
    - The same texts are emitted as warnings.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.tlsprobe import (  # noqa: E402
    run_checks,
)

_PROTOCOLS = ["TLSv1.2", "TLSv1.3"]


def _argument_spec() -> dict:
    endpoint = {
        "host": {"type": "str", "required": True},
        "port": {"type": "int", "default": 443},
        "server_name": {"type": "str", "aliases": ["sni"]},
        "ca_file": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
        "min_protocol": {"type": "str", "choices": _PROTOCOLS},
        "timeout": {"type": "float"},
    }
    health = {
        "url": {"type": "str", "required": True},
        "status": {"type": "int", "default": 200},
        "ca_file": {"type": "path"},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "float"},
    }
    return {
        "endpoints": {"type": "list", "elements": "dict", "options": endpoint, "default": []},
        "health_urls": {"type": "list", "elements": "dict", "options": health, "default": []},
        "min_protocol": {"type": "str", "default": "TLSv1.2", "choices": _PROTOCOLS},
        "check_legacy": {"type": "bool", "default": True},
        "timeout": {"type": "float", "default": 5.0},
    }


def _argument_problems(params: dict) -> list:
    """Ranges the argument spec cannot express, each naming its option."""
    problems = []
    if params["timeout"] <= 0:
        problems.append("timeout must be greater than 0")
    ranges = (("endpoints", 1, 65535, "port"), ("health_urls", 100, 599, "status"))
    for kind, low, high, key in ranges:
        for index, entry in enumerate(params[kind]):
            value = entry[key]
            if not low <= value <= high:
                problems.append(f"{kind}[{index}].{key} must be {low}-{high}, got {value}")
            if entry["timeout"] is not None and entry["timeout"] <= 0:
                problems.append(f"{kind}[{index}].timeout must be greater than 0")
    return problems


def main() -> None:
    module = AnsibleModule(argument_spec=_argument_spec(), supports_check_mode=True)
    params = module.params
    problems = _argument_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))
    report = run_checks(
        endpoints=params["endpoints"],
        health_urls=params["health_urls"],
        min_protocol=params["min_protocol"],
        check_legacy=params["check_legacy"],
        timeout=params["timeout"],
    )
    for warning in report["warnings"]:
        module.warn(warning)
    module.exit_json(
        changed=False,
        passed=report["passed"],
        failures=report["failures"],
        endpoints=report["endpoints"],
        health=report["health"],
        client_library=report["client_library"],
        warnings_list=report["warnings"],
    )


if __name__ == "__main__":
    main()
