"""Is this image from the shapes world? A measured check, so a page can say when a bundled model is guessing.

The bundled models saw nothing but shapes-world scenes (core/shapes/shapes_world.py): 1-3 flat shapes, each in one
of the six palette colours (jittered by <= `jitter` per channel), on a plain canvas: grey, white, black, a random
colour, or grey with light noise (shapes_world.TRAINING_BACKGROUNDS). On anything else (a photo, a plain red image)
they still answer, and just as confidently: the cat photo gets "three", a plain red image "green" at 83%. The world
guarantees three pixel statistics, measured here:

- background share: pixels within BACKGROUND_TOLERANCE (per channel) of the canvas colour, read as the median of
  the image's outermost ring of pixels;
- object share: the other pixels within PALETTE_TOLERANCE (per channel) of a palette colour;
- covered share: background + object share (every pixel of a scene is one or the other).

Calibration (measured with `measure`, tolerances as below; JPEG at PIL's quality, enlarged bilinear):

    image                                                 background   object       covered      distinct colours
    300 held-out scenes on each of the six backgrounds    0.685-0.967  0.033-0.315  0.999-1.000  2-4 (noise 12-47)
    the three "shapes:" samples                           0.821-0.965  0.035-0.179  1.000        2-4
    50 scenes (grey, noise, colour, white) to 384 px      0.676-0.955  0.038-0.304  0.968-1.000  4-58
    100 scenes (grey, noise, colour, white), JPEG q 50    0.662-0.955  0.023-0.277  0.869-1.000  7-92
    photo: cat / astronaut / coffee / rocket              0.095-0.630  0.000-0.057  0.125-0.630  57-163
    the cat squeezed to 100 x 60 on a grey canvas         0.543        0.000        0.543        47
    plain red (220, 40, 40) / plain grey                  1.000        0.000        1.000        1
    uniform random noise, 64 x 64                         0.028-0.034  0.156-0.161  0.188-0.194  512

The thresholds sit between the worst scene and the best photo: in domain when background >= MIN_BACKGROUND (0.50),
covered >= MIN_COVERED (0.80) and object >= MIN_OBJECT (0.015).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.shapes import shapes_world

BACKGROUND_TOLERANCE = 40  # light noise moves a pixel by up to ~3 x 8 per channel; 16 more for resampling or JPEG
PALETTE_TOLERANCE = 40  # jitter is 18 per channel, noise ~24 more at 3 sigma
QUANTUM = 32  # colours counted after dropping the low 5 bits per channel: 8 levels each
MAX_SIDE = 256  # measured on a copy at most this large: the statistics are shares, and a 1024 px photo is 16x work

MIN_BACKGROUND = 0.50  # scenes: >= 0.662 (JPEG q 50 included); photos 0.095-0.630; uniform noise 0.03
SCENES_BACKGROUND = 0.65  # what the reason quotes: every held-out scene has at least this
MIN_COVERED = 0.80  # scenes: >= 0.999 (enlarged: >= 0.968, JPEG q 50: >= 0.869); photos <= 0.630
SCENES_OBJECT = 0.03  # what the reason quotes: every held-out scene has at least this
MIN_OBJECT = 0.015  # scenes >= 0.033 (one 16 px triangle; JPEG q 50: >= 0.023); a plain image: 0


@dataclass(frozen=True)
class DomainCheck:
    """How much an image looks like the shapes world.

    in_domain: every statistic is within what the world's scenes show.
    background: share of pixels that are the image's plain canvas colour (its edge's median), in [0, 1].
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
    """(H, W, 3) int16 RGB, from a copy no larger than MAX_SIDE (nearest neighbour: no new colours)."""
    image = image.convert("RGB")
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.NEAREST)
    return np.asarray(image, dtype=np.int16)


def background_colour(grid: np.ndarray) -> np.ndarray:
    """(3,) the canvas colour of an (H, W, 3) image: the median of its outermost ring of pixels (objects touch
    the edge of a scene in a few places at most)."""
    ring = np.concatenate([grid[0], grid[-1], grid[1:-1, 0], grid[1:-1, -1]])
    return np.median(ring, axis=0).astype(np.int16)


def measure(image: Image.Image) -> DomainCheck:
    """The three shares and the verdict (thresholds and their calibration: the module docstring)."""
    grid = _pixels(image)  # (H, W, 3)
    canvas = background_colour(grid)  # (3,)
    pixels = grid.reshape(-1, 3)  # (P, 3)
    palette = np.array(list(shapes_world.COLORS.values()), dtype=np.int16)  # (C, 3)
    is_background = np.abs(pixels - canvas).max(axis=1) <= BACKGROUND_TOLERANCE  # (P,)
    to_palette = np.abs(pixels[:, None, :] - palette[None]).max(axis=2).min(axis=1)  # (P,) nearest colour, L-inf
    is_object = (to_palette <= PALETTE_TOLERANCE) & ~is_background  # (P,)
    background, objects = float(is_background.mean()), float(is_object.mean())
    covered = background + objects
    colours = int(np.unique(pixels // QUANTUM, axis=0).shape[0])

    if background < MIN_BACKGROUND:
        reason = (f"the background is not one plain colour, as the shapes world's are: {background:.0%} of pixels "
                  f"match the colour round its edge; in training scenes at least {SCENES_BACKGROUND:.0%} do")
    elif covered < MIN_COVERED:
        reason = (f"{1 - covered:.0%} of pixels are neither the plain background nor one of the world's six object "
                  f"colours; in training scenes (saved as PNG) every pixel is one or the other")
    elif objects < MIN_OBJECT:
        reason = (f"there is no object in the world's colours: {objects:.1%} of pixels are; in training scenes at "
                  f"least {SCENES_OBJECT:.0%} are")
    else:
        reason = (f"it looks like a shapes-world scene: {background:.0%} of pixels are its plain background and "
                  f"{objects:.0%} its object colours")
    in_domain = background >= MIN_BACKGROUND and covered >= MIN_COVERED and objects >= MIN_OBJECT
    return DomainCheck(in_domain, background, objects, covered, colours, reason)
