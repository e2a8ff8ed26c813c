"""The rate–distortion plane's frontier: which β's point another point beats in both rate and distortion."""

from __future__ import annotations


def dominated(points: dict[float, tuple[float, float]]) -> dict[float, float]:
    """Each β whose point (R, D) another β's point beats in both, a lower rate and a lower
    distortion, with the β of the best such point (the lowest distortion): the rate it spends
    buys nothing.

    Args:
        points: (rate, distortion) by β.
    """
    found = {}
    for beta, (rate, distortion) in points.items():
        better = [(d, other) for other, (r, d) in points.items() if r < rate and d < distortion]
        if better:
            found[beta] = min(better)[1]
    return found
