"""Least-squares trend of a series: how fast it grows and how steadily."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trend:
    """A fitted line: ``slope`` in units per second, ``r_squared`` in [0, 1] (1 = a straight line)."""

    slope: float
    r_squared: float
    increase: float


def linear_trend(points: Sequence[tuple[float, float]]) -> Trend | None:
    """Fit ``value = a + slope * time`` to ``(time, value)`` points by least squares.

    Returns None with fewer than two points or when all times are equal. A flat
    series has slope 0 and ``r_squared`` 0. ``increase`` is last minus first value.
    """
    n = len(points)
    if n < 2:
        return None
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    s_tt = sum((t - mean_t) ** 2 for t, _ in points)
    if s_tt <= 0:
        return None
    s_tv = sum((t - mean_t) * (v - mean_v) for t, v in points)
    s_vv = sum((v - mean_v) ** 2 for _, v in points)
    slope = s_tv / s_tt
    r_squared = 0.0 if s_vv <= 0 else min(1.0, (s_tv * s_tv) / (s_tt * s_vv))
    return Trend(slope, r_squared, points[-1][1] - points[0][1])
