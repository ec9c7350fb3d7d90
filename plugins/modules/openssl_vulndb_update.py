# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds the documentation only: the work is done on the controller by the action
# plugin plugins/action/openssl_vulndb_update.py.
from __future__ import annotations

DOCUMENTATION = r"""
module: openssl_vulndb_update
short_description: Rebuild the collection's OpenSSL vulnerability database from OpenSSL's records
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Rebuilds the vulnerability database used by M(patchwise.openssl.openssl_assess) and
    the P(patchwise.openssl.openssl_cves#filter) filter from a newer copy of
    U(https://github.com/openssl/release-metadata), on the controller.
  - Validates every record and refuses corrupt input, or input older than the current database
    (older source commit, older newest record, or many known CVEs missing), with a clear error.
  - Replaces the database atomically (temporary file and rename, mode V(0644)). Same input gives
    C(changed=false). Reports the changes (new and removed CVEs, edited ranges and severities).
  - Fetched content is only read as data (JSON and text); nothing from it is executed.
options:
  src:
    description:
      - A local copy of openssl/release-metadata (a directory with C(secjson/) and C(data.json)),
        a git URL (cloned with C(git clone --depth 1)), or an https URL of a tarball of it.
      - Provenance (commit and date) comes from the git checkout, a C(SOURCES.txt) file in or
        next to the directory, the tarball's pax header and member times, or O(commit) and
        O(commit_date).
      - Unencrypted transports (C(http://), C(git://)) are refused. A tarball's C(.git)
        directories are not extracted and git never runs in an extracted tarball.
      - User and password in the URL never appear in messages; prefer an SSH key or a
        credential helper of git to a token in the URL (task arguments show in verbose output).
    type: str
    required: true
  dest:
    description:
      - Database file to write. Default is the collection's own C(data/openssl_vulndb.json)
        (then C(data/NOTICE.md) is rewritten as well).
    type: path
  legacy_xml:
    description:
      - The June 2022 C(news/vulnerabilities.xml) of github.com/openssl/web. It adds the
        affected-but-never-fixed branches the CVE JSON records lack.
    type: path
  allow_downgrade:
    description: Accept input older than the current database (or missing many of its CVEs).
    type: bool
    default: false
  commit:
    description: Source commit, when O(src) carries no provenance. Requires O(commit_date).
    type: str
  commit_date:
    description: ISO 8601 date of O(commit).
    type: str
  timeout:
    description: Seconds allowed for C(git clone) or the download.
    type: int
    default: 120
attributes:
  check_mode:
    support: full
    description: Builds and validates the database and reports the changes without writing.
  diff_mode:
    support: full
    description: Shows the list of changes.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller only.
notes:
  - Runs on the controller; the target hosts are not contacted.
seealso:
  - plugin: patchwise.openssl.openssl_cves
    plugin_type: filter
"""

EXAMPLES = r"""
---
- name: Refresh the shipped database from a local copy of openssl/release-metadata
  patchwise.openssl.openssl_vulndb_update:
    src: /srv/mirror/openssl-release-metadata
    legacy_xml: /srv/mirror/openssl-web/news/vulnerabilities.xml
  register: vulndb_update

- name: Build a separate database from the upstream repository
  patchwise.openssl.openssl_vulndb_update:
    src: https://github.com/openssl/release-metadata.git
    dest: /var/lib/patchwise/openssl_vulndb.json
"""

RETURN = r"""
dest:
  description: The database file.
  returned: success
  type: str
source:
  description: Provenance of the new database (repository, commit, commit_date, records, ...).
  returned: success
  type: dict
records:
  description: Number of CVE records in the new database.
  returned: success
  type: int
changes:
  description: >-
    C(new_cves), C(removed_cves), C(edited_ranges) and C(edited_severities) (each CVE id with
    C(before) and C(after)), C(edited_other), C(edited_branches), C(source) (before/after commit).
  returned: success
  type: dict
summary:
  description: The changes as readable lines.
  returned: success
  type: list
  elements: str
vulndb_warnings:
  description: Non-fatal problems met in the input (also shown as warnings).
  returned: success
  type: list
  elements: str
"""
