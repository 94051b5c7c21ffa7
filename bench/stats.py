"""Small statistics helpers shared by the benchmark scripts."""
from __future__ import annotations

import statistics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_s: list[float]) -> str:
    ms = [v * 1000 for v in values_s]
    return (f"n={len(ms)} median={statistics.median(ms):.1f}ms p99={percentile(ms, 99):.1f}ms "
            f"min={min(ms):.1f}ms max={max(ms):.1f}ms")
