"""Is this image from the shapes world? A measured check, so a page can say when a bundled model is guessing.

The bundled models saw nothing but shapes-world scenes (core/shapes/shapes_world.py): a flat grey background
(WorldConfig.background shifted by a shade in [-12, 12], the same on all three channels) with 1-3 flat shapes, each
in one of the six palette colours (jittered by <= `jitter` per channel). On anything else (a photo, a plain red
image, a scene on white) they still answer, and just as confidently: the cat photo gets "three", a plain red image
"green" at 83%. The world guarantees three pixel statistics, measured here:

- background share: pixels within BACKGROUND_TOLERANCE (per channel) of the world's grey and themselves grey
  (channels within GREY_SPREAD of each other);
- object share: the other pixels within PALETTE_TOLERANCE (per channel) of a palette colour;
- covered share: background + object share (every pixel of a scene is one or the other).

Calibration (measured with `measure` on the current shapes_world, tolerances as below; JPEG at PIL's quality):

    image                                        background   object       covered      distinct colours
    500 held-out scenes (held_out.test_seeds)    0.656-0.967  0.033-0.344  1.000        2-4
    the three "shapes:" samples                  0.821-0.965  0.035-0.179  1.000        2-4
    50 held-out scenes enlarged to 384 px        0.666-0.951  0.039-0.300  0.961-0.991  4-21 (bilinear edges)
    100 held-out scenes saved as JPEG, q 75      0.489-0.912  0.025-0.273  0.709-0.963  11-68
    100 held-out scenes saved as JPEG, q 50      0.423-0.910  0.021-0.248  0.619-0.941  12-75
    photo: cat / astronaut / coffee / rocket     0.000-0.022  0.000-0.030  0.000-0.030  57-163
    the cat squeezed to 400 x 60, padded grey    0.406        0.000        0.406        48
    plain red (220, 40, 40)                      0.000        1.000        1.000        1
    plain grey (128, 128, 128)                   1.000        0.000        1.000        1
    uniform random noise, 64 x 64                0.002        0.076        0.078        512
    50 scenes each on white, black, light blue   0.000        0.042-0.309  0.042-0.309  2-4

The bundled BLIP VQA still answers JPEG'd scenes (40 held-out scenes, first question: 97.5% as PNG, 92.5% at JPEG
quality 75 or 50), so the thresholds sit between the JPEG'd scenes and everything else: in domain when background >=
MIN_BACKGROUND (0.35), covered >= MIN_COVERED (0.50) and object >= MIN_OBJECT (0.015). Scenes on another background
are out of domain, as they are for the bundled models (issue #18: BLIP VQA 64.5% on white against 99.2% on grey).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.shapes import shapes_world

BACKGROUND_TOLERANCE = 24  # the scene's shade moves the grey by <= 12; 12 more for resampling or JPEG
GREY_SPREAD = 12  # the background is R = G = B; room for JPEG's chroma noise
PALETTE_TOLERANCE = 30  # jitter is 18 per channel; 12 more, as above
QUANTUM = 32  # colours counted after dropping the low 5 bits per channel: 8 levels each
MAX_SIDE = 256  # measured on a copy at most this large: the statistics are shares, and a 1024 px photo is 16x work

MIN_BACKGROUND = 0.35  # held-out scenes: >= 0.656 (JPEG q 50: >= 0.423); photos <= 0.022
SCENES_BACKGROUND = 0.65  # what the reason quotes: every one of 500 held-out scenes has at least this
MIN_COVERED = 0.50  # scenes: 1.000 (enlarged: >= 0.961, JPEG q 50: >= 0.619); photos <= 0.030; noise 0.078
SCENES_OBJECT = 0.03  # what the reason quotes: every held-out scene has at least this
MIN_OBJECT = 0.015  # scenes >= 0.033 (one 16 px triangle; JPEG q 50: >= 0.021); a plain grey image: 0


@dataclass(frozen=True)
class DomainCheck:
    """How much an image looks like the shapes world.

    in_domain: every statistic is within what the world's scenes show.
    background: share of pixels that are the world's grey background, in [0, 1].
    objects: share of the other pixels that are one of the palette's object colours, in [0, 1].
    covered: background + objects; 1.0 for every scene the world draws.
    colours: distinct colours after quantising each channel to 8 levels (scenes: 2-4).
    reason: one sentence for the user naming the statistic that decided.
    """

    in_domain: bool
    background: float
    objects: float
    covered: float
    colours: int
    reason: str


def _pixels(image: Image.Image) -> np.ndarray:
    """(pixels, 3) int16 RGB, from a copy no larger than MAX_SIDE (nearest neighbour: no new colours)."""
    image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.NEAREST)
    return np.asarray(image, dtype=np.int16).reshape(-1, 3)


def measure(image: Image.Image, config: shapes_world.WorldConfig = shapes_world.WorldConfig()) -> DomainCheck:
    """The three shares and the verdict (thresholds and their calibration: the module docstring)."""
    pixels = _pixels(image)  # (P, 3)
    grey = np.array(config.background, dtype=np.int16)  # (3,)
    palette = np.array(list(shapes_world.COLORS.values()), dtype=np.int16)  # (C, 3)
    is_background = ((np.abs(pixels - grey).max(axis=1) <= BACKGROUND_TOLERANCE)
                     & (np.ptp(pixels, axis=1) <= GREY_SPREAD))  # (P,)
    to_palette = np.abs(pixels[:, None, :] - palette[None]).max(axis=2).min(axis=1)  # (P,) nearest colour, L-inf
    is_object = (to_palette <= PALETTE_TOLERANCE) & ~is_background  # (P,)
    background, objects = float(is_background.mean()), float(is_object.mean())
    covered = background + objects
    colours = int(np.unique(pixels // QUANTUM, axis=0).shape[0])

    grey_words = f"grey ({', '.join(str(c) for c in config.background)})"
    if background < MIN_BACKGROUND:
        reason = (f"the background is not the shapes world's {grey_words}: {background:.0%} of pixels match it; "
                  f"in training scenes at least {SCENES_BACKGROUND:.0%} do")
    elif covered < MIN_COVERED:
        reason = (f"{1 - covered:.0%} of pixels are neither the world's grey background nor one of its six object "
                  f"colours; in training scenes (saved as PNG) every pixel is one or the other")
    elif objects < MIN_OBJECT:
        reason = (f"there is no object in the world's colours: {objects:.1%} of pixels are; in training scenes at "
                  f"least {SCENES_OBJECT:.0%} are")
    else:
        reason = (f"it looks like a shapes-world scene: {background:.0%} of pixels are its grey background and "
                  f"{objects:.0%} its object colours")
    in_domain = background >= MIN_BACKGROUND and covered >= MIN_COVERED and objects >= MIN_OBJECT
    return DomainCheck(in_domain, background, objects, covered, colours, reason)
