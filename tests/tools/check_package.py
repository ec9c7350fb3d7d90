# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the built collection artefact the way a user receives it.

1. ``ansible-galaxy collection build`` into a temporary directory;
2. ``ansible-galaxy collection install`` of that tarball into a fresh collections path;
3. ``ansible-doc`` renders every plugin of the installed copy (modules, action-plugin docs,
   filters) and every role's argument spec;
4. every module that is read-only runs from the installed copy against localhost, and its JSON
   result is checked for its documented top-level keys.

Exit code 0 only if every step passed; each failure is printed with the command's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "patchwise", "openssl"
FQCN = f"{NAMESPACE}.{NAME}"

# Read-only modules run against localhost with these arguments and must return these keys.
SMOKE_RUNS = {
    "openssl_facts": ({}, ("ansible_facts",)),
}


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output."""
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def fail(step: str, result: subprocess.CompletedProcess[str]) -> None:
    """Print a failed step with the command's own output and stop."""
    print(f"FAILED: {step}\n$ {' '.join(result.args)}\n{result.stdout}\n{result.stderr}")
    raise SystemExit(1)


def build_and_install(work: Path, env: dict[str, str]) -> Path:
    """Build the tarball and install it; return the collections path."""
    dist, collections = work / "dist", work / "collections"
    result = run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(dist), str(ROOT)], env
    )
    if result.returncode:
        fail("build", result)
    tarball = next(dist.glob(f"{NAMESPACE}-{NAME}-*.tar.gz"))
    # The install must not see another copy of the collection (e.g. the development symlink
    # tree on ANSIBLE_COLLECTIONS_PATH), or it would say "Nothing to do" and install nothing.
    install_env = {**env, "ANSIBLE_COLLECTIONS_PATH": str(collections)}
    install = ["ansible-galaxy", "collection", "install", "--force", "-p", str(collections)]
    result = run([*install, str(tarball)], install_env)
    if result.returncode:
        fail("install", result)
    if not (collections / "ansible_collections" / NAMESPACE / NAME / "MANIFEST.json").is_file():
        fail("install (no MANIFEST.json in the installed copy)", result)
    print(f"ok: built and installed {tarball.name}")
    return collections


def plugins_of(installed: Path, kind: str) -> list[str]:
    """List the plugin names of one kind in the installed copy."""
    folder = installed / "plugins" / kind
    if not folder.is_dir():
        return []
    names = {p.stem for p in folder.glob("*.py") if not p.name.startswith("_")}
    if kind == "filter":
        # Filters are documented per filter name, in .py or .yml files.
        names |= {p.stem for p in folder.glob("*.yml")}
    return sorted(names)


def check_docs(installed: Path, env: dict[str, str]) -> None:
    """Render the documentation of every plugin and role."""
    if not plugins_of(installed, "modules") or not plugins_of(installed, "filter"):
        print(f"FAILED: the installed copy at {installed} has no modules or no filters")
        raise SystemExit(1)
    for kind, doc_type in (("modules", "module"), ("filter", "filter")):
        for name in plugins_of(installed, kind):
            result = run(["ansible-doc", "-t", doc_type, "--json", f"{FQCN}.{name}"], env)
            if result.returncode or not json.loads(result.stdout or "{}"):
                fail(f"ansible-doc {doc_type} {name}", result)
            print(f"ok: ansible-doc -t {doc_type} {FQCN}.{name}")
    roles = installed / "roles"
    for role in sorted(p.name for p in roles.iterdir()) if roles.is_dir() else []:
        result = run(["ansible-doc", "-t", "role", "--json", f"{FQCN}.{role}"], env)
        if result.returncode or not json.loads(result.stdout or "{}"):
            fail(f"ansible-doc role {role}", result)
        print(f"ok: ansible-doc -t role {FQCN}.{role}")


def check_modules_run(installed: Path, env: dict[str, str]) -> None:
    """Run the read-only modules of the installed copy against localhost."""
    available = set(plugins_of(installed, "modules"))
    for module, (args, keys) in SMOKE_RUNS.items():
        if module not in available:
            print(f"FAILED: module {module} is missing from the installed copy")
            raise SystemExit(1)
        argv = [
            "ansible",
            "localhost",
            "-c",
            "local",
            "-m",
            f"{FQCN}.{module}",
            # The controller's own interpreter: interpreter discovery may find a broken one.
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ]
        if args:
            argv += ["-a", " ".join(f"{key}={json.dumps(value)}" for key, value in args.items())]
        result = run(
            argv,
            {
                **env,
                "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            },
        )
        if result.returncode:
            fail(f"run {module}", result)
        outcome = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
        missing = [key for key in keys if key not in outcome]
        if outcome.get("failed") or missing:
            print(f"FAILED: {module} returned failed={outcome.get('failed')} missing={missing}")
            raise SystemExit(1)
        print(f"ok: {FQCN}.{module} ran from the installed copy")


def main() -> int:
    """Build, install and exercise the collection artefact."""
    with tempfile.TemporaryDirectory(prefix="patchwise-package-") as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        }
        collections = build_and_install(work, env)
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
        installed = collections / "ansible_collections" / NAMESPACE / NAME
        check_docs(installed, env)
        check_modules_run(installed, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
