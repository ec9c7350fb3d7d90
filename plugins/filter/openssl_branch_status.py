# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: openssl_branch_status
short_description: Lifecycle of an OpenSSL version's release branch (supported, end of life, ...)
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Returns the release branch of an upstream OpenSSL version (V(1.1.1), V(3.0), V(3.5), ...)
    and its lifecycle on a given day, computed from the release and end-of-life dates in the
    collection's vulnerability database (OpenSSL's C(data.json) for 3.0 and later, OpenSSL's
    release-strategy history before).
  - The status is computed at run time from dates, never stored.
  - OpenSSL publishes no date for a "security fixes only" phase, so no such status is reported.
options:
  _input:
    description: An upstream OpenSSL version string, for example V(1.1.1w) or V(3.0.19).
    type: string
    required: true
  today:
    description:
      - The day to judge on, as V(YYYY-MM-DD). Default is today (UTC).
    type: string
  db_path:
    description:
      - Path of the vulnerability database.
      - Default is the database shipped with the collection (C(data/openssl_vulndb.json)).
    type: path
seealso:
  - plugin: patchwise.openssl.openssl_cves
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Is OpenSSL 1.1.1w still supported upstream?
  ansible.builtin.debug:
    msg: "{{ '1.1.1w' | patchwise.openssl.openssl_branch_status(today='2026-06-01') }}"

- name: Warn about branches that reach end of life within 90 days
  ansible.builtin.debug:
    msg: >-
      OpenSSL {{ status.branch }} support ends on {{ status.eol }}; plan a move to
      {{ status.next_lts }}
  vars:
    status: "{{ '3.0.19' | patchwise.openssl.openssl_branch_status(today='2026-07-01') }}"
  when: status.status == 'supported' and status.days_left < 90

- name: Fail on end-of-life branches
  ansible.builtin.assert:
    that:
      - status.status == 'supported'
  vars:
    status: "{{ '3.5.4' | patchwise.openssl.openssl_branch_status(today='2026-06-01') }}"
"""

RETURN = r"""
_value:
  description: Lifecycle of the branch.
  type: dict
  contains:
    branch:
      description: Release branch (V(1.0.2), V(1.1.1), V(3.0), V(3.5), ...).
      type: str
    status:
      description: >-
        V(supported), V(end_of_life), V(premium_only) (past public end of life; fixes only for
        OpenSSL premium-support customers: 1.0.2, 1.1.1), V(unreleased) or V(unknown).
      type: str
    known:
      description: Whether the branch is in the database.
      type: bool
    released:
      description: First release date of the branch (YYYY-MM-DD) or null.
      type: str
    eol:
      description: End of public support (YYYY-MM-DD) or null when OpenSSL never dated it.
      type: str
    eol_precision:
      description: V(day) or V(month) (OpenSSL announced only a month; the first day is used).
      type: str
    days_left:
      description: Days until O(today) reaches RV(_value.eol) (negative once past), or null.
      type: int
    lts:
      description: Whether the branch is a long-term support release.
      type: bool
    premium_support_after_eol:
      description: Whether OpenSSL sells support for the branch after its public end of life.
      type: bool
    latest_public_fix:
      description: Newest publicly released version of the branch that fixed a CVE, or null.
      type: str
    next_lts:
      description: Newest released, still supported LTS branch after this one, or null.
      type: str
    statement:
      description: OpenSSL's own statement about the branch (statements.json), or null.
      type: str
    warnings:
      description: Problems met (unknown branch, pre-release, FIPS module version).
      type: list
      elements: str
"""

from typing import Any  # noqa: E402 -- after the documentation blocks, as ansible plugins are laid out

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import vulndb  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (  # noqa: E402
    PatchwiseError,
)


def openssl_branch_status(
    version: Any, today: str | None = None, db_path: str | None = None
) -> dict[str, Any]:
    """Lifecycle of an OpenSSL version's branch on ``today``."""
    try:
        return vulndb.branch_status(vulndb.load_db(db_path), version, today)
    except PatchwiseError as exc:
        raise AnsibleFilterError(f"openssl_branch_status: {exc}") from exc


class FilterModule:
    """patchwise.openssl.openssl_branch_status"""

    def filters(self) -> dict[str, Any]:
        return {"openssl_branch_status": openssl_branch_status}
