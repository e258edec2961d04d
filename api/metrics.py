"""Prometheus text exposition of a few counters and a latency histogram (no dependency)."""

from __future__ import annotations

from collections import defaultdict

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

    def render(self, extra: dict[str, float]) -> str:
        out = [
            "# TYPE mycloud_http_requests_total counter",
            *(
                f'mycloud_http_requests_total{{route="{r}",method="{m}",status="{s}"}} {n}'
                for (r, m, s), n in sorted(self.requests.items())
            ),
            "# TYPE mycloud_http_request_seconds histogram",
        ]
        for route, counts in sorted(self.latency.items()):
            for bound, n in zip(BUCKETS, counts, strict=False):
                out.append(
                    f'mycloud_http_request_seconds_bucket{{route="{route}",le="{bound}"}} {n}'
                )
            out.append(
                f'mycloud_http_request_seconds_bucket{{route="{route}",le="+Inf"}} {counts[-1]}'
            )
            out.append(f'mycloud_http_request_seconds_count{{route="{route}"}} {counts[-1]}')
            out.append(
                f'mycloud_http_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]}'
            )
        for name, value in sorted(extra.items()):
            out += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(out) + "\n"
