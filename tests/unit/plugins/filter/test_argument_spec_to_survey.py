# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patchwise.openssl.plugins.filter import argument_spec_to_survey as plugin

WEBAPP_SPEC = {
    "argument_specs": {
        "main": {
            "short_description": "Deploy the web app",
            "options": {
                "webapp_version": {"type": "str", "required": True, "description": "Version."},
                "webapp_workers": {"type": "int", "default": 4},
                "webapp_secret_key": {"type": "str", "no_log": True},
                "webapp_env": {"type": "dict", "default": {}},
            },
        }
    }
}


def test_examples_run(run_examples, tmp_path):
    # the examples read the argument spec of a role 'webapp' next to the playbook
    meta = tmp_path / "roles" / "webapp" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(yaml.safe_dump(WEBAPP_SPEC))
    results = run_examples(plugin.EXAMPLES)
    survey = results[0]["msg"]
    assert survey["name"] == "Deploy the web app"
    assert [q["variable"] for q in survey["spec"]] == ["webapp_version", "webapp_workers"]
    assert survey["spec"][0]["required"] is True
    assert survey["spec"][1] == {
        "question_name": "Workers",
        "question_description": "",
        "variable": "webapp_workers",
        "required": False,
        "type": "integer",
        "default": 4,
    }
    assert results[1].get("failed") is not True
    assert results[1]["msg"] == "All assertions passed"


def test_survey_errors_become_filter_errors():
    with pytest.raises(AnsibleFilterError, match=r"argument_spec_to_survey: .*webapp_env"):
        plugin.argument_spec_to_survey(WEBAPP_SPEC, include=["webapp_env"])
    with pytest.raises(AnsibleFilterError, match="entry point 'other'"):
        plugin.argument_spec_to_survey(WEBAPP_SPEC, entry_point="other")


def test_filter_passes_options_through():
    survey = plugin.argument_spec_to_survey(
        WEBAPP_SPEC, name="N", description="D", exclude=["webapp_workers"]
    )
    assert survey["name"] == "N"
    assert survey["description"] == "D"
    assert [q["variable"] for q in survey["spec"]] == ["webapp_version", "webapp_secret_key"]
    assert survey["spec"][1]["type"] == "password"


def test_filter_is_registered():
    assert plugin.FilterModule().filters() == {
        "argument_spec_to_survey": plugin.argument_spec_to_survey
    }
