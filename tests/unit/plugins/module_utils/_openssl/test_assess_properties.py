# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: malformed or partial facts never raise anything but PatchwiseError, and
never turn into a silent "not vulnerable"; the renderers accept every assessment."""

from __future__ import annotations

import datetime
import json
import re

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
    assess,
    pkgversions,
    report,
    vulndb,
)
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ASSESSOR = assess.Assessor(vulndb.load_db(), "2026-11-22")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "3.0.19",
            "1.1.1w",
            "OpenSSL 3.0.19 27 Jan 2026",
            "libressl",
            "CVE-2026-45447",
            "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            "0.0.0.0",  # noqa: S104 - a listening address in facts, nothing binds
            "::1",
            "dpkg",
        ]
    ),
)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
versions = st.one_of(
    st.sampled_from(["3.0.19", "3.0.7", "3.1.0", "1.1.1w", "1.0.2u", "0.9.8zh", "3.5.7", "4.0.1"]),
    scalars,
)
implementations = st.one_of(
    st.sampled_from(["openssl", "libressl", "boringssl", "aws-lc", "quictls", "unknown"]), scalars
)
library = st.fixed_dictionaries(
    {},
    optional={
        "path": st.one_of(st.just("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"), scalars),
        "real_path": scalars,
        "implementation": implementations,
        "version": versions,
        "package": st.one_of(st.just("libssl3"), scalars),
        "package_version": st.one_of(st.just("3.0.19-1~deb12u2"), scalars),
        "unpackaged": junk,
        "build_id": scalars,
        "leftover_series": junk,
    },
)
process = st.fixed_dictionaries(
    {},
    optional={
        "pid": st.one_of(st.integers(1, 5), scalars),
        "comm": junk,
        "service": junk,
        "container": junk,
        "listening": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {}, optional={"proto": scalars, "address": scalars, "port": scalars}
                ),
                max_size=3,
            ),
            junk,
        ),
        "libraries": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "path": st.one_of(
                            st.just("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"), scalars
                        ),
                        "stale": junk,
                        "deleted": junk,
                        "version_text": scalars,
                        "package_version": scalars,
                        "build_id": scalars,
                    },
                ),
                max_size=3,
            ),
            junk,
        ),
    },
)
package = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.just("libssl3"), scalars),
        "version": st.one_of(st.just("3.0.19-1~deb12u2"), scalars),
        "upstream_version": versions,
        "manager": st.one_of(st.sampled_from(["dpkg", "rpm"]), scalars),
        "candidate": scalars,
        "changelog": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "cves": st.one_of(
                        st.dictionaries(st.one_of(scalars, st.just("CVE-2026-45447")), scalars),
                        junk,
                    ),
                    "error": scalars,
                    "path": scalars,
                    "trimmed": junk,
                },
            ),
            junk,
        ),
    },
)
facts = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "schema_version": st.one_of(st.just(1), scalars),
            "privileged": junk,
            "warnings": junk,
            "libraries": st.one_of(st.lists(library, max_size=3), junk),
            "packages": st.one_of(st.lists(package, max_size=2), junk),
            "processes": st.one_of(st.lists(process, max_size=4), junk),
            "vendored": st.one_of(st.lists(library, max_size=2), junk),
            "runtimes": st.one_of(st.lists(library, max_size=2), junk),
            "cli": st.one_of(st.lists(library, max_size=2), junk),
            "livepatch": junk,
            "distro": junk,
        },
    ),
)

PROM_SAMPLE = re.compile(r"^[a-z_]+(\{.*\})? [0-9.e+-]+$")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=facts, fail_on=st.sampled_from(assess.FAIL_ON_CHOICES))
def test_malformed_facts_give_a_result_or_a_patchwise_error(facts, fail_on):
    try:
        result = ASSESSOR.assess(facts, "h", fail_on=fail_on)
    except PatchwiseError:
        return
    assert set(result["summary"]["findings"]) == set(assess.STATUSES)
    assert sum(result["summary"]["findings"].values()) == len(result["findings"])
    for finding in result["findings"]:
        assert finding["status"] in assess.STATUSES
        assert finding["rationale"]
    # an OpenSSL copy whose version cannot be read is reported, never skipped silently
    for copy in result["copies"]:
        if not copy["assessed"]:
            assert any(f["copy"] == copy["id"] and f["cve"] is None for f in result["findings"])
    json.dumps(result)
    summary = report.fleet_summary({"h": result}, generated_at="2026-11-22")
    assert not re.search(r"https?://", report.render_html(summary))
    report.render_markdown(summary)
    for line in report.render_prometheus(result).splitlines():
        assert line.startswith("#") or PROM_SAMPLE.match(line), line


@settings(max_examples=200, deadline=None)
@given(today=st.one_of(scalars, st.dates().map(str)))
def test_any_date_gives_an_assessor_or_a_patchwise_error(today):
    try:
        assessor = assess.Assessor(vulndb.load_db(), today)
    except PatchwiseError:
        return
    assert assessor.today >= assessor.data_date - datetime.timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(db=junk)
def test_any_database_object_gives_a_patchwise_error(db):
    try:
        assess.Assessor(db, "2026-11-22")
    except PatchwiseError:
        return
    raise AssertionError("a junk database was accepted")


@settings(max_examples=300, deadline=None)
@given(left=st.text(max_size=20), right=st.text(max_size=20))
def test_package_compare_never_raises(left, right):
    for manager in ("dpkg", "rpm", None):
        result = pkgversions.package_compare(manager, left, right)
        assert result is None or isinstance(result, int)
