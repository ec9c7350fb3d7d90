# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Surveys generated from the roles' argument specs, checked against AWX's survey rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import surveys
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[5]
ROLE_SPECS = sorted(REPO.glob("roles/*/meta/argument_specs.yml"))

# AWX's rules for a survey spec (awx/api/views JobTemplateSurveySpec._validate_spec_data and
# the launch-time checks in awx/main/models/mixins.py), restated as data.
AWX_DEFAULT_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "textarea": (str,),
    "password": (str,),
    "multiplechoice": (str,),
    "multiselect": (str,),
    "integer": (int,),
    "float": (float, int),
}


def awx_errors(survey: dict[str, Any]) -> list[str]:
    """Every rule of AWX's survey validation the survey breaks (empty: AWX accepts it)."""
    errors = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            errors.append(f"{field} missing or not {kind.__name__}")
    if not survey.get("spec"):
        return [*errors, "spec is empty"]
    seen = set()
    for q in survey["spec"]:
        for field in ("type", "question_name", "variable"):
            if not isinstance(q.get(field), str):
                errors.append(f"{q.get('variable')}: {field} not a string")
        if not isinstance(q.get("required"), bool):
            errors.append(f"{q['variable']}: required not a bool")
        if q["variable"] in seen:
            errors.append(f"{q['variable']}: duplicated")
        seen.add(q["variable"])
        if q["type"] not in AWX_DEFAULT_TYPES:
            errors.append(f"{q['variable']}: type {q['type']}")
            continue
        default = q.get("default", "")
        if default != "" and (
            isinstance(default, bool) or not isinstance(default, AWX_DEFAULT_TYPES[q["type"]])
        ):
            errors.append(f"{q['variable']}: default {default!r} for {q['type']}")
        for key in ("min", "max"):
            if key in q and q[key] is not None and not isinstance(q[key], int):
                errors.append(f"{q['variable']}: {key} not an int")
        if q["type"] in ("multiplechoice", "multiselect"):
            choices = q.get("choices")
            if not choices or not all(isinstance(c, str) and c.strip() for c in choices):
                errors.append(f"{q['variable']}: choices")
                continue
            defaults = [d for d in str(default).splitlines() if d.strip()]
            if q["type"] == "multiplechoice" and len(defaults) > 1:
                errors.append(f"{q['variable']}: more than one default")
            if any(d not in choices for d in defaults):
                errors.append(f"{q['variable']}: default not among the choices")
        text = q["type"] in ("text", "textarea", "password") and isinstance(default, str)
        if text and not q.get("min", 0) <= len(default) <= q.get("max", 1024):
            errors.append(f"{q['variable']}: default length outside min/max")
    return errors


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def spec(**options: Any) -> dict[str, Any]:
    return {"argument_specs": {"main": {"short_description": "t", "options": options}}}


def one(option: dict[str, Any]) -> dict[str, Any]:
    return surveys.survey_spec(spec(demo_x=option))["spec"][0]


# -- every role of the collection ------------------------------------------------------------


def test_roles_found():
    names = {p.parts[-3] for p in ROLE_SPECS}
    assert {"assess", "patch", "verify", "rollback", "refresh"} <= names


@pytest.mark.parametrize("path", ROLE_SPECS, ids=lambda p: p.parts[-3])
def test_every_entry_point_of_every_role_gives_a_survey_awx_accepts(path):
    document = load(path)
    for entry_point, entry in document["argument_specs"].items():
        options = entry.get("options") or {}
        skipped = surveys.skipped_options(document, entry_point)
        if len(skipped) == len(options):
            with pytest.raises(surveys.SurveyError, match="no question"):
                surveys.survey_spec(document, entry_point)
            continue
        survey = surveys.survey_spec(document, entry_point, name=path.parts[-3])
        assert awx_errors(survey) == []
        asked = [q["variable"] for q in survey["spec"]]
        # every option is either asked or reported as not surveyable, in the spec's order
        assert sorted(asked + list(skipped)) == sorted(options)
        assert asked == [n for n in options if n in asked]


@pytest.mark.parametrize("path", ROLE_SPECS, ids=lambda p: p.parts[-3])
def test_survey_defaults_are_the_role_defaults(path):
    """A survey left as it is runs the role with its documented defaults."""
    document = load(path)
    for entry_point in document["argument_specs"]:
        options = document["argument_specs"][entry_point].get("options") or {}
        try:
            survey = surveys.survey_spec(document, entry_point)
        except surveys.SurveyError:
            continue
        for q in survey["spec"]:
            option = options[q["variable"]]
            if q["type"] == "password":
                assert "default" not in q  # AWX would store a secret default
                continue
            if "default" not in option or option["default"] is None:
                assert q.get("default", "") == ""
                continue
            default = option["default"]
            if option.get("type") == "bool":
                assert q["default"] == ("true" if default else "false")
            elif option.get("type") == "list":
                sep = "\n" if q["type"] == "multiselect" else ","
                assert q["default"] == sep.join(str(v) for v in default)
            elif option.get("type") in ("int", "float"):
                assert q["default"] == default
            else:
                assert q["default"] == str(default)


def test_assess_survey_in_detail():
    survey = surveys.survey_spec(load(REPO / "roles/assess/meta/argument_specs.yml"), name="A")
    by_var = {q["variable"]: q for q in survey["spec"]}
    assert by_var["assess_fail_on"] == {
        "question_name": "Fail on",
        "question_description": by_var["assess_fail_on"]["question_description"],
        "variable": "assess_fail_on",
        "required": False,
        "type": "multiplechoice",
        "choices": ["critical", "high", "moderate", "low", "none"],
        "default": "none",
    }
    assert by_var["assess_max_db_age_days"]["type"] == "integer"
    assert by_var["assess_max_db_age_days"]["default"] == 1095
    assert by_var["assess_scan_budget"]["type"] == "float"
    assert by_var["assess_gather_facts"]["choices"] == ["true", "false"]
    assert by_var["assess_report_formats"]["type"] == "multiselect"
    assert by_var["assess_report_formats"]["default"] == "json\nmarkdown\nhtml"
    assert by_var["assess_scan_paths"]["type"] == "textarea"
    assert by_var["assess_report_dir"]["type"] == "text"


# -- type mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ({"type": "str", "default": "x"}, {"type": "text", "default": "x", "min": 0, "max": 1024}),
        ({"type": "path", "default": "/srv"}, {"type": "text", "default": "/srv"}),
        ({"type": "raw"}, {"type": "text"}),
        ({}, {"type": "text"}),
        ({"type": "int", "default": 3}, {"type": "integer", "default": 3}),
        ({"type": "int", "default": "3"}, {"type": "integer", "default": 3}),
        ({"type": "float", "default": 2.5}, {"type": "float", "default": 2.5}),
        ({"type": "float", "default": 30}, {"type": "float", "default": 30.0}),
        (
            {"type": "bool", "default": False},
            {"type": "multiplechoice", "choices": ["true", "false"], "default": "false"},
        ),
        (
            {"type": "str", "choices": ["a", "b"], "default": "b"},
            {"type": "multiplechoice", "choices": ["a", "b"], "default": "b"},
        ),
        (
            {"type": "str", "choices": ["", "a"], "default": "", "required": True},
            {"type": "multiplechoice", "choices": ["a"], "default": "", "required": False},
        ),
        (
            {"type": "int", "choices": [1, 2], "default": 2},
            {"type": "multiplechoice", "choices": ["1", "2"], "default": "2"},
        ),
        (
            {"type": "list", "elements": "str", "choices": ["a", "b", "c"], "default": ["a", "c"]},
            {"type": "multiselect", "choices": ["a", "b", "c"], "default": "a\nc"},
        ),
        (
            {"type": "list", "elements": "path", "default": ["/a", "/b"]},
            {"type": "textarea", "default": "/a,/b", "min": 0, "max": 4096},
        ),
        ({"type": "list", "elements": "raw", "default": [1, "10%"]}, {"default": "1,10%"}),
        ({"type": "str", "no_log": True, "default": "s3cret"}, {"type": "password"}),
        ({"type": "str", "required": True}, {"required": True}),
    ],
)
def test_type_mapping(option, expected):
    q = one(option)
    for key, value in expected.items():
        assert q[key] == value, key
    assert q["variable"] == "demo_x"
    assert q["question_name"] == "X" or not q["question_name"].startswith("demo")
    assert awx_errors({"name": "", "description": "", "spec": [q]}) == []


def test_password_never_carries_its_default():
    assert "default" not in one({"type": "str", "no_log": True, "default": "s3cret"})


def test_no_default_means_no_default_key():
    assert "default" not in one({"type": "int"})
    assert "default" not in one({"type": "str", "default": None})


@pytest.mark.parametrize(
    "option",
    [
        {"type": "dict"},
        {"type": "list", "elements": "dict"},
        {"type": "list", "elements": "str", "options": {"a": {}}},
        {"type": "sid"},
    ],
)
def test_unsurveyable_options_are_left_out_or_refused(option):
    document = spec(demo_x=option, demo_y={"type": "str"})
    survey = surveys.survey_spec(document)
    assert [q["variable"] for q in survey["spec"]] == ["demo_y"]
    assert "demo_x" in surveys.skipped_options(document)
    with pytest.raises(surveys.SurveyError, match="demo_x"):
        surveys.survey_spec(document, include=["demo_x"])


def test_markup_is_removed_from_descriptions():
    q = one(
        {
            "description": [
                "Use O(demo_y) with V(true), see M(patchwise.openssl.openssl_facts) and",
                "L(the docs,https://example.invalid/x) or U(https://example.invalid/y).",
            ]
        }
    )
    assert q["question_description"] == (
        "Use demo_y with true, see patchwise.openssl.openssl_facts and the docs or "
        "https://example.invalid/y."
    )


def test_include_orders_exclude_drops_defaults_replace():
    document = spec(demo_a={"type": "int", "default": 1}, demo_b={}, demo_c={"type": "bool"})
    survey = surveys.survey_spec(
        document, include=["demo_c", "demo_a", "demo_b"], exclude=["demo_b"], defaults={"demo_a": 7}
    )
    assert [q["variable"] for q in survey["spec"]] == ["demo_c", "demo_a"]
    assert survey["spec"][1]["default"] == 7
    with pytest.raises(surveys.SurveyError, match="demo_z"):
        surveys.survey_spec(document, include=["demo_z"])
    with pytest.raises(surveys.SurveyError, match="demo_z"):
        surveys.survey_spec(document, defaults={"demo_z": 1})


def test_several_roles_in_one_survey():
    rollout = spec(rollout_a={"type": "int", "default": 1})
    patch = spec(patch_b={"type": "str"})
    survey = surveys.survey_spec([rollout, patch], entry_point=["main", "main"])
    assert [q["variable"] for q in survey["spec"]] == ["rollout_a", "patch_b"]
    # no common prefix: question names keep the role prefix
    assert survey["spec"][0]["question_name"] == "Rollout a"
    clash = spec(rollout_a={"type": "str"})
    with pytest.raises(surveys.SurveyError, match="differently"):
        surveys.survey_spec([rollout, clash])
    with pytest.raises(surveys.SurveyError, match="one name per"):
        surveys.survey_spec([rollout, patch], entry_point=["main"])


@pytest.mark.parametrize(
    ("document", "entry_point", "message"),
    [
        ("text", "main", "must be a mapping"),
        ({"argument_specs": []}, "main", "mapping of entry points"),
        (spec(demo_a={}), "other", "entry point 'other'"),
        ({"argument_specs": {"main": "x"}}, "main", "must be a mapping"),
        ({"argument_specs": {"main": {"options": []}}}, "main", "options"),
        ({"argument_specs": {"main": {"options": {"a": 1}}}}, "main", "option 'a'"),
        (spec(), "main", "no question"),
        ([], "main", "no argument spec"),
        (spec(demo_a={"type": "int", "default": "x"}), "main", "not a number"),
        (spec(demo_a={"type": "int", "default": 1.5}), "main", "not an integer"),
        (spec(demo_a={"choices": ["a"], "default": "b"}), "main", "not one of the choices"),
        (spec(demo_a={"choices": "ab"}), "main", "choices must be a list"),
        (
            spec(demo_a={"type": "list", "choices": [False], "default": [[]]}),
            "main",
            "not a list of single values",
        ),
        (spec(demo_a={"type": "list", "choices": ["a"], "default": ["b"]}), "main", "among"),
    ],
)
def test_bad_specs_raise_survey_error(document, entry_point, message):
    with pytest.raises(surveys.SurveyError, match=message):
        surveys.survey_spec(document, entry_point)


def test_entry_point_or_options_mapping_accepted():
    document = spec(demo_a={"type": "int"})
    assert surveys.options_of(document) == surveys.options_of(document["argument_specs"])
    assert surveys.options_of(document["argument_specs"]["main"]) == {"demo_a": {"type": "int"}}


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
options = st.dictionaries(
    st.sampled_from(["type", "elements", "default", "choices", "required", "no_log", "options"]),
    st.one_of(values, st.sampled_from(["str", "int", "bool", "list", "dict", "float", "path"])),
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), options, max_size=4))
def test_arbitrary_specs_give_a_valid_survey_or_survey_error(opts):
    try:
        survey = surveys.survey_spec(spec(**opts))
    except surveys.SurveyError:
        return
    assert awx_errors(survey) == []
