# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error types of the collection.

Every error the collection raises on purpose derives from :class:`PatchwiseError`, so callers
(modules, action plugins, filters) can turn it into a clear message instead of a traceback.
"""

from __future__ import annotations


class PatchwiseError(Exception):
    """Base class of every error the collection raises on purpose."""


class ParseError(PatchwiseError):
    """Input text (command output, file content) could not be parsed."""


class VersionError(ParseError):
    """A string is not an OpenSSL version this collection understands."""


class DatabaseError(PatchwiseError):
    """The vulnerability database is missing, corrupt, or older than expected."""
