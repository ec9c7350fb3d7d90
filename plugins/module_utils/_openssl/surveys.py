# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX/AAP survey specifications generated from roles' ``meta/argument_specs.yml``.

The roles' argument specifications are the single source of truth for their inputs; the
surveys of the job templates are derived from them, never written by hand.

Mapping (AWX survey question types):

=========================  ==============================================================
argument spec              survey question
=========================  ==============================================================
``str``/``path``/``raw``   ``text`` (``multiplechoice`` with ``choices``)
``no_log: true``           ``password``
``int``                    ``integer`` (``multiplechoice`` with ``choices``)
``float``                  ``float``
``bool``                   ``multiplechoice`` ``true``/``false`` (the answer is a string)
``list`` with ``choices``  ``multiselect`` (the answer is a list)
``list`` of scalars        ``textarea``, comma-separated (the answer is a string)
``dict``, ``list`` of dict not surveyable: set them in the template's extra variables
=========================  ==============================================================

An empty string among the choices means "not set": it is dropped from the choices and the
question is not required. ``required``, ``default`` and ``description`` (markup removed) are
carried over.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

TEXT_MAX = 1024
TEXTAREA_MAX = 4096
SCALAR_ELEMENTS = frozenset({"str", "path", "int", "float", "raw", "bool", "bytes", "bits"})
TEXT_TYPES = frozenset({"str", "path", "raw", "bytes", "bits", "jsonarg", "json"})
# Ansible documentation markup: C(x) V(x) O(x) M(x) I(x) B(x) RV(x) E(x) P(x) U(x); L(text,url)
_MARKUP = re.compile(r"\b(?:C|V|O|M|I|B|RV|E|P|U)\(([^()]*)\)")
_LINK = re.compile(r"\bL\(([^(),]*),[^()]*\)")
_SPACE = re.compile(r"\s+")


class SurveyError(PatchwiseError):
    """An argument specification cannot be turned into the requested survey."""


def plain_text(description: Any) -> str:
    """A role option's description (string or list of paragraphs) as plain text."""
    if description is None:
        return ""
    parts = description if isinstance(description, list) else [description]
    text = " ".join(str(p) for p in parts if p is not None)
    text = _LINK.sub(r"\1", text)
    text = _MARKUP.sub(r"\1", text)
    return _SPACE.sub(" ", text).strip()


def options_of(spec: Any, entry_point: str = "main") -> dict[str, dict[str, Any]]:
    """The options of one entry point.

    ``spec`` is a whole ``meta/argument_specs.yml`` document, its ``argument_specs`` mapping,
    or one entry point (a mapping with ``options``).
    """
    if not isinstance(spec, dict):
        raise SurveyError(f"argument spec must be a mapping, got {type(spec).__name__}")
    if "argument_specs" in spec:
        spec = spec["argument_specs"]
        if not isinstance(spec, dict):
            raise SurveyError("argument_specs must be a mapping of entry points")
    if "options" not in spec:
        if entry_point not in spec:
            raise SurveyError(
                f"entry point {entry_point!r} not in the argument spec "
                f"(has: {', '.join(sorted(map(str, spec))) or 'none'})"
            )
        spec = spec[entry_point]
        if not isinstance(spec, dict):
            raise SurveyError(f"entry point {entry_point!r} must be a mapping")
    options = spec.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise SurveyError(f"options of entry point {entry_point!r} must be a mapping")
    for name, option in options.items():
        if not isinstance(option, dict):
            raise SurveyError(f"option {name!r} must be a mapping")
    return options


def unsurveyable_reason(option: dict[str, Any]) -> str | None:
    """Why an option cannot be a survey question, or None when it can."""
    kind = option.get("type", "str")
    if not isinstance(kind, str):
        return f"type {kind!r} is not a type name"
    if kind == "dict" or (option.get("options") is not None and kind != "list"):
        return "dict options cannot be a survey question; set them in extra variables"
    if kind == "list":
        elements = option.get("elements", "str")
        if (
            not isinstance(elements, str)
            or elements not in SCALAR_ELEMENTS
            or option.get("options") is not None
        ):
            return f"list of {elements} cannot be a survey question; set it in extra variables"
        return None
    if kind in TEXT_TYPES or kind in ("int", "float", "bool"):
        return None
    return f"type {kind} has no survey question type"


def _humanize(variable: str, prefix: str) -> str:
    name = variable[len(prefix) :] if prefix and variable.startswith(prefix) else variable
    words = name.replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else variable


def _choices(option: dict[str, Any]) -> tuple[list[str], bool]:
    """String choices without the empty "not set" choice, and whether it was present."""
    raw = option.get("choices") or []
    if not isinstance(raw, list):
        raise SurveyError("choices must be a list")
    choices = [_scalar_text(c) for c in raw]
    return [c for c in choices if c != ""], "" in choices


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def question(variable: str, option: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """One AWX survey question for a role option; raises SurveyError when not surveyable."""
    reason = unsurveyable_reason(option)
    if reason:
        raise SurveyError(f"{variable}: {reason}")
    kind = option.get("type", "str")
    required = option.get("required") is True
    has_default = "default" in option and option["default"] is not None
    default = option.get("default")
    q: dict[str, Any] = {
        "question_name": _humanize(variable, prefix),
        "question_description": plain_text(option.get("description")),
        "variable": variable,
        "required": required,
    }
    choices, empty_choice = _choices(option)
    if empty_choice:
        q["required"] = False
    if kind == "list":
        items = default if isinstance(default, list) else []
        if any(isinstance(v, (dict, list)) for v in items):
            raise SurveyError(f"{variable}: default {default!r} is not a list of single values")
        if choices:
            q["type"] = "multiselect"
            q["choices"] = choices
            texts = [_scalar_text(v) for v in items]
            if any(t not in choices for t in texts):
                raise SurveyError(f"{variable}: default {default!r} is not among the choices")
            q["default"] = "\n".join(texts)
        else:
            q["type"] = "textarea"
            q.update(min=0, max=TEXTAREA_MAX)
            q["default"] = _text_default(
                variable, ",".join(_scalar_text(v) for v in items), TEXTAREA_MAX
            )
            q["question_description"] = (q["question_description"] + " Comma-separated.").strip()
        return q
    if kind == "bool":
        q["type"] = "multiplechoice"
        q["choices"] = ["true", "false"]
        if has_default:
            q["default"] = _scalar_text(bool(default))
        return q
    if choices:
        q["type"] = "multiplechoice"
        q["choices"] = choices
        if has_default and _scalar_text(default) in choices:
            q["default"] = _scalar_text(default)
        elif has_default and _scalar_text(default) == "":
            q["default"] = ""
        elif has_default:
            raise SurveyError(f"{variable}: default {default!r} is not one of the choices")
        return q
    if option.get("no_log") is True:
        q["type"] = "password"
        q.update(min=0, max=TEXT_MAX)
        # a secret has no default in a survey: AWX would store it
        return q
    if kind == "int":
        q["type"] = "integer"
        if has_default:
            q["default"] = _number(variable, default, int)
        return q
    if kind == "float":
        q["type"] = "float"
        if has_default:
            q["default"] = _number(variable, default, float)
        return q
    q["type"] = "text"
    q.update(min=0, max=TEXT_MAX)
    if has_default:
        q["default"] = _text_default(variable, default, TEXT_MAX)
    return q


def _text_default(variable: str, value: Any, limit: int) -> str:
    if isinstance(value, (dict, list)):
        raise SurveyError(f"{variable}: default {value!r} is not a single value")
    text = _scalar_text(value)
    if len(text) > limit:
        raise SurveyError(f"{variable}: default is longer than {limit} characters")
    return text


def _number(variable: str, value: Any, kind: type) -> int | float:
    if isinstance(value, bool):
        raise SurveyError(f"{variable}: default {value!r} is not a number")
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise SurveyError(f"{variable}: default {value!r} is not a number") from exc
    if kind is int and isinstance(value, float) and value != number:
        raise SurveyError(f"{variable}: default {value!r} is not an integer")
    return number


def _merged_options(
    specs: list[Any], entry_points: list[str]
) -> dict[str, tuple[dict[str, Any], str]]:
    merged: dict[str, tuple[dict[str, Any], str]] = {}
    for spec, entry_point in zip(specs, entry_points):
        for name, option in options_of(spec, entry_point).items():
            if name in merged and merged[name][0] != option:
                raise SurveyError(f"option {name!r} is defined differently by two sources")
            merged.setdefault(name, (option, entry_point))
    return merged


def _common_prefix(names: list[str]) -> str:
    prefixes = {n.split("_", 1)[0] + "_" for n in names if "_" in n}
    return prefixes.pop() if len(prefixes) == 1 else ""


def survey_spec(
    specs: Any,
    entry_point: str | list[str] = "main",
    name: str = "",
    description: str = "",
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An AWX survey spec (``name``, ``description``, ``spec``) for one or more roles.

    ``specs`` is one argument spec document or a list of them; ``entry_point`` one name for
    all or one per document. ``include`` selects and orders the options (an option in it that
    cannot be a question is an error); without it every surveyable option is used, in the
    documents' order. ``exclude`` drops options. ``defaults`` replaces option defaults (for
    example a job template that fixes a different default).
    """
    spec_list = specs if isinstance(specs, list) else [specs]
    if not spec_list:
        raise SurveyError("no argument spec given")
    points = entry_point if isinstance(entry_point, list) else [entry_point] * len(spec_list)
    if len(points) != len(spec_list):
        raise SurveyError("entry_point must be one name or one name per argument spec")
    merged = _merged_options(spec_list, points)
    excluded = set(exclude or [])
    overrides = dict(defaults or {})
    unknown = sorted(set(include or []) - set(merged)) + sorted(set(overrides) - set(merged))
    if unknown:
        raise SurveyError(f"options not in the argument spec: {', '.join(unknown)}")
    if include is not None:
        names = [n for n in include if n not in excluded]
    else:
        names = [
            n for n, (o, _ep) in merged.items() if n not in excluded and not unsurveyable_reason(o)
        ]
    prefix = _common_prefix(names)
    questions = []
    for variable in names:
        option = dict(merged[variable][0])
        if variable in overrides:
            option["default"] = overrides[variable]
        questions.append(question(variable, option, prefix))
    if not questions:
        raise SurveyError("the survey has no question (AWX refuses an empty survey)")
    return {"name": name, "description": description, "spec": questions}


def skipped_options(specs: Any, entry_point: str | list[str] = "main") -> dict[str, str]:
    """Options that cannot be survey questions, with the reason (for documentation)."""
    spec_list = specs if isinstance(specs, list) else [specs]
    points = entry_point if isinstance(entry_point, list) else [entry_point] * len(spec_list)
    return {
        n: reason
        for n, (o, _ep) in _merged_options(spec_list, points).items()
        if (reason := unsurveyable_reason(o))
    }
