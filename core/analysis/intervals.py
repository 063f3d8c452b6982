"""How sure is a percentage measured on n scenes? The Wilson score interval, and one way to print it. How sure is a
mean over n scenes (a deletion area, a drop in probability)? The t-interval of the mean (mean_interval).

Why Wilson and not p +- 1.96 * sqrt(p(1 - p) / n): the textbook (Wald) interval collapses to zero width at 0% and
100% and spills outside [0, 1] near them, which is exactly where the shapes world's accuracies live (95-100%).
Wilson's interval stays inside [0, 1] and keeps a sensible width there (Brown, Cai & DasGupta 2001).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class MeanInterval:
    """A mean over n scenes with its 95% t-interval: mean +- t(n - 1) * s / sqrt(n), s the sample standard
    deviation (ddof 1). low == high == mean when n == 1 (no spread to measure)."""

    mean: float
    low: float
    high: float
    n: int

    def separated_from(self, other: MeanInterval) -> bool:
        """True when the two intervals do not overlap (a conservative test: a paired difference can still be
        significant when they do; see mean_interval of the per-scene differences)."""
        return self.high < other.low or other.high < self.low

    def excludes(self, value: float) -> bool:
        return not self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.3f} ({self.low:.3f} to {self.high:.3f}, n={self.n})"


def t_quantile(n: int, confidence: float = 0.95) -> float:
    """The two-sided Student t critical value with n - 1 degrees of freedom: 2.776 for n = 5, 1.968 for n = 300."""
    from scipy.stats import t  # scipy comes with scikit-learn (requirements.txt)

    return float(t.ppf(0.5 + confidence / 2, n - 1))


def mean_interval(values, confidence: float = 0.95) -> MeanInterval:
    """(n,) one number per scene -> their mean and its t-interval. Why t and not a bootstrap: deterministic (no
    seed, the same numbers on every run), exact for a normal mean and close for n >= 30 by the central limit
    theorem; the per-scene areas here are bounded in [0, 1], so no heavy tail upsets it. [1, 2, 3, 4, 5] ->
    3 +- 2.776 * 1.581 / sqrt(5) = (1.037, 4.963)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("an interval of a mean needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return MeanInterval(mean, mean, mean, 1)
    half = t_quantile(x.size, confidence) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return MeanInterval(mean, mean - half, mean + half, int(x.size))
