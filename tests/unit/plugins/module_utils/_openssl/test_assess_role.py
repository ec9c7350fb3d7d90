# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role patchwise.openssl.assess: meta/argument_specs.yml is the single source of truth.

defaults/main.yml must define exactly the documented inputs with the documented defaults, and
the README's input table is generated from the spec. To regenerate the table after editing the
spec: ``PATCHWISE_REGENERATE=1 pytest <this file>``.
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest
import yaml

ROLE = pathlib.Path(__file__).parents[5] / "roles" / "assess"
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
BEGIN = "<!-- BEGIN generated from meta/argument_specs.yml -->"
END = "<!-- END generated from meta/argument_specs.yml -->"


def render_inputs(spec: dict) -> str:
    lines = [BEGIN, "", "| input | type | default | description |", "|---|---|---|---|"]
    for name, opt in spec["options"].items():
        kind = opt["type"] + (f" of {opt['elements']}" if "elements" in opt else "")
        default = opt.get("default")
        dumped = yaml.safe_dump(default, default_flow_style=True).strip()
        shown = "`" + dumped.removesuffix("...").strip() + "`"
        text = " ".join(" ".join(opt["description"]).split())
        if "choices" in opt:
            text += " Choices: " + ", ".join(f"`{c}`" for c in opt["choices"]) + "."
        text = text.replace("|", "\\|")
        lines.append(f"| `{name}` | {kind} | {shown} | {text} |")
    lines += ["", END]
    return "\n".join(lines)


def test_defaults_match_the_spec():
    assert set(DEFAULTS) == set(SPEC["options"])
    for name, opt in SPEC["options"].items():
        assert DEFAULTS[name] == opt["default"], name


def test_inputs_are_prefixed():
    assert all(name.startswith("assess_") for name in SPEC["options"])


def test_readme_inputs_are_generated_from_the_spec():
    readme_path = ROLE / "README.md"
    readme = readme_path.read_text()
    expected = render_inputs(SPEC)
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if os.environ.get("PATCHWISE_REGENERATE"):
        readme_path.write_text(pattern.sub(lambda _m: expected, readme))
        readme = readme_path.read_text()
    found = pattern.search(readme)
    assert found, "README.md lacks the generated input table markers"
    assert found.group(0) == expected, "regenerate with PATCHWISE_REGENERATE=1"


@pytest.mark.parametrize("name", sorted((ROLE / "tasks").glob("*.yml")), ids=lambda p: p.name)
def test_role_registers_and_sets_only_prefixed_names(name):
    tasks = yaml.safe_load(name.read_text()) or []
    for task in tasks:
        if "register" in task:
            assert task["register"].startswith("__assess_"), task["name"]
        facts = task.get("ansible.builtin.set_fact") or {}
        for var in facts:
            assert var.startswith(("assess_", "__assess_")), task["name"]
