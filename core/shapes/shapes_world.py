"""The shapes world: synthetic scenes with known ground truth.

Every scene is a few coloured shapes on a grey canvas. Because we drew them, we know exactly which pixels (and so
which patches) belong to each object. That turns "the word *red* should look at the red object" from a hope into
something a test can check.

    scene = make_scene(seed=7)
    scene.image            # PIL.Image, (size, size) RGB
    scene.objects[0].mask  # (size, size) bool, True inside the object
    caption(scene)         # "a red circle and a blue square"
    questions(scene)       # [("what color is the circle?", "red"), ...]
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 215, 40),
    "purple": (145, 55, 190),
    "orange": (245, 140, 25),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
COUNT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three")


@dataclass(frozen=True)
class WorldConfig:
    """Size settings of the world. Defaults match the bundled models."""

    image_size: int = 64  # 64 px keeps a forward cheap on 2 CPU cores; with 8 px patches -> an 8x8 grid
    min_objects: int = 1
    max_objects: int = 3
    min_extent: int = 16  # smaller objects cover < 2 patches and get lost after the patch projection
    max_extent: int = 26
    background: tuple[int, int, int] = (128, 128, 128)
    jitter: int = 18  # per-channel colour noise, so a colour is a region of RGB space, not one point


@dataclass
class SceneObject:
    shape: str
    color: str
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels, x1/y1 exclusive
    mask: np.ndarray = field(repr=False)  # (size, size) bool

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass
class Scene:
    image: Image.Image
    objects: list[SceneObject]  # sorted left to right, the order captions name them in
    seed: int


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif shape == "triangle":
        draw.polygon([((x0 + x1 - 1) / 2, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _overlaps(a, b, margin: int = 2) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def make_scene(seed: int, n_objects: int | None = None, config: WorldConfig = WorldConfig()) -> Scene:
    """Draw one scene. Same seed, same scene. Objects in a scene have distinct shapes and distinct colours, so
    "the circle" and "the red object" always name exactly one object."""
    rng = random.Random(seed)
    size = config.image_size
    n = n_objects if n_objects is not None else rng.randint(config.min_objects, config.max_objects)
    if not 1 <= n <= len(SHAPES):
        raise ValueError(f"a scene holds 1-{len(SHAPES)} objects, got {n}")
    shapes = rng.sample(SHAPES, n)
    colors = rng.sample(list(COLORS), n)

    boxes: list[tuple[int, int, int, int]] = []
    while len(boxes) < n:  # rejection sampling; 3 objects of <= 26 px always fit on 64 px within a few tries
        extent = rng.randint(config.min_extent, config.max_extent)
        x0, y0 = rng.randint(0, size - extent), rng.randint(0, size - extent)
        box = (x0, y0, x0 + extent, y0 + extent)
        if all(not _overlaps(box, other) for other in boxes):
            boxes.append(box)

    shade = rng.randint(-12, 12)
    image = Image.new("RGB", (size, size), tuple(c + shade for c in config.background))
    draw = ImageDraw.Draw(image)
    objects = []
    for shape, color, box in zip(shapes, colors, boxes):
        fill = tuple(int(np.clip(c + rng.randint(-config.jitter, config.jitter), 0, 255)) for c in COLORS[color])
        _draw_shape(draw, shape, box, fill)
        mask_image = Image.new("L", (size, size), 0)
        _draw_shape(ImageDraw.Draw(mask_image), shape, box, 255)
        objects.append(SceneObject(shape, color, box, np.asarray(mask_image) > 127))
    objects.sort(key=lambda o: (o.box[0], o.box[1]))
    return Scene(image=image, objects=objects, seed=seed)


def caption(scene: Scene) -> str:
    """Name the objects left to right: 'a red circle, a blue square and a green triangle'."""
    names = [f"a {o.name}" for o in scene.objects]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def questions(scene: Scene) -> list[tuple[str, str]]:
    """Every (question, answer) pair the templates give for this scene."""
    pairs = []
    for o in scene.objects:
        pairs.append((f"what color is the {o.shape}?", o.color))
        pairs.append((f"what shape is the {o.color} object?", o.shape))
    pairs.append(("how many objects are there?", COUNT_WORDS[len(scene.objects)]))
    return pairs


def class_prompts(template: str = "a {color} {shape}") -> list[tuple[str, str]]:
    """(class name, prompt) for every colour x shape class, for zero-shot classification."""
    return [(f"{c} {s}", template.format(color=c, shape=s)) for c in COLORS for s in SHAPES]


def answer_vocabulary() -> list[str]:
    """Every answer the VQA templates can give, in a fixed order (ViLT's label ids)."""
    return list(COLORS) + list(SHAPES) + list(COUNT_WORDS[1:])


# Words the tokenizer knows. The templates' words, plus the common words of a classroom question, so that a typed
# "what animal is in the photo?" is tokenised into real words (the tiny models simply never saw them in training).
EXTRA_WORDS = (
    "a an the of in on is are what which where how many there this that photo picture image object objects "
    "animal cat dog color colour shape left right top bottom and it to with"
).split()


def vocabulary() -> list[str]:
    words = set(EXTRA_WORDS) | set(COLORS) | set(SHAPES) | set(COUNT_WORDS)
    return sorted(words) + [",", ".", "?", "!"]
