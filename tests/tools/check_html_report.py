# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check an HTML fleet report (``index.html``) in a real headless browser.

Usage: python3 tests/tools/check_html_report.py REPORT.html [--expect-host NAME ...]
                                                [--screenshot PNG] [--chromium PATH]

Uses Debian's ``chromium`` (``apt-get install chromium``); installs nothing. Two browser runs,
both offline (``file://``, no network services, a throw-away profile):

1. ``--screenshot`` at 1280x2000: the PNG must be written and be a real image of that size.
2. ``--dump-dom``: the DOM after rendering must hold the chart (an ``<svg>`` labelled "Findings
   by host and severity" with a label per host) and the host ranking table (a row per host);
   every ``--expect-host`` must be in both. The browser must not report a blocked load (the
   page's ``default-src 'none'`` policy refuses any external reference).

Prints the screenshot path. Exit status: 0 the report rendered, 1 a check failed, 2 bad usage
or unreadable report, 3 chromium is not installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

WINDOW = (1280, 2000)
CHART_LABEL = "Findings by host and severity"
TABLE_HEADING = "Hosts ranked by risk"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Lines chromium prints when the content security policy blocks a load.
BLOCKED_MARKERS = ("Refused to load", "Refused to apply", "violates the following Content")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class CheckError(Exception):
    """A check of the rendered report failed."""


class ReportDom(HTMLParser):
    """Collects what the checks need from the DOM chromium dumped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chart_found = False
        self.chart_texts: list[str] = []
        self.chart_rects = 0
        self.table_rows: list[list[str]] = []
        self.external: list[str] = []
        self._in_chart = False
        self._chart_text: list[str] | None = None
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._in_host_table = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        for name in ("src", "href", "srcset", "action", "data", "poster"):
            if attr.get(name):
                self.external.append(f"<{tag} {name}={attr[name]!r}>")
        if tag == "svg" and attr.get("aria-label") == CHART_LABEL:
            self.chart_found = self._in_chart = True
        elif tag == "rect" and self._in_chart:
            self.chart_rects += 1
        elif tag == "text" and self._in_chart:
            self._chart_text = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "table":
            self._in_host_table = self._last_heading == TABLE_HEADING
        elif tag == "tr" and self._in_host_table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_chart = False
        elif tag == "text" and self._chart_text is not None:
            self.chart_texts.append("".join(self._chart_text).strip())
            self._chart_text = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self._last_heading = "".join(self._heading).strip()
            self._heading = None
        elif tag == "table":
            self._in_host_table = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.table_rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        for buf in (self._chart_text, self._heading, self._cell):
            if buf is not None:
                buf.append(data)


def find_chromium(explicit: str | None) -> str | None:
    """The chromium binary: --chromium or $CHROMIUM if given (no fallback), else Debian's
    paths, then PATH."""
    explicit = explicit or os.environ.get("CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def browser_argv(chromium: str, profile: str) -> list[str]:
    """Headless, offline, throw-away profile; only file:// is opened."""
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ]


def run_browser(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckError(f"chromium did not finish within {timeout:g} s: {argv[-1]}") from exc
    if done.returncode != 0:
        raise CheckError(
            f"chromium exited with {done.returncode} for {argv[-2]}: {tail(done.stderr)}"
        )
    blocked = [ln for ln in done.stderr.splitlines() if any(m in ln for m in BLOCKED_MARKERS)]
    if blocked:
        raise CheckError("the browser blocked a load (external reference?): " + blocked[0])
    return done


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header; CheckError if it is not a PNG."""
    try:
        head = path.read_bytes()[:24]
    except OSError as exc:
        raise CheckError(f"no screenshot written at {path}: {exc.strerror}") from exc
    if len(head) < 24 or not head.startswith(PNG_MAGIC) or head[12:16] != b"IHDR":
        raise CheckError(f"{path} is not a PNG image")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def check_screenshot(chromium: str, profile: str, url: str, png: Path, timeout: float) -> None:
    png.unlink(missing_ok=True)
    run_browser([*browser_argv(chromium, profile), f"--screenshot={png}", url], timeout)
    size = png_size(png)
    if size != WINDOW:
        raise CheckError(f"screenshot {png} is {size[0]}x{size[1]}, expected {WINDOW}")
    if png.stat().st_size < 5000:
        raise CheckError(f"screenshot {png} is only {png.stat().st_size} bytes: a blank page?")


def check_dom(chromium: str, profile: str, url: str, hosts: list[str], timeout: float) -> str:
    done = run_browser([*browser_argv(chromium, profile), "--dump-dom", url], timeout)
    dom = ReportDom()
    dom.feed(done.stdout)
    dom.close()
    problems = []
    if not dom.chart_found:
        problems.append(f'no <svg aria-label="{CHART_LABEL}"> in the rendered page')
    if dom.external:
        problems.append("external references: " + ", ".join(dom.external[:5]))
    body_rows = [row for row in dom.table_rows if row and row[0].isdigit()]
    if not body_rows:
        problems.append(f'no host row in the table under "{TABLE_HEADING}"')
    table_hosts = {row[1] for row in body_rows if len(row) > 1}
    for host in hosts:
        if host not in table_hosts:
            problems.append(f"host {host} not in the ranking table ({sorted(table_hosts)})")
        if not any(text == host[:28] for text in dom.chart_texts):
            problems.append(f"host {host} has no label in the chart")
    if problems:
        raise CheckError("; ".join(problems))
    return (
        f"chart: {len(dom.chart_texts)} labels, {dom.chart_rects} bars; "
        f"ranking table: {len(body_rows)} host rows"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("report", type=Path, help="the HTML report (index.html)")
    parser.add_argument(
        "--expect-host", action="append", default=[], help="a host that must be in chart and table"
    )
    parser.add_argument(
        "--screenshot", type=Path, help="PNG to write (default: the report's path with .png)"
    )
    parser.add_argument("--chromium", help="chromium (default: $CHROMIUM, /usr/bin/chromium)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per browser run")
    args = parser.parse_args(argv)

    report = args.report.resolve()
    if not report.is_file():
        print(f"check_html_report: no such report: {report}", file=sys.stderr)
        return 2
    chromium = find_chromium(args.chromium)
    if chromium is None:
        wanted = args.chromium or os.environ.get("CHROMIUM")
        where = f"{wanted} is not executable" if wanted else "chromium is not installed"
        print(f"check_html_report: {where} (Debian: apt-get install chromium)", file=sys.stderr)
        return 3
    png = (args.screenshot or report.with_suffix(".png")).resolve()
    url = report.as_uri()
    try:
        with tempfile.TemporaryDirectory(prefix="check-html-report-") as profile:
            check_screenshot(chromium, profile, url, png, args.timeout)
            rendered = check_dom(chromium, profile, url, args.expect_host, args.timeout)
    except CheckError as exc:
        print(f"check_html_report: FAILED: {report}: {exc}", file=sys.stderr)
        return 1
    print(f"check_html_report: ok: {report} rendered in {chromium} ({rendered})")
    print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
