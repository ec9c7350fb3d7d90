# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wrong role and action arguments fail with a message that names the option.

One real ``ansible-playbook`` run on localhost, in check mode: every case is a block that
includes a role (whose ``meta/argument_specs.yml`` Ansible validates before any task runs) or
calls an action plugin with bad arguments; its rescue keeps the error message. A case that does
not fail is reported as such. The inventory has a group with a host (``staging``) and an empty
one (``canary``) for the rollout's phase check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK_BIN = Path(sys.executable).with_name("ansible-playbook")
NO_ERROR = "NO ERROR"


def _role(name: str, tasks_from: str = "main", **variables: Any) -> dict[str, Any]:
    return {
        "ansible.builtin.include_role": {
            "name": f"patchwise.openssl.{name}",
            "tasks_from": tasks_from,
        },
        "vars": variables,
    }


def _action(name: str, **args: Any) -> dict[str, Any]:
    return {f"patchwise.openssl.{name}": args}


# (case id, task, texts the error message must contain)
CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # roles: wrong types, unknown choices, missing sub-options
    ("assess fail_on", _role("assess", assess_fail_on="severe"), ["assess_fail_on", "severe"]),
    ("assess max age", _role("assess", assess_max_db_age_days="soon"), ["assess_max_db_age_days"]),
    (
        "assess formats",
        _role("assess", assess_report_formats=["pdf"]),
        ["assess_report_formats", "pdf"],
    ),
    ("patch lock timeout", _role("patch", patch_lock_timeout="long"), ["patch_lock_timeout"]),
    (
        "patch leftover",
        _role("patch", patch_include_leftover="perhaps"),
        ["patch_include_leftover"],
    ),
    ("refresh restart_ok", _role("refresh", refresh_restart_ok="maybe"), ["refresh_restart_ok"]),
    ("refresh livepatch", _role("refresh", refresh_livepatch="on"), ["refresh_livepatch"]),
    ("refresh strategies", _role("refresh", refresh_strategies=["nginx"]), ["refresh_strategies"]),
    (
        "rollback endpoint without host",
        _role("rollback", rollback_verify_endpoints=[{"port": 443}]),
        ["rollback_verify_endpoints", "host"],
    ),
    (
        "rollback health url without url",
        _role("rollback", rollback_verify_health_urls=[{"status": 200}]),
        ["rollback_verify_health_urls", "url"],
    ),
    (
        "verify protocol",
        _role("verify", verify_min_protocol="TLSv1.1"),
        ["verify_min_protocol", "TLSv1.1"],
    ),
    (
        "verify port",
        _role("verify", verify_endpoints=[{"host": "a", "port": "https"}]),
        ["verify_endpoints", "port"],
    ),
    (
        "verify unknown endpoint key",
        _role("verify", verify_endpoints=[{"host": "a", "prot": 443}]),
        ["verify_endpoints", "prot"],
    ),
    (
        "verify health url",
        _role("verify", verify_health_urls=["https://x"]),
        ["verify_health_urls"],
    ),
    (
        "awx validate_certs",
        _role("awx_configure", awx_configure_validate_certs="perhaps"),
        ["awx_configure_validate_certs"],
    ),
    # the rollout's entry point: types, choices, and phases that are no inventory group
    (
        "rollout order",
        _role("rollout", "start", rollout_order="random"),
        ["rollout_order", "random"],
    ),
    (
        "rollout max fail",
        _role("rollout", "start", rollout_max_fail_percentage="ten"),
        ["rollout_max_fail_percentage"],
    ),
    (
        "rollout soak endpoint",
        _role("rollout", "start", rollout_soak_endpoints=[{"sni": "x"}]),
        ["rollout_soak_endpoints", "host"],
    ),
    (
        "rollout unknown phase",
        _role("rollout", "start", rollout_phases=["staging", "prodution"]),
        ["rollout_phases", "not in the inventory: prodution"],
    ),
    (
        "rollout phases as -e rollout_phases=[staging] gives them (one string)",
        _role("rollout", "start", rollout_phases="[staging]"),
        ["rollout_phases must be a list", "\"[staging]\"", '{"rollout_phases": ["staging"']
    ),
    (
        "rollout batches as -e rollout_batches=[1,50%] gives them (one string)",
        _role("rollout", "start", rollout_batches="[1,50%]"),
        ["rollout_batches must be a list", "\"[1,50%]\""],
    ),
    (
        "rollout empty phase",
        _role("rollout", "start", rollout_phases=["staging", "canary"]),
        ["rollout_phases", "without hosts: canary"],
    ),
    (
        "rollout too many phases",
        _role("rollout", "start", rollout_phases=["staging", "a", "b", "c", "d", "e"]),
        ["rollout_phases"],
    ),
    # action plugins: conflicting, unknown and wrongly typed options
    (
        "openssl_assess facts and summarize_hosts",
        _action("openssl_assess", facts={}, summarize_hosts=["a"]),
        ["mutually exclusive", "facts", "summarize_hosts"],
    ),
    (
        "openssl_assess fail_on",
        _action("openssl_assess", facts={}, fail_on="severe"),
        ["fail_on", "severe"],
    ),
    ("openssl_assess unknown option", _action("openssl_assess", facts={}, fail="high"), ["fail"]),
    ("change record event", _action("openssl_change_record", event="begin"), ["event", "begin"]),
    ("change record without event", _action("openssl_change_record", run_id="x"), ["event"]),
    (
        "vulndb update timeout",
        _action("openssl_vulndb_update", src="/nonexistent", timeout="x"),
        ["timeout"],
    ),
    ("vulndb update without src", _action("openssl_vulndb_update", dest="/tmp/x.json"), ["src"]),
]


def test_case_ids_are_unique() -> None:
    assert len({c[0] for c in CASES}) == len(CASES)


def _playbook(tmp_path: Path) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = [
        {"name": "Start with no results", "ansible.builtin.set_fact": {"pw_results": {}}}
    ]
    for case_id, task, _expected in CASES:
        tasks.append(
            {
                "name": f"Case {case_id}",
                "block": [
                    {"name": f"Bad arguments: {case_id}", **task},
                    {
                        "name": "The case did not fail",
                        "ansible.builtin.set_fact": {
                            "pw_results": f"{{{{ pw_results | combine({{'{case_id}': "
                            f"'{NO_ERROR}'}}) }}}}"
                        },
                    },
                ],
                "rescue": [
                    {
                        "name": "Keep the error message",
                        "ansible.builtin.set_fact": {
                            "pw_results": f"{{{{ pw_results | combine({{'{case_id}': "
                            "(ansible_failed_result.msg | default('') | string) ~ ' ' ~ "
                            "(ansible_failed_result.argument_errors | default([]) | join(' '))"
                            "}) }}"
                        },
                    }
                ],
            }
        )
    tasks.append({"name": "Report", "ansible.builtin.debug": {"var": "pw_results"}})
    return [
        {
            "name": "Bad arguments",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {
                "assess_report_dir": str(tmp_path / "reports"),
                "rollout_record_dir": str(tmp_path / "records"),
            },
            "tasks": tasks,
        }
    ]


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not PLAYBOOK_BIN.exists():
        pytest.skip("ansible-playbook not installed")
    tmp_path = tmp_path_factory.mktemp("bad-arguments")
    tree = tmp_path / "collections" / "ansible_collections" / "patchwise"
    tree.mkdir(parents=True)
    (tree / "openssl").symlink_to(REPO)
    (tmp_path / "inventory.ini").write_text(
        f"[staging]\nlocalhost ansible_connection=local ansible_python_interpreter={sys.executable}"
        "\n\n[canary]\n"
    )
    (tmp_path / "play.yml").write_text(yaml.safe_dump(_playbook(tmp_path), sort_keys=False))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    }
    proc = subprocess.run(
        [str(PLAYBOOK_BIN), "-i", str(tmp_path / "inventory.ini"), "--check", "play.yml"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    tasks = json.loads(proc.stdout)["plays"][0]["tasks"]
    assert not (tmp_path / "records").exists(), "a failed rollout start recorded something"
    return tasks[-1]["hosts"]["localhost"]["pw_results"]


@pytest.mark.parametrize(
    ("case_id", "expected"), [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_names_the_option(
    messages: dict[str, str], case_id: str, expected: list[str]
) -> None:
    message = messages[case_id]
    assert message != NO_ERROR, f"{case_id}: the bad arguments were accepted"
    for text in expected:
        assert text in message, f"{case_id}: {text!r} not in {message!r}"
    assert "Traceback" not in message
