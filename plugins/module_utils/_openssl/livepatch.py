# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Userspace live patching: KernelCare LibCare, open-source LibCare and SUSE libpulp.

Parsers for

* ``libcare-ctl info`` (cloudlinux/libcare ``src/kpatch_user.c``): ``pid=<pid> comm=<comm>``
  followed by ``<object> buildid=<id> [patchlvl=<n>] [latest=<n>] [VULNERABLE]`` lines, possibly
  with ANSI colour codes;
* ``libcare-client info -j`` (KernelCare): one JSON object per line with ``pid`` and
  ``buildid``;
* ``kcarectl --lib-info`` (KernelCare): JSON whose layout is not publicly documented; the parser
  walks it and keeps every object that carries a ``pid``;
* ``/var/cache/kcare/libcare_cvelist``: one CVE id per line;
* ``ulp patches`` (SUSE/libpulp ``tools/patches.c``): ``PID: <pid>, name: <comm>`` blocks with
  ``in <library> [(<buildid>)]:`` and ``livepatch: <file>`` / ``bug labels: ...`` lines.

None of them raises for odd input: unknown lines are ignored, the result carries warnings.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.changelogs import CVE_RE

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KCARE_CVELIST = "/var/cache/kcare/libcare_cvelist"
LIBCARE_CLIENT = "/usr/libexec/kcare/libcare-client"
MAX_OUTPUT = 16 * 1024 * 1024


def _cves(text: str) -> list[str]:
    seen: list[str] = []
    for raw in CVE_RE.findall(text or ""):
        cve = raw.upper()
        if cve not in seen:
            seen.append(cve)
    return seen


def _to_int(value: Any) -> int | None:
    """A non-negative number of at most 10 digits (pids, patch levels), else None."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def parse_libcare_ctl_info(text: str) -> list[dict[str, Any]]:
    patched = []
    pid = comm = None
    for raw in (text or "")[:MAX_OUTPUT].splitlines():
        line = ANSI_RE.sub("", raw).strip()
        if not line:
            continue
        head = re.match(r"^pid=([0-9]{1,10})\s+comm=(.*)$", line)
        if head:
            pid, comm = int(head.group(1)), head.group(2).strip()
            continue
        obj = re.match(r"^(\S+)\s+buildid=([0-9a-fA-F]+)(.*)$", line)
        if obj and pid is not None:
            rest = obj.group(3)
            level = re.search(r"\bpatchlvl=([0-9]{1,9})\b", rest)
            latest = re.search(r"\blatest=([0-9]{1,9})\b", rest)
            patched.append(
                {
                    "pid": pid,
                    "comm": comm,
                    "object": obj.group(1),
                    "build_id": obj.group(2).lower(),
                    "patch_level": int(level.group(1)) if level else None,
                    "latest_level": int(latest.group(1)) if latest else None,
                    "vulnerable": "VULNERABLE" in rest,
                    "cves": [],
                    "source": "libcare-ctl",
                }
            )
    return patched


def _walk(node: Any, found: list[dict[str, Any]], depth: int = 0) -> None:
    if depth > 32:
        return
    if isinstance(node, dict):
        if "pid" in node:
            found.append(node)
        for value in node.values():
            _walk(value, found, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _walk(value, found, depth + 1)


def _record_from_json(node: dict[str, Any], source: str) -> dict[str, Any]:
    build_id = node.get("buildid") or node.get("build_id") or node.get("build-id")
    level = node.get("patchlvl", node.get("patch_level", node.get("patchlevel")))
    obj = node.get("object") or node.get("name") or node.get("path") or node.get("lib")
    cves = node.get("cves") or node.get("cve") or []
    if not isinstance(cves, list):
        cves = [cves]
    comm = node.get("comm")
    return {
        "pid": _to_int(node.get("pid")),
        "comm": comm if isinstance(comm, str) else None,
        "object": obj if isinstance(obj, str) else None,
        "build_id": build_id.lower() if isinstance(build_id, str) else None,
        "patch_level": _to_int(level) if level is not None else None,
        "latest_level": None,
        "vulnerable": False,
        "cves": _cves(" ".join(str(c) for c in cves if c)),
        "source": source,
    }


def parse_json_records(text: str, source: str, warnings: list[str]) -> list[dict[str, Any]]:
    """Parse a JSON document or JSON lines; keep every object that carries a ``pid``."""
    documents: list[Any] = []
    text = (text or "")[:MAX_OUTPUT]
    try:
        documents.append(json.loads(text))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
        bad = 0
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                documents.append(json.loads(line))
            except (ValueError, RecursionError):
                bad += 1
        if bad:
            warnings.append(f"{source}: {bad} line(s) were not JSON")
    nodes: list[dict[str, Any]] = []
    for doc in documents:
        _walk(doc, nodes)
    records = []
    for node in nodes:
        record = _record_from_json(node, source)
        if record["pid"] is not None:
            records.append(record)
    return records


def parse_cvelist(text: str) -> list[str]:
    return _cves(text)


def parse_ulp_patches(text: str) -> list[dict[str, Any]]:
    """Parse ``ulp patches`` (optionally with ``-b`` build ids)."""
    patched: list[dict[str, Any]] = []
    pid = comm = None
    current: dict[str, Any] | None = None
    for raw in (text or "")[:MAX_OUTPUT].splitlines():
        line = ANSI_RE.sub("", raw).rstrip()
        head = re.match(r"^PID:\s*([0-9]{1,10}),\s*name:\s*(.*)$", line.strip())
        if head:
            pid, comm = int(head.group(1)), head.group(2).strip()
            current = None
            continue
        lib = re.match(
            r"^\s+in\s+(.+?)(?:\s+\(([0-9a-fA-F]{8,})\))?(?:\s+\(version [^)]*\))?:$", line
        )
        if lib and pid is not None:
            current = {
                "pid": pid,
                "comm": comm,
                "object": lib.group(1),
                "build_id": lib.group(2).lower() if lib.group(2) else None,
                "patch_level": None,
                "latest_level": None,
                "vulnerable": False,
                "patches": [],
                "cves": [],
                "source": "ulp",
            }
            continue
        if current is None:
            continue
        patch = re.match(r"^\s+livepatch:\s+(\S+)", line)
        if patch:
            if not current["patches"]:
                patched.append(current)
            current["patches"].append(patch.group(1))
            current["patch_level"] = len(current["patches"])
            continue
        if re.match(r"^\s+bug labels:", line):
            for cve in _cves(line):
                if cve not in current["cves"]:
                    current["cves"].append(cve)
    return patched


def gather(
    run: Callable[[list], tuple],
    get_bin_path: Callable[[str], str | None],
    read_text: Callable[[str], str | None],
    warnings: list[str],
) -> dict[str, Any]:
    """Presence and state of userspace live patching tools; read-only commands only."""
    kcarectl = get_bin_path("kcarectl")
    libcare_ctl = get_bin_path("libcare-ctl")
    ulp = get_bin_path("ulp")
    cvelist_text = read_text(KCARE_CVELIST)
    client = LIBCARE_CLIENT if os.access(LIBCARE_CLIENT, os.X_OK) else None
    result: dict[str, Any] = {
        "kernelcare": {
            "present": bool(kcarectl),
            "path": kcarectl,
            "version": None,
            "libcare_enabled": cvelist_text is not None,
        },
        "libcare": {"present": bool(libcare_ctl), "path": libcare_ctl},
        "libpulp": {"present": bool(ulp), "path": ulp},
        "patched": [],
        "cves": parse_cvelist(cvelist_text or ""),
    }
    if kcarectl:
        rc, out, _err = run([kcarectl, "--version"])
        if rc == 0 and out.strip():
            result["kernelcare"]["version"] = out.strip().splitlines()[0][:100]
        rc, out, err = run([kcarectl, "--lib-info"])
        if rc == 0:
            result["patched"].extend(parse_json_records(out, "kcarectl", warnings))
        else:
            warnings.append(f"kcarectl --lib-info failed: {(err or out).strip()[:200]}")
    if client and not result["patched"]:
        rc, out, _err = run([client, "info", "-j"])
        if rc == 0:
            result["patched"].extend(parse_json_records(out, "libcare-client", warnings))
    if libcare_ctl:
        rc, out, err = run([libcare_ctl, "info"])
        if rc == 0:
            result["patched"].extend(parse_libcare_ctl_info(out))
        else:
            warnings.append(f"libcare-ctl info failed: {(err or out).strip()[:200]}")
    if ulp:
        rc, out, err = run([ulp, "patches", "-b"])
        if rc == 0:
            result["patched"].extend(parse_ulp_patches(out))
        else:
            warnings.append(f"ulp patches failed: {(err or out).strip()[:200]}")
    for record in result["patched"]:
        for cve in record["cves"]:
            if cve not in result["cves"]:
                result["cves"].append(cve)
    return result
