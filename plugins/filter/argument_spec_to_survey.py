# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: argument_spec_to_survey
short_description: AWX/AAP survey spec generated from roles' argument specifications
version_added: 0.1.0
author:
  - patchwise.openssl maintainers (!UNKNOWN)
description:
  - Turns the options of a role entry point (C(meta/argument_specs.yml)) into the survey spec
    of an AWX/AAP job template or workflow (C(survey_spec) of M(awx.awx.job_template)), so the
    argument specification stays the single source of truth for the job template's prompts.
  - "Types: C(str), C(path) and C(raw) become C(text) questions; C(int) C(integer); C(float)
    C(float); C(bool) a C(multiplechoice) of V(true)/V(false) (the answer is a string, which
    Ansible's C(bool) filter and argument validation accept); options with C(choices)
    C(multiplechoice); lists with C(choices) C(multiselect) (the answer is a list); other lists
    of scalars a C(textarea) of comma-separated values; C(no_log) options C(password)."
  - Dicts and lists of dicts cannot be survey questions; they are left out (set them in the
    template's extra variables). Naming one in O(include) is an error.
  - C(required), C(default) and C(description) (Ansible markup removed) are carried over. An
    empty string among the choices (meaning not set) is dropped and the question is not
    required.
options:
  _input:
    description:
      - A whole C(meta/argument_specs.yml) document, or a list of them (one survey for a job
        template that runs several roles).
    type: raw
    required: true
  entry_point:
    description: Entry point of the role, or one per document of the input list.
    type: raw
    default: main
  name:
    description: Name of the survey.
    type: string
    default: ""
  description:
    description: Description of the survey.
    type: string
    default: ""
  include:
    description:
      - Options to ask, in this order.
      - Default is every surveyable option, in the documents' order.
    type: list
    elements: string
  exclude:
    description:
      - Options never asked (for example those the job template fixes in its extra variables).
    type: list
    elements: string
    default: []
  defaults:
    description: Defaults that replace the argument specification's ones in this survey.
    type: dict
    default: {}
seealso:
  - module: awx.awx.job_template
"""

EXAMPLES = r"""
---
- name: Survey of a job template from the argument spec of a role next to the playbook
  ansible.builtin.debug:
    msg: >-
      {{ lookup('ansible.builtin.file', 'roles/webapp/meta/argument_specs.yml') | from_yaml
         | patchwise.openssl.argument_spec_to_survey(name='Deploy the web app',
                                                     exclude=['webapp_secret_key']) }}

- name: A survey from an inline argument spec
  ansible.builtin.assert:
    that:
      - survey.spec[0].type == 'multiplechoice'
      - survey.spec[0].choices == ['true', 'false']
      - survey.spec[1].type == 'integer'
  vars:
    survey: >-
      {{ {'argument_specs': {'main': {'options': {
            'demo_enabled': {'type': 'bool', 'default': true},
            'demo_retries': {'type': 'int', 'default': 3}}}}}
         | patchwise.openssl.argument_spec_to_survey(name='Demo') }}
"""

RETURN = r"""
_value:
  description: The survey spec, as C(survey_spec) of M(awx.awx.job_template) expects it.
  type: dict
  contains:
    name:
      description: Name of the survey.
      type: str
    description:
      description: Description of the survey.
      type: str
    spec:
      description:
        - One question per option, with C(question_name), C(question_description),
          C(variable), C(required), C(type), and when applicable C(default), C(choices),
          C(min) and C(max).
      type: list
      elements: dict
"""

from typing import Any  # noqa: E402 -- after the documentation blocks, as ansible plugins are laid out

from ansible.errors import AnsibleFilterError  # noqa: E402
from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (  # noqa: E402
    surveys,
)


def argument_spec_to_survey(
    specs: Any,
    entry_point: Any = "main",
    name: str = "",
    description: str = "",
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Survey spec for the options of one or more role entry points."""
    try:
        return surveys.survey_spec(
            specs,
            entry_point=entry_point,
            name=name,
            description=description,
            include=include,
            exclude=exclude,
            defaults=defaults,
        )
    except surveys.SurveyError as exc:
        raise AnsibleFilterError(f"argument_spec_to_survey: {exc}") from exc


class FilterModule:
    """patchwise.openssl.argument_spec_to_survey"""

    def filters(self) -> dict[str, Any]:
        return {"argument_spec_to_survey": argument_spec_to_survey}
