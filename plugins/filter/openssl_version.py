# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: openssl_version
short_description: Parse an C(openssl version) output or an embedded OpenSSL version text
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Parses the output of C(openssl version) or C(openssl version -a), or the version text a
    library or binary embeds (for example V(OpenSSL 1.1.1w  11 Sep 2023)), into a dictionary.
  - The same parser as the P(patchwise.openssl.openssl_facts#module) module.
  - On 3.x, C(openssl version) prints the CLI's header version and, after C(Library:), the
    runtime library's version; RV(_value.version) is the library (runtime) version.
  - Look-alikes are recognised and never reported as an upstream OpenSSL version. LibreSSL,
    BoringSSL and AWS-LC (V(OpenSSL 1.1.1 (compatible; BoringSSL))) get RV(_value.version)
    null; quictls (V(+quic)) keeps its upstream base version.
  - Text that is not a version text gives RV(_value.implementation=unknown) and a warning, or
    an error with O(strict=true).
options:
  _input:
    description: The version text (the first non-empty line is used for the version).
    type: string
    required: true
  strict:
    description: Fail instead of returning RV(_value.implementation=unknown).
    type: bool
    default: false
"""

EXAMPLES = r"""
---
- name: Parse the local CLI's version
  ansible.builtin.command: openssl version -a
  register: __openssl_version
  changed_when: false

- name: Show the runtime library version and OPENSSLDIR
  ansible.builtin.debug:
    msg: >-
      {{ (__openssl_version.stdout | patchwise.openssl.openssl_version).version }}
      {{ (__openssl_version.stdout | patchwise.openssl.openssl_version).openssldir }}

- name: A RHEL 8 spelling
  ansible.builtin.debug:
    msg: "{{ 'OpenSSL 1.1.1k  FIPS 25 Mar 2021' | patchwise.openssl.openssl_version }}"

- name: A look-alike is not upstream OpenSSL 1.1.1
  ansible.builtin.assert:
    that:
      - parsed.implementation == 'aws-lc'
      - parsed.version is none
  vars:
    parsed: "{{ 'OpenSSL 1.1.1 (compatible; AWS-LC 1.21.0)' | patchwise.openssl.openssl_version }}"
"""

RETURN = r"""
_value:
  description: The parsed version text.
  type: dict
  contains:
    raw:
      description: The first non-empty line of the input.
      type: str
    implementation:
      description: V(openssl), V(libressl), V(boringssl), V(aws-lc), V(quictls) or V(unknown).
      type: str
    implementation_version:
      description: Own version of a look-alike or quictls (V(3.3.6) for LibreSSL 3.3.6).
      type: str
    compatible_with:
      description: The OpenSSL API version a BoringSSL/AWS-LC build claims (V(1.1.1)).
      type: str
    version:
      description: Upstream OpenSSL version of the runtime library; null for look-alikes.
      type: str
      sample: 3.0.19
    series:
      description: Release branch key (V(3.0), V(1.1.1), V(1.0.2)).
      type: str
    cli_version:
      description: Version the CLI was built with (first part of the line).
      type: str
    library_version:
      description: Version of the library the CLI runs with (the C(Library:) part, or the same).
      type: str
    fips:
      description: True when the text carries a FIPS marker (V(-fips) or V(FIPS)).
      type: bool
    build_date:
      description: Release date as printed (V(27 Jan 2026), or V(xx XXX xxxx) for dev builds).
      type: str
    build_date_iso:
      description: The release date as YYYY-MM-DD, null for dev builds.
      type: str
    prerelease:
      description: Pre-release tag (V(alpha17), V(pre9), V(dev)) or null.
      type: str
    build_metadata:
      description: Build metadata after V(+) (V(quic)) or null.
      type: str
    openssldir:
      description: OPENSSLDIR from C(openssl version -a) (null otherwise); likewise
        C(modulesdir), C(enginesdir), C(built_on), C(platform), C(options),
        C(compiler_flags), C(seeding_source), C(cpuinfo).
      type: str
    warnings:
      description: Why the text was not fully understood.
      type: list
      elements: str
"""

from typing import Any  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.versiontext import (  # noqa: E402
    parse_version_all,
    parse_version_line,
)


def openssl_version(text: Any, strict: bool = False) -> dict[str, Any]:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"openssl_version expects a string, got {type(text).__name__}")
    result = parse_version_line(text)
    if strict and result["implementation"] == "unknown":
        raise AnsibleFilterError(
            "openssl_version: " + ("; ".join(result["warnings"]) or "not a version text")
        )
    result.update(parse_version_all(text))
    return result


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"openssl_version": openssl_version}
