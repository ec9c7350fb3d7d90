# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import openssl_branch_status as plugin


@pytest.mark.parametrize(
    ("version", "today", "status", "branch"),
    [
        ("1.1.1w", "2026-06-01", "premium_only", "1.1.1"),
        ("1.0.2k-fips", "2026-06-01", "premium_only", "1.0.2"),
        ("1.1.0l", "2026-06-01", "end_of_life", "1.1.0"),
        ("3.0.19", "2026-06-01", "supported", "3.0"),
        ("3.0.19", "2026-09-08", "end_of_life", "3.0"),
        ("3.1.4+quic", "2024-01-01", "supported", "3.1"),
        ("4.2.0", "2026-06-01", "unreleased", "4.2"),
    ],
)
def test_status(version, today, status, branch):
    result = plugin.openssl_branch_status(version, today=today)
    assert (result["status"], result["branch"]) == (status, branch)


def test_lts_advice():
    result = plugin.openssl_branch_status("1.1.1w", today="2026-06-01")
    assert result["lts"] is True
    assert result["next_lts"] == "3.5"
    assert result["latest_public_fix"] == "1.1.1w"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("x.y.z",), {}, "not an OpenSSL version"),
        (("3.0.0",), {"today": "tomorrow"}, "not an ISO date"),
        (("3.0.0",), {"db_path": "/nonexistent.json"}, "not found"),
    ],
)
def test_errors(args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plugin.openssl_branch_status(*args, **kwargs)


def test_filter_module_and_docs():
    assert plugin.FilterModule().filters() == {
        "openssl_branch_status": plugin.openssl_branch_status
    }
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert set(doc["options"]) == {"_input", "today", "db_path"}
    returned = yaml.safe_load(plugin.RETURN)["_value"]["contains"]
    sample = plugin.openssl_branch_status("3.0.19", today="2026-06-01")
    assert set(returned) <= set(sample)


def test_examples_run(run_examples):
    results = run_examples(plugin.EXAMPLES)
    assert results[0]["msg"]["status"] == "premium_only"
    assert "plan a move to 3.5" in results[1]["msg"]
    assert results[2].get("failed") is not True
