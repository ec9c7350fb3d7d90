# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the benchmarks: result rows, statistics, podman containers, ansible runs.

Every figure a benchmark reports is a ratio of two (or more) contenders measured side by side in
the same run, interleaved and repeated; the raw times are kept next to the ratio.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
CACHE = ROOT / ".cache"
COLLECTIONS = CACHE / "collections"
APT_REPOS = CACHE / "test-hosts" / "apt-repos"
IMAGE = "localhost/patchwise-debian:12"
PREFIX = "pw-bench-"
VENV_BIN = Path(os.environ.get("PW_BENCH_BIN", str(ROOT / ".venv" / "bin")))


class BenchError(Exception):
    """A benchmark cannot run (missing image, podman failure, ...)."""


@dataclass
class Row:
    """One line of the results table: a ratio with its target and the raw times behind it."""

    part: str
    figure: str
    ratio: float | None
    target: str
    met: bool | None
    raw: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "figure": self.figure,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "raw": self.raw,
            "note": self.note,
        }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and every raw sample (seconds, rounded to the millisecond)."""
    return {
        "median": round(median(values), 4),
        "min": round(min(values), 4) if values else None,
        "max": round(max(values), 4) if values else None,
        "n": len(values),
        "samples": [round(v, 4) for v in values],
    }


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> float | None:
    """Ratio of the medians, or None when a side has no sample."""
    if not numerator or not denominator:
        return None
    den = median(denominator)
    return round(median(numerator) / den, 3) if den > 0 else None


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(
    argv: Sequence[str],
    timeout: float = 600,
    check: bool = True,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (never a shell) with a timeout; raise BenchError on failure when check."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input_text,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout}s: {' '.join(argv)[:200]}") from exc
    if check and proc.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)[:200]} failed (rc {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-1500:]}"
        )
    return proc


def timed(argv: Sequence[str], timeout: float = 600, **kwargs: Any) -> tuple[float, str]:
    """Wall time of one command and its stdout."""
    start = time.perf_counter()
    proc = run(argv, timeout=timeout, **kwargs)
    return time.perf_counter() - start, proc.stdout


# --- podman ---------------------------------------------------------------------------------


def require_podman_image(image: str = IMAGE) -> None:
    if shutil.which("podman") is None:
        raise BenchError("podman is not installed: run `make test-hosts` first")
    if run(["podman", "image", "exists", image], check=False).returncode != 0:
        raise BenchError(f"image {image} is missing: run `make test-hosts` first")


def unique_name(part: str) -> str:
    return f"{PREFIX}{part}-{uuid.uuid4().hex[:8]}"


def podman_exec(
    name: str, argv: Sequence[str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run(["podman", "exec", name, *argv], timeout=timeout, check=check)


def remove_containers(names: Sequence[str]) -> None:
    """Remove the given containers (only ours: every name must carry the bench prefix)."""
    ours = [n for n in names if n.startswith(PREFIX)]
    for start in range(0, len(ours), 25):
        run(["podman", "rm", "-f", "-t", "0", *ours[start : start + 25]], timeout=300, check=False)


@contextmanager
def containers(
    part: str,
    count: int = 1,
    image: str = IMAGE,
    extra: Sequence[str] = (),
    command: Sequence[str] = ("sleep", "infinity"),
    parallel: int = 4,
) -> Iterator[list[str]]:
    """Start ``count`` containers named pw-bench-<part>-<id>; always remove them afterwards."""
    require_podman_image(image)
    names = [unique_name(part) for _index in range(count)]

    def start(name: str) -> None:
        run(
            ["podman", "run", "-d", "--init", "--name", name, *extra, image, *command],
            timeout=180,
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for future in [pool.submit(start, name) for name in names]:
                future.result()
        yield names
    finally:
        remove_containers(names)


def cgroup_cpu_files(names: Sequence[str]) -> list[Path]:
    """The CPU accounting file of each container's cgroup (v1 cpuacct or v2 cpu.stat).

    Empty when podman does not say or the files are not readable: callers then report no
    container CPU rather than a wrong one.
    """
    proc = run(["podman", "inspect", "--format", "{{.State.CgroupPath}}", *names], check=False)
    files = []
    for line in proc.stdout.split():
        rel = line.strip().lstrip("/")
        for candidate in (
            Path("/sys/fs/cgroup/cpuacct") / rel / "cpuacct.usage",
            Path("/sys/fs/cgroup") / rel / "cpu.stat",
        ):
            if candidate.is_file():
                files.append(candidate)
                break
    return files if len(files) == len(names) else []


def cgroup_cpu_seconds(files: Sequence[Path]) -> float | None:
    """CPU seconds used so far by the processes of the given cgroups (None when unknown)."""
    if not files:
        return None
    total = 0.0
    try:
        for path in files:
            text = path.read_text(encoding="ascii")
            if path.name == "cpuacct.usage":
                total += int(text) / 1e9
            else:
                usage = [ln.split()[1] for ln in text.splitlines() if ln.startswith("usage_usec")]
                total += int(usage[0]) / 1e6
    except (OSError, ValueError, IndexError):
        return None
    return total


def children_cpu_seconds() -> float:
    """User + system CPU of every waited-for descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def apt_repo_dir(major: str = "12") -> Path:
    repo = APT_REPOS / f"debian-{major}"
    if not (repo / "updates" / "Packages").is_file():
        raise BenchError(
            f"{repo} is missing: build it with tests/hosts/build-apt-repo.sh {major} (as root)"
        )
    return repo


def use_local_repo(name: str) -> None:
    """Point apt in the container at the mounted re-versioned OpenSSL repository only."""
    podman_exec(
        name,
        [
            "sh",
            "-c",
            "echo 'deb [trusted=yes] file:/srv/patchwise/updates ./' "
            ">/etc/apt/sources.list.d/patchwise.list && "
            "apt-get update -qq -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/patchwise.list "
            "-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0",
        ],
        timeout=300,
    )


def upgrade_openssl(name: str) -> str:
    """Upgrade libssl3/openssl from the local repository; return the new libssl3 version."""
    podman_exec(
        name,
        [
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            # needrestart's apt hook would scan (and prompt) after dpkg: keep it out.
            "NEEDRESTART_SUSPEND=1",
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--only-upgrade",
            "-o",
            "Dpkg::Use-Pty=0",
            "libssl3",
            "openssl",
        ],
        timeout=600,
    )
    out = podman_exec(name, ["dpkg-query", "-W", "-f", "${Version}", "libssl3"]).stdout
    return out.strip()


# --- ansible ----------------------------------------------------------------------------------


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of every ansible run: the checkout as the collection, same settings for all."""
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_PIPELINING": "True",
            "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_CALLBACKS_ENABLED": "patchwise_bench_timer",
            "ANSIBLE_CALLBACK_PLUGINS": str(BENCH_DIR / "callback_plugins"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.null",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "True",
        }
    )
    env.update(extra or {})
    return env


def ensure_collection_link() -> None:
    link = COLLECTIONS / "ansible_collections" / "patchwise" / "openssl"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("../../../..")


def ansible_bin(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        raise BenchError(f"{path} is missing: run `make venv-test` first")
    return str(path)


def run_playbook(
    playbook: Path,
    inventory: Path,
    timings: Path,
    extra_env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 1200,
) -> tuple[float, list[dict[str, Any]]]:
    """Run a playbook; return its wall time and the per-host task timings of the callback."""
    ensure_collection_link()
    env = ansible_env({"PW_BENCH_TIMINGS": str(timings), **(extra_env or {})})
    start = time.perf_counter()
    proc = run(
        [ansible_bin("ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        timeout=timeout,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"ansible-playbook {playbook.name} failed (rc {proc.returncode}): "
            f"{(proc.stdout + proc.stderr).strip()[-2000:]}"
        )
    records = json.loads(timings.read_text()) if timings.exists() else []
    return wall, records


# --- the benchmark image: Debian 12 + services + needrestart (built once, cached) ---------------

BENCH_IMAGE = "localhost/patchwise-bench:12"
BENCH_PACKAGES = ("nginx", "haproxy", "apache2", "openssh-server", "needrestart")
_RECIPE = "v1 " + " ".join(BENCH_PACKAGES)


def bench_image() -> str:
    """Return the benchmark image, building it from the Debian 12 test image when missing.

    Installs the services and needrestart from the Debian archive with a policy-rc.d that keeps
    every service from starting during the build. Labelled with its recipe; rebuilt on change.
    """
    label = run(
        [
            "podman",
            "image",
            "inspect",
            "--format",
            '{{ index .Labels "io.patchwise.bench" }}',
            BENCH_IMAGE,
        ],
        check=False,
    ).stdout.strip()
    if label == _RECIPE:
        return BENCH_IMAGE
    require_podman_image(IMAGE)
    log(f"building {BENCH_IMAGE} ({', '.join(BENCH_PACKAGES)}) from {IMAGE}")
    name = unique_name("image")
    script = (
        "set -e; printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d; "
        "chmod 755 /usr/sbin/policy-rc.d; apt-get update -qq; "
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "
        + " ".join(BENCH_PACKAGES)
        + " >/dev/null; rm -f /usr/sbin/policy-rc.d; apt-get clean; "
        "rm -rf /var/lib/apt/lists/*"
    )
    try:
        run(["podman", "run", "--name", name, IMAGE, "sh", "-c", script], timeout=900)
        run(
            [
                "podman",
                "commit",
                "-q",
                "--change",
                f"LABEL io.patchwise.bench={_RECIPE}",
                name,
                BENCH_IMAGE,
            ],
            timeout=300,
        )
    finally:
        remove_containers([name])
    return BENCH_IMAGE
