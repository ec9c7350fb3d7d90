# SPDX-License-Identifier: GPL-3.0-or-later
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: per-host wall time of every task, written as JSON at the end.

Enabled by benchmarks/_bench.py (ANSIBLE_CALLBACKS_ENABLED); the file is named by the
environment variable PW_BENCH_TIMINGS. Not part of the collection.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: patchwise_bench_timer
type: aggregate
short_description: Record per-host task wall times for the benchmarks
description:
  - Writes a JSON list of {host, task, start, end, seconds, status} to the file named by the
    environment variable PW_BENCH_TIMINGS.
requirements:
  - enable in the callbacks_enabled setting
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "patchwise_bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._started: dict[tuple[str, str], float] = {}
        self._records: list[dict[str, Any]] = []

    def _key(self, host: Any, task: Any) -> tuple[str, str]:
        return (host.get_name(), task._uuid)

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        self._started[self._key(host, task)] = time.time()

    def _end(self, result: Any, status: str) -> None:
        key = self._key(result._host, result._task)
        start = self._started.pop(key, None)
        end = time.time()
        self._records.append(
            {
                "host": key[0],
                "task": result._task.get_name(),
                "start": start,
                "end": end,
                "seconds": None if start is None else end - start,
                "status": status,
            }
        )

    def v2_runner_on_ok(self, result: Any) -> None:
        self._end(result, "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._end(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._end(result, "unreachable")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._end(result, "skipped")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get("PW_BENCH_TIMINGS")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(self._records, handle)
