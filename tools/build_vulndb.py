# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build data/openssl_vulndb.json from a copy of openssl/release-metadata (maintainers' tool).

    tools/build-vulndb --src ../shared/data/openssl-release-metadata \
        --legacy-xml ../shared/data/openssl-web-legacy/vulnerabilities.xml \
        --out data/openssl_vulndb.json --notice data/NOTICE.md

Exit status: 0 written or unchanged, 1 with --check when the output would change, 2 on error.
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _import_collection():
    """Make ``ansible_collections.patchwise.openssl`` importable from this checkout."""
    if ROOT.parent.name == "patchwise" and ROOT.parents[1].name == "ansible_collections":
        sys.path.insert(0, str(ROOT.parents[2]))
    else:
        base = Path(tempfile.mkdtemp(prefix="build-vulndb-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        (base / "ansible_collections" / "patchwise").mkdir(parents=True)
        (base / "ansible_collections" / "patchwise" / "openssl").symlink_to(ROOT)
        sys.path.insert(0, str(base))
    from ansible_collections.patchwise.openssl.plugins.module_utils._openssl import (
        errors,
        vulndb_build,
    )

    return errors, vulndb_build


def run_command(argv: list) -> tuple:
    """Run a fixed argv (git only), no shell; (rc, stdout, stderr)."""
    exe = shutil.which(argv[0])
    if exe is None:
        return 127, "", f"{argv[0]}: not found"
    proc = subprocess.run(  # noqa: S603 -- fixed argv built by the converter, no shell
        [exe, *argv[1:]], capture_output=True, text=True, check=False, env={"LC_ALL": "C"}
    )
    return proc.returncode, proc.stdout, proc.stderr


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", required=True, help="copy of openssl/release-metadata")
    parser.add_argument("--legacy-xml", help="legacy news/vulnerabilities.xml (2022)")
    parser.add_argument("--out", default=str(ROOT / "data" / "openssl_vulndb.json"))
    parser.add_argument("--notice", help="also write the attribution file (data/NOTICE.md)")
    parser.add_argument("--commit", help="source commit when the input has no provenance")
    parser.add_argument("--commit-date", help="ISO 8601 date of that commit")
    parser.add_argument("--allow-downgrade", action="store_true")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if changed")
    args = parser.parse_args(argv)
    errors, build = _import_collection()
    out = Path(args.out)
    try:
        old = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else None
    except ValueError:
        old = None
        print(f"warning: {out} is not valid JSON; replacing it", file=sys.stderr)
    try:
        db, warnings = build.build_db(
            args.src,
            args.legacy_xml,
            commit=args.commit,
            commit_date=args.commit_date,
            run=run_command,
            generator_version=build.collection_version(ROOT),
        )
        warnings += build.check_not_older(old, db, args.allow_downgrade)
    except errors.PatchwiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    changed = not build.same_content(old, db)
    for line in build.diff_lines(build.diff_dbs(old, db), db):
        print(line)
    if args.check:
        print("changed" if changed else "unchanged")
        return 1 if changed else 0
    if changed:
        build.write_atomic(out, build.dumps_db(db))
    else:
        db = old
    if args.notice:
        build.write_atomic(args.notice, build.notice_text(db))
    print(f"{out}: {'written' if changed else 'unchanged'} ({len(db['cves'])} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
