# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One step of the 4-step pattern, on the controller: one ansible-playbook process, then the
independent probe of the hosts.

Usage:
  python3 pw_step.py --probes FILE --probe-host HOST...            (probe only: the state before)
  python3 pw_step.py --probes FILE --probe-host HOST... --host HOST... --step N --log LOG \\
      -- ansible-playbook ARGS...

The command runs with the JSON stdout callback (ansible.posix.json) and no other callback, and
with a request recorder on 127.0.0.1 (an ephemeral port) named as the AWX controller
(CONTROLLER_HOST, CONTROLLER_OAUTH_TOKEN): it logs the method and path of every request and
answers each with 503. It is not AWX and imitates none of its API; it only shows whether a run
sends requests at all. The whole output goes to LOG.

Then files/pw_idem_probe.py runs in every probe host by a plain `podman exec` (nothing from the
collection); its `state` is compared with the one FILE kept from before the step, and replaces
it. stdout gets one JSON object: step, mode, rc, seconds, outcome per host of --host (from the
recap: changed, unchanged, failed or absent), changed_tasks and failed_tasks (task names per
host), requests, differs ([host, key] of every probe key that changed), log.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROBE = ["python3", "/usr/local/lib/pw_idem_probe.py"]
REQUESTS: list[dict[str, str]] = []


class Recorder(BaseHTTPRequestHandler):
    def _record(self) -> None:
        REQUESTS.append({"method": self.command, "path": self.path})
        body = b'{"detail": "request recorder of the idempotence test, not a controller"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    def log_message(self, *_args: Any) -> None:
        return


def task_names(result: dict[str, Any], flag: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for play in result.get("plays", []):
        for task in play.get("tasks", []):
            for host, res in task.get("hosts", {}).items():
                items = res.get("results") if isinstance(res.get("results"), list) else [res]
                if res.get(flag) or any(isinstance(i, dict) and i.get(flag) for i in items):
                    entry = task["task"]["name"]
                    if flag == "failed":
                        entry += ": " + str(res.get("msg", ""))[:300]
                    found.setdefault(host, []).append(entry)
    return found


def run_playbook(argv: list[str], log: str) -> tuple[int, float, dict[str, Any], str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(
        os.environ,
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        # replaces the configured ones (profile_tasks would print text into the JSON)
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        CONTROLLER_HOST=f"http://127.0.0.1:{server.server_address[1]}",
        # not a secret: the recorder checks nothing
        CONTROLLER_OAUTH_TOKEN="pw-idem-not-a-token",  # noqa: S106
    )
    start = time.monotonic()
    # the argv of this scenario's own steps (tasks/four-steps.yml), no shell
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    seconds = round(time.monotonic() - start, 1)
    server.shutdown()
    with open(log, "w", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(argv)}\n# rc {proc.returncode}, {seconds} s\n")
        handle.write(proc.stdout + "\n--- stderr\n" + proc.stderr)
    try:
        result = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        result = {}
    return proc.returncode, seconds, result, proc.stderr[-1500:]


def probe(hosts: list[str]) -> dict[str, Any]:
    found = {}
    for host in hosts:
        # podman exec of a fixed argv in this scenario's own container, no shell
        out = subprocess.run(["podman", "exec", host, *PROBE], capture_output=True,  # noqa: S603, S607
                             text=True, check=True, timeout=120)
        found[host] = json.loads(out.stdout)["state"]
    return found


def outcome(result: dict[str, Any], host: str) -> str:
    stats = result.get("stats", {})
    if host not in stats:
        return "absent"
    if stats[host].get("failures", 0) + stats[host].get("unreachable", 0) > 0:
        return "failed"
    return "changed" if stats[host].get("changed", 0) > 0 else "unchanged"


def main() -> None:
    own, argv = (sys.argv[1:sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1:]) \
        if "--" in sys.argv else (sys.argv[1:], [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--probes", required=True)
    parser.add_argument("--probe-host", action="append", default=[])
    parser.add_argument("--host", action="append", default=[])
    parser.add_argument("--step", type=int, default=0)
    parser.add_argument("--log", default=os.devnull)
    args = parser.parse_args(own)
    report: dict[str, Any] = {}
    if argv:
        rc, seconds, result, stderr = run_playbook(argv, args.log)
        report = {
            "step": args.step,
            "mode": "check" if "--check" in argv else "apply",
            "rc": rc,
            "seconds": seconds,
            "parsed": bool(result),
            "outcome": {host: outcome(result, host) for host in args.host},
            "changed_tasks": task_names(result, "changed"),
            "failed_tasks": task_names(result, "failed"),
            "requests": REQUESTS,
            "stderr_tail": stderr,
            "log": args.log,
        }
    after = probe(args.probe_host)
    if argv:
        with open(args.probes, encoding="utf-8") as handle:
            before = json.load(handle)
        report["differs"] = [
            [host, key] for host in args.probe_host for key in sorted(after[host])
            if before.get(host, {}).get(key) != after[host][key]
        ]
    with open(args.probes, "w", encoding="utf-8") as handle:
        json.dump(after, handle)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
