"""How far an attention map is from uniform, so a page can say so instead of letting a colour bar invent structure.

Every heatmap here stretches its colour scale from the map's own min to its max. On a map whose weights run from
0.0036 to 0.0048 the darkest and brightest patches then look as different as on a map running 0.0 to 0.5. The ratio
max / min says how large the spread really is: 1.0 is perfectly uniform; 1.3 means the most-attended patch gets 30%
more than the least.

Calibration: the map under an answer (the question's naming word, last layer, heads averaged, on the patches), the
bundled pack, 100 held-out scenes (core/shapes/held_out.py) with each scene's first question, and the sample images
with their sample questions:

    model              held-out shapes scenes: min / median / max    the photos: cat, coffee, rocket, astronaut
    bundled BLIP VQA   3.2 / 134 / 128000                            13.1, 7.9, 29.3, 660
    bundled ViLT       1.6 / 8.0 / 936                               1.60, 2.38, 6.6, 15.7

So on the bundled models no map under an answer is nearly uniform, not even on the cat: there the bundled BLIP's
"photo" runs 0.0039-0.0515 (13x). Their photo maps are not flat, just not about the question; the in-domain check
(core/shapes/in_domain.py) is what says that. The note matters for maps like issue #18's 0.0036-0.0048 (1.33x).
NEARLY_UNIFORM = 1.5: below it the largest weight is less than 1.5 times the smallest, under every held-out scene's
map (lowest 1.6, ViLT), yet the colour bar still stretches that spread from its darkest to its brightest colour.
"""
from __future__ import annotations

import numpy as np

NEARLY_UNIFORM = 1.5  # max/min below this: "attention is nearly uniform here"
TINY = 1e-12  # a softmax weight is never 0, but float32 can round one to 0; the ratio is then huge, not infinite


def uniformity(attention_map: np.ndarray) -> float:
    """max / min of a heatmap's weights (any shape, weights >= 0): 1.0 for a uniform map, larger as it peaks."""
    values = np.asarray(attention_map, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("an empty attention map has no uniformity")
    if values.min() < 0:
        raise ValueError(f"attention weights are >= 0; this map has {values.min():.3g}")
    high = float(values.max())
    if high == 0:
        return 1.0  # all zeros: flat (and nothing to stretch)
    return high / max(float(values.min()), TINY)


def nearly_uniform(attention_map: np.ndarray, threshold: float = NEARLY_UNIFORM) -> bool:
    """True when the map's max/min is below `threshold`: its colour scale would stretch a small spread."""
    return uniformity(attention_map) < threshold
