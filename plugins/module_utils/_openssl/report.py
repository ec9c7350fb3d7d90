# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet summary and report renderers for assessments made by :mod:`assess`.

Pure functions over plain dicts: :func:`fleet_summary` ranks hosts and counts findings;
:func:`render_json` (compact: :func:`render_host_json` for per-host files),
:func:`render_markdown`, :func:`render_html` (one self-contained page: inline CSS and an inline
SVG chart, no external reference of any kind) and :func:`render_prometheus` (node_exporter
textfile format) turn them into text. Atomic file
writing with restrictive modes is :func:`write_atomic`. Standard library only.
"""

from __future__ import annotations

import datetime
import gc
import html
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.patchwise.openssl.plugins.module_utils._openssl.errors import (
    PatchwiseError,
)

SEVERITY_ORDER = ("critical", "high", "moderate", "low", "unrated")
STATUS_ORDER = (
    "vulnerable",
    "unknown",
    "patched_in_memory",
    "fixed_by_backport",
    "fixed",
    "not_assessed",
)
PRIORITY_ORDER = ("critical", "high", "medium", "low", "none")
SEVERITY_COLOUR = {
    "critical": "#7b1fa2",
    "high": "#c62828",
    "moderate": "#ef6c00",
    "low": "#f9a825",
    "unrated": "#6d4c41",
}
UNKNOWN_COLOUR = "#90a4ae"
CHART_MAX_HOSTS = 40


class ReportError(PatchwiseError):
    """A report could not be produced or written."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def _count(value: Any) -> int:
    return int(_num(value))


# =========================================================================================
# fleet summary
# =========================================================================================


def _host_row(host: str, result: dict[str, Any]) -> dict[str, Any]:
    summary = _dict(result.get("summary"))
    risk = _dict(result.get("risk"))
    cves = _dict(summary.get("cves"))
    vulnerable = {s: _count(_dict(cves.get("vulnerable")).get(s)) for s in SEVERITY_ORDER}
    unknown = {s: _count(_dict(cves.get("unknown")).get(s)) for s in SEVERITY_ORDER}
    return {
        "host": host,
        "score": _num(risk.get("score")),
        "priority": risk.get("priority") or "none",
        "max_vulnerable_severity": summary.get("max_vulnerable_severity"),
        "vulnerable": vulnerable,
        "vulnerable_total": sum(vulnerable.values()),
        "unknown": unknown,
        "unknown_total": sum(unknown.values()),
        "eol_branches": [b for b in _list(summary.get("eol_branches")) if isinstance(b, str)],
        "restart_only": summary.get("restart_only") is True,
        "restart_services": _list(summary.get("restart_services")),
        "stale_processes": _count(summary.get("stale_processes")),
        "vulnerable_processes": _count(summary.get("vulnerable_processes")),
        "exposed_vulnerable_processes": _count(summary.get("exposed_vulnerable_processes")),
        "distro": _dict(result.get("facts")).get("distro"),
        "versions": sorted(
            {
                f"{c.get('implementation')} {c.get('version')}"
                for c in _list(result.get("copies"))
                if isinstance(c, dict) and c.get("version")
            }
        ),
        "gate_exceeded": _dict(result.get("gate")).get("exceeded") is True,
        "top": [
            t.get("rationale")
            for t in _list(risk.get("top"))[:3]
            if isinstance(t, dict) and t.get("rationale")
        ],
        "warnings": len(_list(result.get("warnings"))),
    }


def fleet_summary(
    results: Mapping[str, Any],
    missing: Mapping[str, str] | None = None,
    generated_at: str | None = None,
) -> dict[str, Any]:
    """Summarise host assessments: ranking by risk, counts by severity, EOL and restart-only.

    ``results`` maps host name -> assessment (as returned by ``Assessor.assess``); a value that
    is not a dict counts as missing. ``missing`` maps host name -> why it has no assessment.
    """
    enabled = gc.isenabled()
    gc.disable()  # many small acyclic objects: nothing for the cyclic collector to find
    try:
        return _fleet_summary(results, missing, generated_at)
    finally:
        if enabled:
            gc.enable()


def _fleet_summary(
    results: Mapping[str, Any], missing: Mapping[str, str] | None, generated_at: str | None
) -> dict[str, Any]:
    missing_hosts = dict(missing or {})
    rows = []
    status_counts = {s: 0 for s in STATUS_ORDER}
    severity = {k: {s: 0 for s in SEVERITY_ORDER} for k in ("vulnerable", "unknown")}
    fleet_cves: dict[str, dict[str, Any]] = {}
    databases = {}
    for host in sorted(results):
        result = results[host]
        if not isinstance(result, dict) or "summary" not in result:
            missing_hosts.setdefault(host, "no assessment result")
            continue
        row = _host_row(host, result)
        rows.append(row)
        for status, n in _dict(_dict(result.get("summary")).get("findings")).items():
            if status in status_counts:
                status_counts[status] += _count(n)
        for kind in severity:
            for sev in SEVERITY_ORDER:
                severity[kind][sev] += row[kind][sev]
        _collect_cves(fleet_cves, host, result)
        db = _dict(result.get("database"))
        if db:
            databases[(db.get("generated_at"), db.get("source_commit"))] = db
    rows.sort(key=lambda r: (-r["score"], r["host"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    priorities = {p: 0 for p in PRIORITY_ORDER}
    for row in rows:
        priorities[row["priority"] if row["priority"] in priorities else "none"] += 1
    cve_rows = sorted(
        fleet_cves.values(),
        key=lambda c: (
            -c["hosts_vulnerable"],
            SEVERITY_ORDER.index(c["severity"]) if c["severity"] in SEVERITY_ORDER else 9,
            c["cve"],
        ),
    )
    return {
        "schema_version": 1,
        "generated_at": generated_at
        or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hosts_total": len(rows) + len(missing_hosts),
        "hosts_assessed": len(rows),
        "hosts_missing": [{"host": h, "reason": missing_hosts[h]} for h in sorted(missing_hosts)],
        "databases": list(databases.values()),
        "ranking": rows,
        "priority_counts": priorities,
        "severity_counts": severity,
        "status_counts": status_counts,
        "cves": cve_rows,
        "eol_hosts": [
            {"host": r["host"], "branches": r["eol_branches"]} for r in rows if r["eol_branches"]
        ],
        "restart_only_hosts": [
            {"host": r["host"], "services": r["restart_services"]}
            for r in rows
            if r["restart_only"]
        ],
        "gate_exceeded_hosts": [r["host"] for r in rows if r["gate_exceeded"]],
    }


def host_digest(result: Any) -> Any:
    """The parts of one host assessment :func:`fleet_summary` reads, and nothing else.

    ``fleet_summary`` gives the same summary for digests as for the full results; a fleet
    summary built from thousands of host reports then holds a few hundred bytes per host
    instead of every finding (each report is parsed, digested and dropped). Anything that is
    not an assessment is returned as it is (the summary reports it as missing).
    """
    if not isinstance(result, dict) or "summary" not in result:
        return result
    risk = _dict(result.get("risk"))
    findings = [
        {"cve": f["cve"], "status": f.get("status"), "severity": f.get("severity")}
        for f in _list(result.get("findings"))
        if isinstance(f, dict)
        and isinstance(f.get("cve"), str)
        and f.get("status") in ("vulnerable", "unknown")
    ]
    return {
        "summary": result["summary"],
        "risk": {
            "score": risk.get("score"),
            "priority": risk.get("priority"),
            "top": _list(risk.get("top"))[:3],
        },
        "facts": {"distro": _dict(result.get("facts")).get("distro")},
        "copies": [
            {"implementation": c.get("implementation"), "version": c.get("version")}
            for c in _list(result.get("copies"))
            if isinstance(c, dict)
        ],
        "gate": {"exceeded": _dict(result.get("gate")).get("exceeded")},
        "warnings": _list(result.get("warnings")),
        "database": result.get("database"),
        "findings": findings,
    }


HOSTS_SUBDIR = "hosts"
DIGESTS_SUBDIR = ".digests"


def host_report_path(report_dir: str, host: str) -> str:
    """Where the report of ``host`` lives under ``report_dir``."""
    return os.path.join(report_dir, HOSTS_SUBDIR, safe_filename(host) + ".json")


def host_digest_path(report_dir: str, host: str) -> str:
    """Where the digest of the report of ``host`` lives (``hosts/.digests/<host>.json``)."""
    return os.path.join(report_dir, HOSTS_SUBDIR, DIGESTS_SUBDIR, safe_filename(host) + ".json")


def _stamp(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def write_host_report(report_dir: str, host: str, assessment: dict[str, Any]) -> str:
    """Write the report of ``host`` and its digest; return the report's path.

    The digest (:func:`host_digest`, a few KiB against tens for the report) names the report
    file it was made from by inode, size and modification time: :func:`load_host_reports`
    uses it only while the report is that very file, and parses the report otherwise.
    """
    path = host_report_path(report_dir, host)
    write_atomic(path, render_host_json(assessment))
    try:
        stamp = _stamp(os.stat(path))
    except OSError as exc:
        raise ReportError(f"cannot read back {path}: {exc.strerror or exc}") from exc
    digest = {
        "report": stamp,
        "run_id": assessment.get("run_id"),
        "digest": host_digest(assessment),
    }
    write_atomic(host_digest_path(report_dir, host), render_host_json(digest), fsync=False)
    return path


def _read_digest(report_dir: str, host: str, stamp: list[int]) -> dict[str, Any] | None:
    """The digest of the report with ``stamp``, or None (absent, unreadable or stale)."""
    try:
        with open(host_digest_path(report_dir, host), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("report") != stamp:
        return None
    digest = data.get("digest")
    return data if isinstance(digest, dict) and "summary" in digest else None


def load_host_reports(
    report_dir: str, hosts: Iterable[str], run_id: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the host reports of ``hosts`` for :func:`fleet_summary`: (digests, missing).

    A report's digest written with it (:func:`write_host_report`) is read instead of the
    report while the report is the file the digest was made from; otherwise the report is
    parsed and reduced to its :func:`host_digest` at once. A host without a readable report,
    or (with ``run_id``) with a report of another run, is missing, with why.
    """
    results: dict[str, Any] = {}
    missing: dict[str, str] = {}
    enabled = gc.isenabled()
    gc.disable()  # parsed reports are acyclic and dropped at once: nothing to collect
    try:
        for host in dict.fromkeys(hosts):
            path = host_report_path(report_dir, host)
            try:
                stamp = _stamp(os.stat(path))
            except FileNotFoundError:
                missing[host] = "no host report (host failed or was unreachable)"
                continue
            except OSError as exc:
                missing[host] = f"unreadable host report {path}: {exc}"
                continue
            known = _read_digest(report_dir, host, stamp)
            if known is not None:
                report_run, digest = known.get("run_id"), known["digest"]
            else:
                try:
                    with open(path, encoding="utf-8") as handle:
                        data = json.load(handle)
                except FileNotFoundError:
                    missing[host] = "no host report (host failed or was unreachable)"
                    continue
                except (OSError, ValueError) as exc:
                    missing[host] = f"unreadable host report {path}: {exc}"
                    continue
                if not isinstance(data, dict):
                    results[host] = data  # the summary lists it as not an assessment
                    continue
                report_run, digest = data.get("run_id"), host_digest(data)
            if run_id and report_run != run_id:
                missing[host] = "host report is from an earlier run (host failed or unreachable)"
                continue
            results[host] = digest
    finally:
        if enabled:
            gc.enable()
    return results, missing


def _collect_cves(acc: dict[str, dict[str, Any]], host: str, result: dict[str, Any]) -> None:
    worst: dict[str, tuple[str, str]] = {}
    for f in _list(result.get("findings")):
        if not isinstance(f, dict) or not isinstance(f.get("cve"), str):
            continue
        status = f.get("status")
        if status not in ("vulnerable", "unknown"):
            continue
        prev = worst.get(f["cve"])
        if prev is None or (prev[0] == "unknown" and status == "vulnerable"):
            worst[f["cve"]] = (status, f.get("severity") or "unrated")
    for cve, (status, sev) in worst.items():
        row = acc.setdefault(
            cve,
            {
                "cve": cve,
                "severity": sev,
                "hosts_vulnerable": 0,
                "hosts_unknown": 0,
                "hosts": [],
            },
        )
        row["hosts_vulnerable" if status == "vulnerable" else "hosts_unknown"] += 1
        if len(row["hosts"]) < 20:
            row["hosts"].append(host)


def stats(summary: Mapping[str, Any], top: int = 10) -> dict[str, Any]:
    """A compact summary for ``set_stats`` (AWX/AAP workflow artefacts)."""
    return {
        "run_id": summary.get("run_id"),
        "generated_at": summary.get("generated_at"),
        "hosts_total": summary.get("hosts_total"),
        "hosts_assessed": summary.get("hosts_assessed"),
        "hosts_missing": [h["host"] for h in _list(summary.get("hosts_missing"))],
        "priority_counts": summary.get("priority_counts"),
        "severity_counts": summary.get("severity_counts"),
        "eol_hosts": [h["host"] for h in _list(summary.get("eol_hosts"))],
        "restart_only_hosts": [h["host"] for h in _list(summary.get("restart_only_hosts"))],
        "gate_exceeded_hosts": summary.get("gate_exceeded_hosts"),
        "top_hosts": [
            {"host": r["host"], "score": r["score"], "priority": r["priority"]}
            for r in _list(summary.get("ranking"))[:top]
        ],
    }


# =========================================================================================
# renderers
# =========================================================================================


def render_json(data: Any, compact: bool = False) -> str:
    """Stable JSON (sorted keys) with a trailing newline: indented for people (the fleet
    summary), or ``compact`` without whitespace for machine-read files (host reports).

    ``indent`` makes ``json`` fall back to its pure-Python encoder; the compact form keeps the C
    encoder and is several times faster on large host reports, at half the size.
    """
    if compact:
        text = json.dumps(
            data, separators=(",", ":"), sort_keys=True, default=str, ensure_ascii=False
        )
    else:
        text = json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    return text + "\n"


def render_host_json(assessment: Any) -> str:
    """A per-host report file: compact JSON (see :func:`render_json`)."""
    return render_json(assessment, compact=True)


def _md(text: Any) -> str:
    """Escape text for a Markdown table cell."""
    out = str(text if text is not None else "")
    out = out.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return re.sub(r"([*`<>])", r"\\\1", out)


def render_markdown(summary: Mapping[str, Any], top_hosts: int = 50) -> str:
    """The fleet summary as Markdown (GitHub-flavoured tables)."""
    lines = [
        "# OpenSSL assessment",
        "",
        f"Generated {summary.get('generated_at')} - {summary.get('hosts_assessed')} of "
        f"{summary.get('hosts_total')} hosts assessed.",
        "",
    ]
    for db in _list(summary.get("databases")):
        lines.append(
            f"Vulnerability data: generated {db.get('generated_at')}, OpenSSL release-metadata "
            f"commit {str(db.get('source_commit') or '?')[:12]}, {db.get('records')} CVE entries."
        )
    lines += ["", "## Priorities", "", "| priority | hosts |", "|---|---:|"]
    for p in PRIORITY_ORDER:
        lines.append(f"| {p} | {_dict(summary.get('priority_counts')).get(p, 0)} |")
    lines += [
        "",
        "## CVEs by severity (distinct per host, summed over hosts)",
        "",
        "| status | " + " | ".join(SEVERITY_ORDER) + " |",
        "|---|" + "---:|" * len(SEVERITY_ORDER),
    ]
    for kind in ("vulnerable", "unknown"):
        counts = _dict(_dict(summary.get("severity_counts")).get(kind))
        lines.append(
            f"| {kind} | " + " | ".join(str(counts.get(s, 0)) for s in SEVERITY_ORDER) + " |"
        )
    lines += [
        "",
        "## Hosts ranked by risk",
        "",
        "| # | host | score | priority | vulnerable | unknown | EOL | restart-only | top finding |",
        "|---:|---|---:|---|---:|---:|---|---|---|",
    ]
    for row in _list(summary.get("ranking"))[:top_hosts]:
        lines.append(
            f"| {row['rank']} | {_md(row['host'])} | {row['score']:g} | {row['priority']} | "
            f"{row['vulnerable_total']} | {row['unknown_total']} | "
            f"{_md(', '.join(row['eol_branches']) or '-')} | "
            f"{'yes' if row['restart_only'] else '-'} | "
            f"{_md(row['top'][0] if row['top'] else '-')} |"
        )
    ranking = _list(summary.get("ranking"))
    if len(ranking) > top_hosts:
        lines.append(f"\n{len(ranking) - top_hosts} more hosts in summary.json.")
    lines += ["", "## End-of-life branches", ""]
    eol = _list(summary.get("eol_hosts"))
    lines += [f"- {_md(h['host'])}: {_md(', '.join(h['branches']))}" for h in eol] or ["None."]
    lines += ["", "## Restart-only hosts (fix installed, processes still map the old file)", ""]
    ro = _list(summary.get("restart_only_hosts"))
    lines += [f"- {_md(h['host'])}: {_md(', '.join(map(str, h['services'])))}" for h in ro] or [
        "None."
    ]
    cves = [c for c in _list(summary.get("cves")) if c["hosts_vulnerable"]][:30]
    lines += ["", "## Most widespread vulnerable CVEs", ""]
    if cves:
        lines += ["| CVE | severity | hosts vulnerable | hosts unknown |", "|---|---|---:|---:|"]
        lines += [
            f"| {c['cve']} | {c['severity']} | {c['hosts_vulnerable']} | {c['hosts_unknown']} |"
            for c in cves
        ]
    else:
        lines.append("None.")
    missing = _list(summary.get("hosts_missing"))
    if missing:
        lines += ["", "## Hosts without an assessment", ""]
        lines += [f"- {_md(h['host'])}: {_md(h['reason'])}" for h in missing]
    return "\n".join(lines) + "\n"


_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(//)")


def render_console(summary: Mapping[str, Any], top_hosts: int = 10) -> str:
    """A short plain-text summary for a terminal: counts, the riskiest hosts, what to do."""
    ranking = _list(summary.get("ranking"))
    priorities = _dict(summary.get("priority_counts"))
    vulnerable = _dict(_dict(summary.get("severity_counts")).get("vulnerable"))
    unknown = _dict(_dict(summary.get("severity_counts")).get("unknown"))

    def by_severity(counts: Mapping[str, Any]) -> str:
        parts = [f"{_count(counts.get(s))} {s}" for s in SEVERITY_ORDER if _count(counts.get(s))]
        return ", ".join(parts) or "none"

    lines = [
        f"OpenSSL assessment: {summary.get('hosts_assessed', 0)} of "
        f"{summary.get('hosts_total', 0)} hosts assessed",
        "Hosts by priority: "
        + ", ".join(f"{p} {_count(priorities.get(p))}" for p in PRIORITY_ORDER),
        f"Vulnerable CVEs: {by_severity(vulnerable)}",
        f"Unknown (distro package, changelog silent): {by_severity(unknown)}",
    ]
    for missing in _list(summary.get("hosts_missing")):
        lines.append(f"Not assessed: {_dict(missing).get('host')}: {_dict(missing).get('reason')}")
    if ranking:
        lines.append("Riskiest hosts:")
    for row in ranking[:top_hosts]:
        row = _dict(row)
        versions = ", ".join(_list(row.get("versions"))) or "no OpenSSL found"
        lines.append(
            f"  {row.get('rank')}. {row.get('host')}  score {_num(row.get('score')):g} "
            f"({row.get('priority')})  {versions}"
        )
        for rationale in _list(row.get("top"))[:1]:
            lines.append(f"     top finding: {rationale}")
    for item in _list(summary.get("eol_hosts")):
        item = _dict(item)
        lines.append(
            f"End-of-life branch: {item.get('host')}: {', '.join(_list(item.get('branches')))}"
        )
    for item in _list(summary.get("restart_only_hosts")):
        item = _dict(item)
        services = ", ".join(str(s) for s in _list(item.get("services"))) or "processes"
        lines.append(f"Restart only (fix installed): {item.get('host')}: {services}")
    return "\n".join(lines) + "\n"


def _h(text: Any) -> str:
    """HTML-escape text and defang anything that looks like a URL (no external references)."""
    escaped = html.escape(str(text if text is not None else ""), quote=True)
    return _URL_SCHEME.sub("\\1:&#8203;\\2", escaped)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#212121;
background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#616161;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eeeeee}td.n{text-align:right}
.p-critical{color:#7b1fa2;font-weight:bold}.p-high{color:#c62828;font-weight:bold}
.p-medium{color:#ef6c00}.p-low{color:#9e9d24}.p-none{color:#2e7d32}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
svg text{font:11px system-ui,sans-serif;fill:#424242}
"""


def _chart(rows: list[dict[str, Any]]) -> str:
    """Inline SVG: one horizontal stacked bar per host, vulnerable CVEs by severity + unknown."""
    rows = rows[:CHART_MAX_HOSTS]
    bar_h, gap, label_w, width = 16, 6, 180, 760
    height = max(1, len(rows)) * (bar_h + gap) + 30
    biggest = max([r["vulnerable_total"] + r["unknown_total"] for r in rows] + [1])
    scale = (width - label_w - 60) / biggest
    out = [
        f'<svg role="img" aria-label="Findings by host and severity" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, row in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        out.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 4}" text-anchor="end">'
            f"{_h(row['host'][:28])}</text>"
        )
        x = float(label_w)
        segments = [(s, row["vulnerable"][s], SEVERITY_COLOUR[s]) for s in SEVERITY_ORDER]
        segments.append(("unknown", row["unknown_total"], UNKNOWN_COLOUR))
        for name, n, colour in segments:
            if not n:
                continue
            w = n * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{_h(row['host'])}: {n} {name}</title></rect>"
            )
            x += w
        total = row["vulnerable_total"] + row["unknown_total"]
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar_h - 4}">{total}</text>')
    if not rows:
        out.append('<text x="10" y="20">no host assessed</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(summary: Mapping[str, Any], top_hosts: int = 200) -> str:
    """The fleet summary as one self-contained, well-formed (XHTML-compatible) HTML page."""
    ranking = _list(summary.get("ranking"))
    pc = _dict(summary.get("priority_counts"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8" />',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\" />",
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        "<title>OpenSSL assessment</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>OpenSSL assessment</h1>",
        f'<p class="meta">Generated {_h(summary.get("generated_at"))} &#8212; '
        f"{_h(summary.get('hosts_assessed'))} of {_h(summary.get('hosts_total'))} hosts "
        "assessed.",
    ]
    for db in _list(summary.get("databases")):
        parts.append(
            f" Vulnerability data generated {_h(db.get('generated_at'))} from OpenSSL "
            f"release-metadata commit {_h(str(db.get('source_commit') or '?')[:12])} "
            f"({_h(db.get('records'))} CVE entries; Apache-2.0, The OpenSSL Project)."
        )
    parts.append("</p>")
    parts.append('<div class="cards">')
    for p in PRIORITY_ORDER:
        parts.append(
            f'<div class="card"><b class="p-{p}">{_h(pc.get(p, 0))}</b>priority {_h(p)}</div>'
        )
    parts.append(
        f'<div class="card"><b>{len(_list(summary.get("eol_hosts")))}</b>end-of-life hosts</div>'
        f'<div class="card"><b>{len(_list(summary.get("restart_only_hosts")))}</b>'
        "restart-only hosts</div></div>"
    )
    parts.append("<h2>Findings by host and severity</h2>")
    parts.append('<p class="legend">')
    for sev in SEVERITY_ORDER:
        parts.append(f'<span><i style="background:{SEVERITY_COLOUR[sev]}"></i>{sev}</span>')
    parts.append(f'<span><i style="background:{UNKNOWN_COLOUR}"></i>unknown (any severity)</span>')
    parts.append("</p>")
    parts.append(_chart(ranking))
    parts.append("<h2>Hosts ranked by risk</h2>")
    parts.append(
        "<table><thead><tr><th>#</th><th>host</th><th>score</th><th>priority</th>"
        "<th>vulnerable</th><th>unknown</th><th>end-of-life</th><th>restart-only</th>"
        "<th>versions</th><th>top findings</th></tr></thead><tbody>"
    )
    for row in ranking[:top_hosts]:
        parts.append(
            f'<tr><td class="n">{row["rank"]}</td><td>{_h(row["host"])}</td>'
            f'<td class="n">{row["score"]:g}</td>'
            f'<td class="p-{_h(row["priority"])}">{_h(row["priority"])}</td>'
            f'<td class="n">{row["vulnerable_total"]}</td>'
            f'<td class="n">{row["unknown_total"]}</td>'
            f"<td>{_h(', '.join(row['eol_branches']) or '-')}</td>"
            f"<td>{'yes' if row['restart_only'] else '-'}</td>"
            f"<td>{_h(', '.join(row['versions']))}</td>"
            f"<td>{'<br />'.join(_h(t) for t in row['top']) or '-'}</td></tr>"
        )
    parts.append("</tbody></table>")
    if len(ranking) > top_hosts:
        parts.append(f"<p>{len(ranking) - top_hosts} more hosts in summary.json.</p>")
    parts.append("<h2>Severity counts</h2><table><thead><tr><th>status</th>")
    parts += [f"<th>{s}</th>" for s in SEVERITY_ORDER]
    parts.append("</tr></thead><tbody>")
    for kind in ("vulnerable", "unknown"):
        counts = _dict(_dict(summary.get("severity_counts")).get(kind))
        parts.append(f"<tr><td>{kind}</td>")
        parts += [f'<td class="n">{_h(counts.get(s, 0))}</td>' for s in SEVERITY_ORDER]
        parts.append("</tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>End-of-life and restart-only hosts</h2><ul>")
    for h in _list(summary.get("eol_hosts")):
        parts.append(f"<li>{_h(h['host'])}: end-of-life branch {_h(', '.join(h['branches']))}</li>")
    for h in _list(summary.get("restart_only_hosts")):
        parts.append(
            f"<li>{_h(h['host'])}: restart {_h(', '.join(map(str, h['services'])) or '-')}</li>"
        )
    parts.append("</ul>")
    missing = _list(summary.get("hosts_missing"))
    if missing:
        parts.append("<h2>Hosts without an assessment</h2><ul>")
        parts += [f"<li>{_h(h['host'])}: {_h(h['reason'])}</li>" for h in missing]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# =========================================================================================
# Prometheus textfile (node_exporter)
# =========================================================================================


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(result: Mapping[str, Any], prefix: str = "patchwise_openssl") -> str:
    """One host's assessment as node_exporter textfile metrics (deterministic: no timestamp)."""
    summary = _dict(result.get("summary"))
    risk = _dict(result.get("risk"))
    lines: list[str] = []

    def metric(name: str, help_text: str, samples: list[tuple[dict[str, Any], float]]) -> None:
        lines.append(f"# HELP {prefix}_{name} {help_text}")
        lines.append(f"# TYPE {prefix}_{name} gauge")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            lines.append(
                f"{prefix}_{name}{{{text}}} {value:g}" if text else f"{prefix}_{name} {value:g}"
            )

    cves = _dict(summary.get("cves"))
    metric(
        "cves",
        "Distinct CVEs on the host by worst status and OpenSSL severity.",
        [
            ({"status": st, "severity": sev}, _num(_dict(cves.get(st)).get(sev)))
            for st in STATUS_ORDER
            for sev in SEVERITY_ORDER
        ],
    )
    metric(
        "findings",
        "Findings by status (one per copy or process group and CVE).",
        [({"status": st}, _num(_dict(summary.get("findings")).get(st))) for st in STATUS_ORDER],
    )
    metric(
        "vulnerable_processes",
        "Processes mapping an OpenSSL copy with at least one vulnerable CVE.",
        [({}, _num(summary.get("vulnerable_processes")))],
    )
    metric(
        "exposed_vulnerable_processes",
        "Vulnerable processes listening on the network.",
        [({}, _num(summary.get("exposed_vulnerable_processes")))],
    )
    metric(
        "stale_processes",
        "Processes still mapping a replaced (deleted or changed) OpenSSL library file.",
        [({}, _num(summary.get("stale_processes")))],
    )
    metric(
        "restart_only",
        "1 when restarting processes is all that is left to do (the fix is installed).",
        [({}, 1.0 if summary.get("restart_only") is True else 0.0)],
    )
    metric(
        "eol_branches",
        "End-of-life OpenSSL branches in use on the host.",
        [({}, float(len(_list(summary.get("eol_branches")))))],
    )
    metric("risk_score", "Host risk score (docs/assessment.md).", [({}, _num(risk.get("score")))])
    metric(
        "priority",
        "Host priority as a number: 4 critical, 3 high, 2 medium, 1 low, 0 none.",
        [({"priority": risk.get("priority") or "none"}, float(_priority_number(risk)))],
    )
    db = _dict(result.get("database"))
    metric(
        "database_info",
        "Vulnerability database used for the assessment.",
        [
            (
                {
                    "generated_at": db.get("generated_at") or "",
                    "commit": db.get("source_commit") or "",
                },
                1.0,
            )
        ],
    )
    return "\n".join(lines) + "\n"


def _priority_number(risk: Mapping[str, Any]) -> int:
    priority = risk.get("priority")
    return 4 - PRIORITY_ORDER.index(priority) if priority in PRIORITY_ORDER else 0


# =========================================================================================
# writing
# =========================================================================================


def write_atomic(
    path: str, text: str, mode: int = 0o600, dir_mode: int = 0o700, fsync: bool = True
) -> bool:
    """Write ``text`` to ``path`` atomically (temp file + rename) with ``mode``.

    Missing parent directories are created with ``dir_mode``. Returns True when the content
    changed. ``fsync=False`` skips flushing the data to disk before the rename (for files
    that can be rebuilt). Raises :class:`ReportError` with the reason on failure.
    """
    directory = os.path.dirname(os.path.abspath(path))
    data = text.encode("utf-8")
    try:
        make_dirs(directory, dir_mode)
        try:
            with open(path, "rb") as handle:
                if handle.read() == data:
                    os.chmod(path, mode)
                    return False
        except FileNotFoundError:
            pass
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if fsync:
                    os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return True


def make_dirs(directory: str, mode: int) -> None:
    """Create ``directory`` and every missing parent with ``mode`` (os.makedirs only sets the
    mode of the last one)."""
    missing = []
    current = directory
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            continue
        os.chmod(path, mode)  # the umask may have removed bits


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """A host name as a file name: no path separators, no leading dots."""
    cleaned = _SAFE_NAME.sub("_", str(name)).lstrip(".") or "_"
    return cleaned[:200]
