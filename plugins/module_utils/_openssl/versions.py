# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenSSL version strings: parsing and a correct total order.

OpenSSL numbers its releases in two schemes (see docs/vulndb.md):

* before 3.0: ``MAJOR.MINOR.FIX`` plus letters, ``0.9.8y`` < ``0.9.8za`` < ``0.9.8zh``;
  the branch is ``MAJOR.MINOR.FIX`` (``1.0.2``, ``1.1.1``);
* 3.0 and later: ``MAJOR.MINOR.PATCH`` (``3.0.9`` < ``3.0.10``); the branch is
  ``MAJOR.MINOR`` (``3.0``, ``3.5``, ``4.0``).

Both know pre-releases (``-dev`` < ``-alpha1`` < ``-beta1`` < ``-pre1`` < ``-rc1`` < release),
distribution build markers (``1.0.1e-fips``) and build metadata (``3.0.0+quic``); the last two
are kept but ignored for ordering. ``0.9.6-cvs`` is the never-released CVS head of a branch: it
sorts after every release of that branch. FIPS object module pseudo-versions
(``fips-1.1.2``) are a separate kind that never compares with library versions.

Neither string comparison nor PEP 440 gets these right; this module does, with the standard
library only (it runs on Python 3.9+).
"""

from __future__ import annotations

import functools
import re

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    VersionError,
)

LIBRARY = "library"
FIPS_MODULE = "fips_module"

# Rank of pre-release tags; a release (no tag) ranks above all of them.
_PRERELEASE_RANK = {"dev": 0, "alpha": 1, "beta": 2, "pre": 3, "rc": 4}
_RELEASE_RANK = 10
_SNAPSHOT_RANK = 99  # "-cvs": after every release of the same numbers, whatever its letters

_MAX_LEN = 64

_LIBRARY_RE = re.compile(
    r"""
    (?P<major>0|[1-9][0-9]{0,3})\.(?P<minor>0|[1-9][0-9]{0,3})\.(?P<patch>0|[1-9][0-9]{0,3})
    (?P<letters>z*[a-z])?
    (?:-(?P<tag>dev|alpha|beta|pre|rc)(?P<tagnum>0|[1-9][0-9]{0,3})?)?
    (?P<cvs>-cvs)?
    (?P<fips>-fips)?
    (?:\+(?P<build>[0-9A-Za-z][0-9A-Za-z.\-]{0,31}))?
    """,
    re.VERBOSE,
)
# numbers as in version strings: no leading zeros ("03.0" would name a branch no version has)
_BRANCH_RE = re.compile(r"(?:0|[1-9][0-9]{0,3})(?:\.(?:0|[1-9][0-9]{0,3})){1,2}")
_FIPS_RE = re.compile(
    r"fips-(?P<major>0|[1-9][0-9]{0,3})\.(?P<minor>0|[1-9][0-9]{0,3})"
    r"(?:\.(?P<patch>0|[1-9][0-9]{0,3}))?"
)


@functools.total_ordering
class OpenSSLVersion:
    """One parsed OpenSSL version. Immutable, hashable, totally ordered within its kind."""

    __slots__ = (
        "_key",
        "_text",
        "build",
        "fips_suffix",
        "kind",
        "letters",
        "major",
        "minor",
        "patch",
        "prerelease",
        "snapshot",
    )

    def __init__(
        self,
        major: int,
        minor: int,
        patch: int,
        letters: str = "",
        prerelease: tuple[str, int] | None = None,
        snapshot: bool = False,
        fips_suffix: bool = False,
        build: str | None = None,
        kind: str = LIBRARY,
        text: str | None = None,
    ) -> None:
        self.major = major
        self.minor = minor
        self.patch = patch
        self.letters = letters
        self.prerelease = prerelease
        self.snapshot = snapshot
        self.fips_suffix = fips_suffix
        self.build = build
        self.kind = kind
        self._text = text if text is not None else self._format()
        self._key = self._sort_key()

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: object) -> OpenSSLVersion:
        """Parse a version string such as ``1.0.2za``, ``3.0.0-alpha17``, ``fips-1.1.2``.

        Surrounding white space is ignored. Raises :class:`VersionError` for anything else.
        """
        if not isinstance(text, str):
            raise VersionError(f"not a version string: {text!r}")
        return _parse_cached(text.strip())

    def _format(self) -> str:
        if self.kind == FIPS_MODULE:
            return f"fips-{self.major}.{self.minor}.{self.patch}"
        out = f"{self.major}.{self.minor}.{self.patch}{self.letters}"
        if self.prerelease is not None:
            tag, num = self.prerelease
            out += f"-{tag}{num if num else ''}"
        if self.snapshot:
            out += "-cvs"
        if self.fips_suffix:
            out += "-fips"
        if self.build:
            out += f"+{self.build}"
        return out

    # -- properties --------------------------------------------------------------------------

    @property
    def branch(self) -> str:
        """Release branch: ``1.0.2`` / ``1.1.1`` before 3.0, ``3.0`` / ``3.5`` / ``4.0`` after;
        ``fips-1.1`` for FIPS module versions."""
        if self.kind == FIPS_MODULE:
            return f"fips-{self.major}.{self.minor}"
        if self.major >= 3:
            return f"{self.major}.{self.minor}"
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def is_prerelease(self) -> bool:
        """True for ``-dev``, ``-alpha``, ``-beta``, ``-pre`` and ``-rc`` versions."""
        return self.prerelease is not None

    @property
    def is_release(self) -> bool:
        """True for a published release (no pre-release tag, not a CVS snapshot)."""
        return self.prerelease is None and not self.snapshot

    @property
    def is_fips_module(self) -> bool:
        return self.kind == FIPS_MODULE

    @property
    def release(self) -> OpenSSLVersion:
        """The same version without build markers (``1.0.1e-fips+x`` -> ``1.0.1e``)."""
        return OpenSSLVersion(
            self.major,
            self.minor,
            self.patch,
            self.letters,
            self.prerelease,
            self.snapshot,
            kind=self.kind,
        )

    @property
    def sort_key(self) -> tuple[int, int, int, int, str, int, int]:
        """Tuple that orders versions of one kind exactly like the comparison operators."""
        return self._key

    def _sort_key(self) -> tuple[int, int, int, int, str, int, int]:
        if self.snapshot:
            # the branch head in CVS: after every lettered release of these numbers
            return (self.major, self.minor, self.patch, _SNAPSHOT_RANK, "", _SNAPSHOT_RANK, 0)
        if self.prerelease is not None:
            rank, num = _PRERELEASE_RANK[self.prerelease[0]], self.prerelease[1]
        else:
            rank, num = _RELEASE_RANK, 0
        return (self.major, self.minor, self.patch, len(self.letters), self.letters, rank, num)

    # -- comparison --------------------------------------------------------------------------

    def _check_comparable(self, other: OpenSSLVersion) -> None:
        if self.kind != other.kind:
            raise VersionError(
                f"cannot compare {self.kind.replace('_', ' ')} version {self} "
                f"with {other.kind.replace('_', ' ')} version {other}"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OpenSSLVersion):
            return NotImplemented
        return self.kind == other.kind and self._key == other._key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, OpenSSLVersion):
            return NotImplemented
        self._check_comparable(other)
        return self._key < other._key

    def __hash__(self) -> int:
        return hash((self.kind, self._key))

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"OpenSSLVersion({self._text!r})"


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> OpenSSLVersion:
    if not text or len(text) > _MAX_LEN:
        raise VersionError(f"not an OpenSSL version: {text[:_MAX_LEN]!r}")
    match = _FIPS_RE.fullmatch(text)
    if match:
        return OpenSSLVersion(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"] or 0),
            kind=FIPS_MODULE,
            text=text,
        )
    match = _LIBRARY_RE.fullmatch(text)
    if not match:
        raise VersionError(f"not an OpenSSL version: {text!r}")
    major = int(match["major"])
    letters = match["letters"] or ""
    if major >= 3 and letters:
        raise VersionError(f"OpenSSL {major}.x versions have no letter suffix: {text!r}")
    prerelease = None
    if match["tag"]:
        prerelease = (match["tag"], int(match["tagnum"] or 0))
    if prerelease is not None and match["cvs"]:
        raise VersionError(f"a CVS snapshot cannot be a pre-release: {text!r}")
    return OpenSSLVersion(
        major,
        int(match["minor"]),
        int(match["patch"]),
        letters,
        prerelease,
        snapshot=bool(match["cvs"]),
        fips_suffix=bool(match["fips"]),
        build=match["build"],
        text=text,
    )


def parse_version(text: object) -> OpenSSLVersion:
    """Shortcut for :meth:`OpenSSLVersion.parse`."""
    return OpenSSLVersion.parse(text)


def branch_of(text: object) -> str:
    """Branch of a version string (``"1.1.1w"`` -> ``"1.1.1"``, ``"3.0.19"`` -> ``"3.0"``)."""
    return OpenSSLVersion.parse(text).branch


def branch_sort_key(branch: str) -> tuple[int, ...]:
    """Order branch names numerically (``"1.1.1"`` < ``"3.0"`` < ``"3.10"``).

    Raises :class:`VersionError` for a name that is not a branch.
    """
    if not isinstance(branch, str) or not _BRANCH_RE.fullmatch(branch):
        raise VersionError(f"not an OpenSSL branch name: {branch!r}")
    parts = tuple(int(p) for p in branch.split("."))
    if parts[0] >= 3 and len(parts) != 2:
        raise VersionError(f"OpenSSL {parts[0]}.x branches are MAJOR.MINOR: {branch!r}")
    if parts[0] < 3 and len(parts) != 3:
        raise VersionError(f"OpenSSL branches before 3.0 are MAJOR.MINOR.FIX: {branch!r}")
    return parts


def branch_first_release(branch: str) -> str:
    """First release of a branch: ``"3.1"`` -> ``"3.1.0"``, ``"1.1.1"`` -> ``"1.1.1"``."""
    parts = branch_sort_key(branch)
    return branch if len(parts) == 3 else f"{branch}.0"
