# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: openssl_cves
short_description: CVEs that OpenSSL's own data says affect an upstream OpenSSL version
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Looks an upstream OpenSSL version up in the collection's vulnerability database, built from
    OpenSSL's published records (github.com/openssl/release-metadata), and returns every CVE
    record whose range on the version's own release branch covers it.
  - Versions are ordered the OpenSSL way (V(1.0.2y) < V(1.0.2za), V(3.0.9) < V(3.0.10),
    pre-releases before the release); build markers such as V(-fips) or V(+quic) are ignored.
  - This is the upstream view only. A distribution package keeps the upstream number while
    backporting fixes; use the M(patchwise.openssl.openssl_assess) action to take
    package changelogs into account.
  - Branches that were end-of-life when an advisory came out are not listed by OpenSSL; an
    empty result for such a branch means "not assessed", not "not affected". See
    P(patchwise.openssl.openssl_branch_status#filter).
options:
  _input:
    description: An upstream OpenSSL version string, for example V(3.0.7) or V(1.0.2k-fips).
    type: string
    required: true
  db_path:
    description:
      - Path of the vulnerability database.
      - Default is the database shipped with the collection (C(data/openssl_vulndb.json)).
    type: path
  min_severity:
    description:
      - Only return CVEs of at least this severity. Unrated CVEs (OpenSSL rated nothing before
        October 2014) are kept unless O(include_unrated=false).
    type: string
    choices: [low, moderate, high, critical]
  include_unrated:
    description: Keep CVEs without an OpenSSL severity rating when O(min_severity) is set.
    type: bool
    default: true
seealso:
  - plugin: patchwise.openssl.openssl_branch_status
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: List the CVEs of OpenSSL 1.0.1f (Heartbleed among them)
  ansible.builtin.debug:
    msg: "{{ '1.0.1f' | patchwise.openssl.openssl_cves | map(attribute='id') | list }}"

- name: High and critical CVEs fixed after 3.0.7, with the first fixed release on 3.0
  ansible.builtin.debug:
    msg: >-
      {{ '3.0.7' | patchwise.openssl.openssl_cves(min_severity='high', include_unrated=false)
         | map(attribute='matched_range.fixed') | list }}

- name: Fail when a version has a critical CVE
  ansible.builtin.assert:
    that:
      - critical | length == 0
    fail_msg: OpenSSL 3.5.4 has a critical CVE
  vars:
    critical: "{{ '3.5.4' | patchwise.openssl.openssl_cves(min_severity='critical') }}"
"""

RETURN = r"""
_value:
  description:
    - CVE records, oldest first, as stored in the database (see docs/vulndb.md), each with an
      added C(matched_range) (the range of the version's branch that matched).
  type: list
  elements: dict
  contains:
    id:
      description: CVE identifier.
      type: str
    published:
      description: Date of OpenSSL's advisory (YYYY-MM-DD).
      type: str
    severity:
      description: OpenSSL's rating (V(critical), V(high), V(moderate), V(low)) or null (unrated).
      type: str
    title:
      description: Title of the issue.
      type: str
    matched_range:
      description: >-
        C(branch), C(introduced), C(fixed) (first fixed release, null if never fixed publicly),
        C(last_affected), C(premium_only), C(source) and C(note).
      type: dict
    advisory:
      description: Advisory file in openssl/release-metadata (C(secadv/YYYYMMDD.txt)) or null.
      type: str
"""

import copy  # noqa: E402 -- after the documentation blocks, as ansible plugins are laid out
from typing import Any  # noqa: E402

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import vulndb  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (  # noqa: E402
    PatchwiseError,
)


def openssl_cves(
    version: Any,
    db_path: str | None = None,
    min_severity: str | None = None,
    include_unrated: bool = True,
) -> list[dict[str, Any]]:
    """Records of the CVEs affecting an upstream OpenSSL version."""
    if min_severity is not None and min_severity not in vulndb.SEVERITY_RANK:
        raise AnsibleFilterError(
            f"openssl_cves: min_severity must be one of {', '.join(vulndb.SEVERITIES)}"
        )
    try:
        db = vulndb.load_db(db_path)
        matches = vulndb.affecting_with_ranges(db, version)
    except PatchwiseError as exc:
        raise AnsibleFilterError(f"openssl_cves: {exc}") from exc
    floor = vulndb.SEVERITY_RANK.get(min_severity or "", 0)
    out = []
    for record, rng in matches:
        severity = record["severity"]
        if severity is None and floor and not include_unrated:
            continue
        if severity is not None and vulndb.SEVERITY_RANK[severity] < floor:
            continue
        item = copy.deepcopy(record)
        item["matched_range"] = copy.deepcopy(rng)
        out.append(item)
    return out


class FilterModule:
    """patchwise.openssl.openssl_cves"""

    def filters(self) -> dict[str, Any]:
        return {"openssl_cves": openssl_cves}
