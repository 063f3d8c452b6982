"""How sure is a percentage measured on n scenes? The Wilson score interval, and one way to print it.

Why Wilson and not p +- 1.96 * sqrt(p(1 - p) / n): the textbook (Wald) interval collapses to zero width at 0% and
100% and spills outside [0, 1] near them, which is exactly where the shapes world's accuracies live (95-100%).
Wilson's interval stays inside [0, 1] and keeps a sensible width there (Brown, Cai & DasGupta 2001).
"""
from __future__ import annotations

import math

Z_95 = 1.96  # two-sided 95%


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for `successes` out of `n` trials. 85/100 -> (0.767, 0.907)."""
    if n <= 0:
        raise ValueError(f"an interval needs at least one trial, got n={n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n={n}], got {successes}")
    return _wilson_share(successes / n, n, z)


def _wilson_share(share: float, n: int, z: float) -> tuple[float, float]:
    """Wilson interval around an observed share; also accepts a share that is a mean over several tokens per scene
    (then the binomial width is an upper bound on the true one, since a mean of 0/1 values varies no more)."""
    z2 = z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def interval(share: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson interval for a share (0-1) measured on n scenes."""
    if n <= 0:
        raise ValueError(f"an interval needs at least one scene, got n={n}")
    if not 0 <= share <= 1:
        raise ValueError(f"a share lies in [0, 1], got {share}")
    return _wilson_share(float(share), n, z)


def share_with_interval(share: float, n: int, z: float = Z_95) -> str:
    """'85% (77-91%, n=100)': the share, its 95% Wilson interval and the number of scenes behind it."""
    low, high = interval(share, n, z)
    return f"{share:.0%} ({low * 100:.0f}-{high * 100:.0f}%, n={n})"


def range_with_interval(share: float, n: int, z: float = Z_95) -> str:
    """'77-91%': only the interval, for sentences that already give the share and n."""
    low, high = interval(share, n, z)
    return f"{low * 100:.0f}-{high * 100:.0f}%"
