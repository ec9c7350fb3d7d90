# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Distribution package versions: dpkg and rpm ordering, epoch/upstream/release splitting.

One implementation for the whole collection: the patch modules compare versions on the managed
host (strict: a malformed Debian version is an error), the assessment compares them on the
controller (lenient: it must never raise on whatever the facts carry).
"""

from __future__ import annotations

import re

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    ParseError,
)

_DEB_VERSION_RE = re.compile(r"^(?:([0-9]{1,10}):)?([A-Za-z0-9.+~:-]+?)(?:-([A-Za-z0-9.+~]+))?$")
_RPM_SEGMENT = re.compile(r"(~|\^|[0-9]+|[A-Za-z]+)")


def _is_digit(char: str) -> bool:
    """An ASCII digit, as C's isdigit() in dpkg and rpm (``"²".isdigit()`` is True)."""
    return "0" <= char <= "9"


def _dpkg_order(char: str) -> int:
    if char == "~":
        return -1
    if _is_digit(char):
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of one upstream or revision part (lib/dpkg/version.c verrevcmp)."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not _is_digit(a[i])) or (j < len(b) and not _is_digit(b[j])):
            ac = _dpkg_order(a[i]) if i < len(a) else 0
            bc = _dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and _is_digit(a[i]) and j < len(b) and _is_digit(b[j]):
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and _is_digit(a[i]):
            return 1
        if j < len(b) and _is_digit(b[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def split_evr(version: str) -> tuple[int, str, str]:
    """``[epoch:]upstream[-release]`` -> (epoch, upstream, release), never raising.

    The release is what follows the last ``-`` (Debian and RPM alike); a missing, non-numeric
    or absurdly long (more than 18 digits) epoch is 0.
    """
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isascii() and head.isdigit() and len(head) <= 18 else 0
    upstream, sep, release = version.rpartition("-")
    if not sep:
        return epoch, version, ""
    return epoch, upstream, release


def split_deb_version(version: str) -> tuple[int, str, str]:
    """(epoch, upstream, revision) of a Debian version; raises ParseError when malformed."""
    match = _DEB_VERSION_RE.match(version or "")
    # a colon in the upstream part needs an epoch (dpkg: "epoch in version is too big" when
    # the epoch is not a number it can hold)
    if not match or not match.group(2)[0].isdigit() or (":" in version and not match.group(1)):
        raise ParseError(f"not a Debian version: {version!r}")
    return int(match.group(1) or 0), match.group(2), match.group(3) or ""


def compare_deb_versions(a: str, b: str) -> int:
    """<0, 0, >0 like ``dpkg --compare-versions``; raises ParseError on a malformed version."""
    ea, ua, ra = split_deb_version(a)
    eb, ub, rb = split_deb_version(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def dpkg_compare(left: str, right: str) -> int:
    """Compare two Debian package versions like ``dpkg --compare-versions`` (<0, 0, >0),
    without validating them first."""
    le, lu, lr = split_evr(left)
    re_, ru, rr = split_evr(right)
    if le != re_:
        return le - re_
    return _verrevcmp(lu, ru) or _verrevcmp(lr, rr)


def _rpm_vercmp(left: str, right: str) -> int:
    if left == right:
        return 0
    ls = _RPM_SEGMENT.findall(left)
    rs = _RPM_SEGMENT.findall(right)
    while ls or rs:
        lseg = ls.pop(0) if ls else None
        rseg = rs.pop(0) if rs else None
        if lseg == "~" or rseg == "~":
            if lseg != rseg:
                return -1 if lseg == "~" else 1
            continue
        if lseg == "^" or rseg == "^":
            if lseg is None:
                return -1
            if rseg is None:
                return 1
            if lseg != rseg:
                return 1 if lseg == "^" else -1
            continue
        if lseg is None:
            return -1
        if rseg is None:
            return 1
        if lseg.isdigit() != rseg.isdigit():
            return 1 if lseg.isdigit() else -1
        if lseg.isdigit():
            # as rpmvercmp: without leading zeros, the longer number is larger (no int(): a
            # segment may have more digits than int() converts)
            lnum, rnum = lseg.lstrip("0"), rseg.lstrip("0")
            if len(lnum) != len(rnum):
                return 1 if len(lnum) > len(rnum) else -1
            if lnum != rnum:
                return 1 if lnum > rnum else -1
        elif lseg != rseg:
            return 1 if lseg > rseg else -1
    return 0


def rpm_compare(left: str, right: str) -> int:
    """Compare two RPM ``[epoch:]version-release`` strings like rpm's vercmp (<0, 0, >0)."""
    le, lv, lr = split_evr(left)
    re_, rv, rr = split_evr(right)
    if le != re_:
        return le - re_
    return _rpm_vercmp(lv, rv) or _rpm_vercmp(lr, rr)


def package_compare(manager: str | None, left: str, right: str) -> int | None:
    """Compare package versions for ``dpkg`` or ``rpm``; ``None`` when it cannot be decided."""
    if not left or not right:
        return None
    if left == right:
        return 0
    try:
        if manager == "dpkg":
            return dpkg_compare(left, right)
        if manager == "rpm":
            return rpm_compare(left, right)
    except (ValueError, IndexError):
        return None
    return None
