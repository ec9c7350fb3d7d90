# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import openssl_cves as plugin


def test_heartbleed():
    records = plugin.openssl_cves("1.0.1f")
    assert "CVE-2014-0160" in [r["id"] for r in records]
    heartbleed = next(r for r in records if r["id"] == "CVE-2014-0160")
    assert heartbleed["matched_range"]["fixed"] == "1.0.1g"
    assert heartbleed["severity"] is None  # unrated before October 2014


def test_results_are_copies():
    first = plugin.openssl_cves("1.0.1f")
    first[0]["severity"] = "changed"
    first[0]["matched_range"]["fixed"] = "changed"
    again = plugin.openssl_cves("1.0.1f")
    assert again[0]["severity"] != "changed"
    assert again[0]["matched_range"]["fixed"] != "changed"


def test_min_severity():
    everything = plugin.openssl_cves("3.0.0")
    high = plugin.openssl_cves("3.0.0", min_severity="high", include_unrated=False)
    assert high and len(high) < len(everything)
    assert {r["severity"] for r in high} <= {"high", "critical"}
    # 1.0.1a: many unrated records (before Oct 2014); kept by default, dropped on request
    kept = plugin.openssl_cves("1.0.1a", min_severity="critical")
    dropped = plugin.openssl_cves("1.0.1a", min_severity="critical", include_unrated=False)
    assert any(r["severity"] is None for r in kept)
    assert all(r["severity"] == "critical" for r in dropped)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("banana",), "not an OpenSSL version"),
        (("3.0.0", "/nonexistent/db.json"), "not found"),
        ((None,), "not a version string"),
    ],
)
def test_errors_are_filter_errors(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plugin.openssl_cves(*args)


def test_bad_min_severity():
    with pytest.raises(AnsibleFilterError, match="min_severity"):
        plugin.openssl_cves("3.0.0", min_severity="severe")


def test_filter_module_registers_the_filter():
    assert plugin.FilterModule().filters() == {"openssl_cves": plugin.openssl_cves}


def test_documentation_parses():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc["name"] == "openssl_cves"
    assert set(doc["options"]) == {"_input", "db_path", "min_severity", "include_unrated"}
    assert "_value" in yaml.safe_load(plugin.RETURN)


def test_examples_run(run_examples):
    results = run_examples(plugin.EXAMPLES)
    assert "CVE-2014-0160" in results[0]["msg"]
    assert results[1]["msg"] and all(v is None or v.startswith("3.0.") for v in results[1]["msg"])
    assert results[2].get("failed") is not True
