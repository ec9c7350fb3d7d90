# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Part 4: refresh under TLS load, naive init-script restart vs openssl_refresh, per service.

The services and the load are those of the molecule scenario `extensions/molecule/refresh`:
its prepare playbook (nginx, haproxy -W, apache2 with mod_ssl and sshd on the container's own
127.0.0.1) is run once against a Debian 12 container and the result is kept as the image
localhost/patchwise-bench-refresh:12 (rebuilt when the playbook, the scenario's variables, its
helpers or the base image change). Its bounded load client (`files/pw_load.py`, 127.0.0.1
only, bounded in connections and seconds) and its independent /proc probe (`files/pw_probe.py`)
are used as they are.

Per service and contender, in a fresh container (`--init`, `--cap-add SYS_PTRACE`, named
pw-bench-refresh-<service>-<contender>-<id>, always removed): start the service by its init
script, start the load inside the container, upgrade OpenSSL from the local repository (the
probe must then see the service's processes mapping a deleted library), then

- naive: `/etc/init.d/<script> restart` (what a person does), timed inside the container;
- ours: the module `patchwise.openssl.openssl_refresh` through ansible with the podman
  connection (`services: [<service>]`, `restart_ok: true`, `disruptive_ok: true`); the action
  time is the module's own `elapsed_seconds` for the service, the whole ansible run is kept too;

keep the load running a little, stop it, read its counts, and probe /proc again: "stale after"
counts the service's processes (by process name) that still map a deleted libssl/libcrypto.
Contenders are interleaved (order swapped per service and run), at most two containers at a
time.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _bench
import yaml
from _bench import Row

NAME = "refresh_load"
SCENARIO = _bench.ROOT / "extensions" / "molecule" / "refresh"
IMAGE = "localhost/patchwise-bench-refresh:12"
HELPERS = "/usr/local/lib/pw-refresh"
CONTENDERS = ("naive", "ours")
PARALLEL = 2
# seconds of load before the action (after the upgrade) and after it
SETTLE_BEFORE = 2.0
SETTLE_AFTER = 3.0
# bounds of the load client (it stops earlier, when told)
LOAD_SECONDS = 180
LOAD_MAX = 20000
# sshd refuses at most a few connections while it re-executes on HUP (docs/refresh.md)
SSHD_REFUSED_MAX = 5


@dataclass(frozen=True)
class Service:
    """A service of the scenario: its init script and the process name of all its processes."""

    name: str
    script: str
    comm: str
    zero_downtime: bool


SERVICES = (
    Service("nginx", "nginx", "nginx", True),
    Service("haproxy", "haproxy", "haproxy", True),
    Service("apache2", "apache2", "apache2", False),
    Service("sshd", "ssh", "sshd", True),
)

# Run inside the container: time one command and report its exit code and output (the clock is
# the kernel's, the same the load client stamps its failures with).
TIMED = (
    "import json, subprocess, sys, time\n"
    "start = time.time()\n"
    "proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=False)\n"
    "end = time.time()\n"
    "print(json.dumps({'start': start, 'end': end, 'rc': proc.returncode,\n"
    "                  'output': (proc.stdout + proc.stderr)[-2000:]}))\n"
)


def scenario_vars() -> dict[str, Any]:
    """The scenario's group variables (ports, certificate, record directory) from molecule.yml."""
    config = yaml.safe_load((SCENARIO / "molecule.yml").read_text(encoding="utf-8"))
    return dict(config["provisioner"]["inventory"]["group_vars"]["all"])


def _recipe() -> str:
    digest = hashlib.sha256()
    # everything the scenario's prepare step reads: a change to any of them rebuilds the image
    for path in (
        SCENARIO / "molecule.yml",
        SCENARIO / "prepare.yml",
        *sorted((SCENARIO / "files").iterdir()),
    ):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    base = _bench.run(["podman", "image", "inspect", "--format", "{{.Id}}", _bench.IMAGE])
    digest.update(base.stdout.strip().encode())
    return "v1-" + digest.hexdigest()[:16]


def _inventory(directory: Path, container: str) -> Path:
    path = directory / f"{container}.ini"
    path.write_text(
        f"{container} ansible_connection=containers.podman.podman "
        "ansible_python_interpreter=/usr/bin/python3\n",
        encoding="utf-8",
    )
    return path


def _start(name: str, image: str, repo: Path) -> None:
    _bench.run(
        [
            "podman", "run", "-d", "--init", "--cap-add", "SYS_PTRACE", "--pull=never",
            "-v", f"{repo}:/srv/patchwise:ro", "--name", name, image, "sleep", "infinity",
        ],
        timeout=180,
    )  # fmt: skip


# Stop everything prepare.yml started and drop the pid files: the image must start clean.
_CLEAN = (
    "for s in nginx haproxy apache2 ssh pw-legacy-tls; do /etc/init.d/$s stop >/dev/null 2>&1; "
    "done; start-stop-daemon --stop --quiet --pidfile /run/pw-unowned.pid --remove-pidfile; "
    "rm -f /run/nginx.pid /run/haproxy.pid /run/apache2/apache2.pid /run/sshd.pid "
    "/run/pw-legacy-tls.pid /run/pw-unowned.pid; true"
)


def refresh_image(variables: dict[str, Any], repo: Path) -> str:
    """Return the image with the scenario's services prepared, running prepare.yml if needed."""
    recipe = _recipe()
    label = _bench.run(
        ["podman", "image", "inspect", "--format",
         '{{ index .Labels "io.patchwise.bench-refresh" }}', IMAGE],
        check=False,
    ).stdout.strip()  # fmt: skip
    if label == recipe:
        return IMAGE
    _bench.log(
        f"building {IMAGE}: {SCENARIO.relative_to(_bench.ROOT)}/prepare.yml on {_bench.IMAGE}"
    )
    name = _bench.unique_name("refresh-image")
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "vars.json"
        extra.write_text(json.dumps(variables), encoding="utf-8")
        try:
            _start(name, _bench.IMAGE, repo)
            _bench.run_playbook(
                SCENARIO / "prepare.yml",
                _inventory(Path(tmp), name),
                Path(tmp) / "timings.json",
                args=["-e", f"@{extra}"],
                timeout=1200,
            )
            _bench.podman_exec(name, ["sh", "-c", _CLEAN], timeout=120)
            _bench.run(
                ["podman", "commit", "-q", "--change",
                 f"LABEL io.patchwise.bench-refresh={recipe}", name, IMAGE],
                timeout=300,
            )  # fmt: skip
        finally:
            _bench.remove_containers([name])
    return IMAGE


def _probe(name: str, comm: str) -> dict[str, int]:
    """Processes of the service (by name) and how many map a deleted libssl/libcrypto."""
    out = _bench.podman_exec(name, ["python3", f"{HELPERS}/pw_probe.py"], timeout=120).stdout
    procs = [p for p in json.loads(out)["processes"].values() if p["comm"] == comm]
    return {"processes": len(procs), "stale": sum(1 for p in procs if p["deleted"])}


def _wait_file(name: str, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _bench.podman_exec(name, ["test", "-e", path], check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise _bench.BenchError(f"{name}: {path} did not appear within {timeout:.0f} s")


def _naive(name: str, service: Service) -> dict[str, Any]:
    argv = ["python3", "-c", TIMED, f"/etc/init.d/{service.script}", "restart"]
    wall, out = _bench.timed(["podman", "exec", name, *argv], timeout=300)
    result = json.loads(out)
    return {
        "start": result["start"],
        "end": result["end"],
        "action_s": round(result["end"] - result["start"], 3),
        "run_s": round(wall, 3),
        "ok": result["rc"] == 0,
        "detail": " ".join(result["output"].split())[-300:],
    }


def _ours(name: str, service: Service, directory: Path) -> dict[str, Any]:
    _bench.ensure_collection_link()
    params = {"services": [service.name], "restart_ok": True, "disruptive_ok": True}
    env = _bench.ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"})
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # the per-task timer of the playbook parts
    argv = [
        _bench.ansible_bin("ansible"), "-i", str(_inventory(directory, name)), "all",
        "-m", "patchwise.openssl.openssl_refresh", "-a", json.dumps(params),
    ]  # fmt: skip
    start = time.time()
    proc = _bench.run(argv, timeout=600, env=env, check=False)
    end = time.time()
    text = proc.stdout
    try:
        result = json.loads(text[text.index("=>") + 2 :])
    except ValueError as exc:
        raise _bench.BenchError(f"ansible openssl_refresh: {(text + proc.stderr)[-1500:]}") from exc
    entries = [s for s in result.get("services", []) if s.get("name") == service.name]
    entries = entries or result.get("services", [])
    module_s = sum(float(s.get("elapsed_seconds") or 0) for s in entries)
    detail = "; ".join(f"{s.get('strategy')}: {s.get('status')}" for s in entries)
    return {
        "start": start,
        "end": end,
        "action_s": round(module_s, 3),
        "run_s": round(end - start, 3),
        "ok": proc.returncode == 0 and not result.get("failed_services"),
        "detail": detail or " ".join(str(result.get("msg", "")).split())[:300],
    }


def measure(
    service: Service, contender: str, variables: dict[str, Any], repo: Path
) -> dict[str, Any]:
    """One contender on one service in a fresh container; the container is always removed."""
    target = next(t for t in variables["pw_targets"] if t["name"] == service.name)
    record_dir = variables["pw_refresh_dir"]
    out = f"{record_dir}/load.json"
    name = _bench.unique_name(f"refresh-{service.name}-{contender}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _start(name, IMAGE, repo)
            _bench.podman_exec(name, [f"/etc/init.d/{service.script}", "start"], timeout=120)
            _bench.run(
                ["podman", "exec", "-d", name, "python3", f"{HELPERS}/pw_load.py",
                 "--out", out, "--seconds", str(LOAD_SECONDS), "--max", str(LOAD_MAX),
                 "--drain-dir", f"{record_dir}/drain", "--stop-file", f"{out}.stop",
                 f"{service.name}:{target['port']}:{target['kind']}"],
            )  # fmt: skip
            _wait_file(name, f"{out}.ready", 60)
            version = _bench.upgrade_openssl(name)
            before = _probe(name, service.comm)
            if before["stale"] == 0:
                raise _bench.BenchError(
                    f"{name}: no {service.comm} process is stale after the upgrade"
                )
            time.sleep(SETTLE_BEFORE)
            action = (
                _naive(name, service) if contender == "naive" else _ours(name, service, Path(tmp))
            )
            time.sleep(SETTLE_AFTER)
            _bench.podman_exec(name, ["touch", f"{out}.stop"])
            _wait_file(name, out, 60)
            load = json.loads(_bench.podman_exec(name, ["cat", out]).stdout)["targets"][
                service.name
            ]
            after = _probe(name, service.comm)
        finally:
            _bench.remove_containers([name])
    during = [f for f in load["failures"] if f["t"] >= action["start"] - 1]
    return {
        "service": service.name,
        "contender": contender,
        "libssl3": version,
        "connections": load["ok"] + load["failed"],
        "failed": load["failed"],
        "failed_before_action": len(load["failures"]) - len(during),
        "failures": [f["error"] for f in load["failures"][:5]],
        "serving_after": bool(load["last_ok"] and load["last_ok"] > action["end"]),
        "processes_before": before["processes"],
        "stale_before": before["stale"],
        "processes_after": after["processes"],
        "stale_after": after["stale"],
        **{k: action[k] for k in ("action_s", "run_s", "ok", "detail")},
    }


def _jobs(runs: int) -> list[tuple[int, Service, str]]:
    jobs: list[tuple[int, Service, str]] = []
    for run in range(runs):
        for index, service in enumerate(SERVICES):
            order = CONTENDERS if (run + index) % 2 == 0 else CONTENDERS[::-1]
            jobs += [(run, service, contender) for contender in order]
    return jobs


def render_table(results: list[dict[str, Any]]) -> str:
    """Markdown table: service | contender | connections | failed | action time | stale after."""
    lines = [
        "| service | contender | connections | failed | action time (whole run) | stale after "
        "| serving after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        who = "naive `restart`" if r["contender"] == "naive" else "openssl_refresh"
        stale = (
            f"{'**yes**' if r['stale_after'] else 'no'} ({r['stale_after']}/{r['processes_after']})"
        )
        lines.append(
            f"| {r['service']} | {who} | {r['connections']} | {r['failed']} | "
            f"{r['action_s']:.2f} s ({r['run_s']:.1f} s) | {stale} | "
            f"{'yes' if r['serving_after'] else '**no**'} |"
        )
    return "\n".join(lines)


def _target(
    service: Service, contender: str
) -> tuple[str, Callable[[dict[str, Any]], bool] | None]:
    """Target and a predicate over one run's result, or none (the baseline)."""
    if contender == "naive":
        return "-", None
    if service.name == "sshd":
        limit = SSHD_REFUSED_MAX
        return f"<= {limit} failed, 0 stale, serving", lambda r: _fresh(r) and r["failed"] <= limit
    if service.zero_downtime:
        return "0 failed, 0 stale, serving", lambda r: _fresh(r) and r["failed"] == 0
    return "0 stale, serving (disruptive: drain window)", _fresh


def _fresh(result: dict[str, Any]) -> bool:
    return bool(result["ok"] and result["stale_after"] == 0 and result["serving_after"])


def rows(results: list[dict[str, Any]]) -> list[Row]:
    out: list[Row] = []
    for service in SERVICES:
        for contender in CONTENDERS:
            mine = [
                r for r in results if r["service"] == service.name and r["contender"] == contender
            ]
            if not mine:
                continue
            total = sum(r["connections"] for r in mine)
            failed = sum(r["failed"] for r in mine)
            stale = max(r["stale_after"] for r in mine)
            target, check = _target(service, contender)
            who = "naive restart" if contender == "naive" else "openssl_refresh"
            raw = {
                "connections": total,
                "failed": failed,
                "stale_after_max": stale,
                "action_s": _bench.summary([r["action_s"] for r in mine]),
                "run_s": _bench.summary([r["run_s"] for r in mine]),
                "runs": mine,
            }
            note = (
                f"{service.name}, {who}: {failed} of {total} connections failed, action "
                f"{_bench.median([r['action_s'] for r in mine]):.2f} s, stale after {stale}; "
                + mine[0]["detail"][:200]
            )
            out.append(
                Row(
                    NAME,
                    f"{service.name}, {who}: failed / total connections",
                    round(failed / total, 4) if total else None,
                    target,
                    None if check is None else all(check(r) for r in mine),
                    raw,
                    note,
                )
            )
    return out


def run(args: Any) -> list[Row]:
    runs = max(1, int(getattr(args, "runs", 1)))
    repo = _bench.apt_repo_dir("12")
    _bench.require_podman_image(_bench.IMAGE)
    variables = scenario_vars()
    refresh_image(variables, repo)
    jobs = _jobs(runs)
    results: list[dict[str, Any]] = []

    def one(job: tuple[int, Service, str]) -> dict[str, Any]:
        run_index, service, contender = job
        started = time.perf_counter()
        try:
            result = measure(service, contender, variables, repo)
        except _bench.BenchError as exc:
            _bench.log(f"refresh_load run {run_index + 1} {service.name} {contender}: {exc}")
            return {
                "run": run_index + 1,
                "service": service.name,
                "contender": contender,
                "error": str(exc)[:600],
            }
        _bench.log(
            f"refresh_load run {run_index + 1}/{runs} {service.name} {contender}: "
            f"{result['failed']}/{result['connections']} failed, "
            f"action {result['action_s']:.2f} s, "
            f"stale after {result['stale_after']}/{result['processes_after']} "
            f"({time.perf_counter() - started:.0f} s)"
        )
        return {"run": run_index + 1, **result}

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = [pool.submit(one, job) for job in jobs]
        try:
            results = [future.result() for future in futures]
        except BaseException:
            # Ctrl-C/SIGTERM: start nothing new; the running measurements remove their containers.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    errors = [r for r in results if "error" in r]
    results = [r for r in results if "error" not in r]
    table = render_table(results)
    print(table, flush=True)
    _bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (_bench.RESULTS_DIR / "refresh_load.md").write_text(table + "\n", encoding="utf-8")
    out = rows(results)
    for error in errors:
        out.append(
            Row(
                NAME,
                f"{error['service']}, {error['contender']}: did not run",
                None,
                "-",
                None,
                {},
                error["error"],
            )
        )
    return out
