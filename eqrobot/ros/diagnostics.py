"""Counters and latency percentiles of a node, and their /diagnostics message."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from eqrobot.ros.convert.header import make_header

LEVEL_OK, LEVEL_WARN, LEVEL_ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


@dataclass
class NodeStats:
    """What a node has done since it started. Latency is over the last ``window`` messages."""

    window: int = 1000
    processed: int = 0
    rejected: int = 0
    errors: int = 0
    ignored_inactive: int = 0
    last_problem: str = ""
    _latencies: deque = field(default_factory=deque, repr=False)
    _problems_at_last_report: int = 0

    def __post_init__(self) -> None:
        self._latencies = deque(maxlen=self.window)

    def record_success(self, seconds: float) -> None:
        self.processed += 1
        self._latencies.append(seconds)

    def record_rejection(self, reason: str) -> None:
        self.rejected += 1
        self.last_problem = reason

    def record_error(self, reason: str) -> None:
        self.errors += 1
        self.last_problem = reason

    def latency_ms(self, percentile: float) -> float:
        if not self._latencies:
            return float("nan")
        return float(np.percentile(np.fromiter(self._latencies, float), percentile) * 1e3)

    def problems_since_last_report(self) -> int:
        total = self.rejected + self.errors
        new = total - self._problems_at_last_report
        self._problems_at_last_report = total
        return new


def diagnostic_array(name: str, hardware_id: str, state: str, stats: NodeStats, failure: str, stamp) -> DiagnosticArray:
    """One DiagnosticStatus: ERROR when the node failed to configure, WARN when inputs were
    rejected (or processing failed) since the previous report, OK otherwise."""
    new_problems = stats.problems_since_last_report()
    if failure:
        level, message = LEVEL_ERROR, failure
    elif new_problems:
        level, message = LEVEL_WARN, f"{new_problems} input(s) rejected or failed: {stats.last_problem}"
    else:
        level, message = LEVEL_OK, state
    values = {
        "state": state,
        "device": hardware_id,
        "processed": stats.processed,
        "rejected": stats.rejected,
        "errors": stats.errors,
        "ignored_inactive": stats.ignored_inactive,
        "latency_p50_ms": f"{stats.latency_ms(50):.2f}",
        "latency_p95_ms": f"{stats.latency_ms(95):.2f}",
        "last_problem": stats.last_problem,
    }
    status = DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )
    return DiagnosticArray(header=make_header(stamp=stamp), status=[status])


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    """A DiagnosticStatus's key/values as a dict (for tests and tools)."""
    return {kv.key: kv.value for kv in status.values}
