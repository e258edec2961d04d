"""Prometheus text exposition of a few counters and a latency histogram (no dependency).

Several API workers serve one port and a scrape reaches one of them, so the worker asked
gathers every worker's counters over core NATS (``COLLECT``) and renders them all, each series
labelled with its ``worker``: sum over the label for the whole API."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

COLLECT = "mycloud.metrics.api"

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.bytes_in = 0
        self.bytes_out = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        counts = self.latency[route]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.latency_sum[route] += seconds

    def snapshot(self, worker: str) -> dict[str, Any]:
        return {
            "worker": worker,
            "requests": [[r, m, s, n] for (r, m, s), n in self.requests.items()],
            "latency": dict(self.latency),
            "sum": dict(self.latency_sum),
        }


def render(snapshots: list[dict[str, Any]], extra: dict[str, float]) -> str:
    """Every worker's series (one snapshot each, by worker name) and this worker's gauges."""
    snapshots = sorted({s["worker"]: s for s in snapshots}.values(), key=lambda s: s["worker"])
    out = ["# TYPE mycloud_http_requests_total counter"]
    for snap in snapshots:
        w = _label(snap["worker"])
        for r, m, s, n in sorted(snap["requests"]):
            out.append(
                f'mycloud_http_requests_total{{worker="{w}",route="{r}",method="{m}",'
                f'status="{s}"}} {n}'
            )
    out.append("# TYPE mycloud_http_request_seconds histogram")
    for snap in snapshots:
        w = _label(snap["worker"])
        for route, counts in sorted(snap["latency"].items()):
            labels = f'worker="{w}",route="{route}"'
            for bound, n in zip(BUCKETS, counts, strict=False):
                out.append(f'mycloud_http_request_seconds_bucket{{{labels},le="{bound}"}} {n}')
            out.append(f'mycloud_http_request_seconds_bucket{{{labels},le="+Inf"}} {counts[-1]}')
            out.append(f"mycloud_http_request_seconds_count{{{labels}}} {counts[-1]}")
            out.append(f"mycloud_http_request_seconds_sum{{{labels}}} {snap['sum'][route]}")
    for name, value in sorted(extra.items()):
        out += [f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
