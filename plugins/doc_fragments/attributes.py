# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared documentation of module attributes (check mode, diff mode, facts, platform)."""

from __future__ import annotations


class ModuleDocFragment:
    """Attribute descriptions, so each module states only its level of support."""

    # Every module: check mode and diff mode.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
"""

    # Modules that return ansible_facts.
    FACTS = r"""
options: {}
attributes:
  facts:
    support: full
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
"""

    # Modules that run on Linux hosts (they read /proc or use a Linux package manager).
    PLATFORM_LINUX = r"""
options: {}
attributes:
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against. Linux; reads C(/proc).
"""

    # Action plugins that run on the controller only.
    ACTION = r"""
options: {}
attributes:
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
  async:
    support: none
    description: Supports being used with the C(async) keyword.
"""
