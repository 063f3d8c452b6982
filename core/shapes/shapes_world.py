"""The shapes world: synthetic scenes with known ground truth.

Every scene is a few coloured shapes on a plain canvas: grey by default; white, black, a random colour or grey
with light noise when asked (training draws all five, so the bundled models do not break on a student's scene
drawn on white). Because we drew them, we know exactly which pixels (and so which patches) belong to each object.
That turns "the word *red* should look at the red object" from a hope into something a test can check.

    scene = make_scene(seed=7)                      # grey; make_scene(7, background="white") is the same layout
    scene.image            # PIL.Image, (size, size) RGB
    scene.objects[0].mask  # (size, size) bool, True inside the object
    caption(scene)         # "a red circle and an orange square"
    questions(scene)       # [("what color is the circle?", "red"), ...]; phrasing=1: "what is the color of ..."
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

# The canvases a scene can be drawn on. "colour": a random colour far from every object's in the scene; "noise":
# the grey canvas with light per-pixel noise over the whole image. Training draws each with TRAINING_BACKGROUNDS'
# weights; the held-out shift table scores every one of them and "light blue", which training never draws by name.
BACKGROUNDS: tuple[str, ...] = ("grey", "white", "black", "colour", "noise", "light blue")
TRAINING_BACKGROUNDS: dict[str, float] = {"grey": 0.3, "white": 0.15, "black": 0.15, "colour": 0.25, "noise": 0.15}
LIGHT_BLUE = (173, 216, 230)
NOISE_STD = 8  # per channel, on every pixel: light enough that every object stays its colour
MIN_BACKGROUND_DISTANCE = 110  # a random background colour sits at least this far (RGB, Euclidean) from the objects

# Phrasings of each question. Phrasing 0 is the canonical one the pages and the held-out accuracy use.
COLOR_QUESTIONS = ("what color is the {shape}?", "what is the color of the {shape}?", "which color is the {shape}?",
                   "what colour is the {shape}?", "what is the colour of the {shape}?", "which colour is the {shape}?")
SHAPE_QUESTIONS = ("what shape is the {color} object?", "what is the shape of the {color} object?",
                   "which shape is the {color} object?")
COUNT_QUESTION = "how many objects are there?"


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


def make_scene(seed: int, n_objects: int | None = None, config: WorldConfig = WorldConfig(),
               background: str = "grey") -> Scene:
    """Draw one scene. Same seed, same scene. Objects in a scene have distinct shapes and distinct colours, so
    "the circle" and "the red object" always name exactly one object. The background (one of BACKGROUNDS) changes
    the canvas only: the same seed on another background has the same objects in the same places."""
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}; one of {BACKGROUNDS}")
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
    canvas_rng = random.Random(f"{seed}:{background}")  # the grey scene's draws stay exactly as they were
    image = Image.new("RGB", (size, size), _canvas(background, shade, colors, config, canvas_rng))
    draw = ImageDraw.Draw(image)
    objects = []
    for shape, color, box in zip(shapes, colors, boxes):
        fill = tuple(int(np.clip(c + rng.randint(-config.jitter, config.jitter), 0, 255)) for c in COLORS[color])
        _draw_shape(draw, shape, box, fill)
        mask_image = Image.new("L", (size, size), 0)
        _draw_shape(ImageDraw.Draw(mask_image), shape, box, 255)
        objects.append(SceneObject(shape, color, box, np.asarray(mask_image) > 127))
    objects.sort(key=lambda o: (o.box[0], o.box[1]))
    if background == "noise":
        noise = np.random.default_rng(canvas_rng.getrandbits(32)).normal(0, NOISE_STD, (size, size, 3))
        image = Image.fromarray(np.clip(np.asarray(image, dtype=float) + noise, 0, 255).round().astype(np.uint8))
    return Scene(image=image, objects=objects, seed=seed)


def _canvas(background: str, shade: int, colors: list[str], config: WorldConfig,
            rng: random.Random) -> tuple[int, int, int]:
    if background in ("grey", "noise"):
        return tuple(c + shade for c in config.background)
    if background == "white":
        return (255 - abs(shade),) * 3
    if background == "black":
        return (abs(shade),) * 3
    if background == "light blue":
        return LIGHT_BLUE
    while True:  # "colour": rejection sampling; about half of all RGB colours are far enough from three objects'
        rgb = tuple(rng.randint(0, 255) for _ in range(3))
        if min(np.linalg.norm(np.subtract(rgb, COLORS[c])) for c in colors) >= MIN_BACKGROUND_DISTANCE:
            return rgb


def training_background(seed: int) -> str:
    """The background training draws for scene `seed` (TRAINING_BACKGROUNDS' weights), the same every run."""
    names = list(TRAINING_BACKGROUNDS)
    return random.Random(f"background:{seed}").choices(names, weights=[TRAINING_BACKGROUNDS[n] for n in names])[0]


def with_article(words: str) -> str:
    """'a red circle', 'an orange square'."""
    return ("an " if words[:1] in tuple("aeiou") else "a ") + words


def caption(scene: Scene) -> str:
    """Name the objects left to right: 'a red circle, a blue square and a green triangle'."""
    names = [with_article(o.name) for o in scene.objects]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def questions(scene: Scene, phrasing: int = 0) -> list[tuple[str, str]]:
    """Every (question, answer) pair the templates give for this scene, in one phrasing (0 is canonical; larger
    numbers wrap round each template list)."""
    color_q = COLOR_QUESTIONS[phrasing % len(COLOR_QUESTIONS)]
    shape_q = SHAPE_QUESTIONS[phrasing % len(SHAPE_QUESTIONS)]
    pairs = []
    for o in scene.objects:
        pairs.append((color_q.format(shape=o.shape), o.color))
        pairs.append((shape_q.format(color=o.color), o.shape))
    pairs.append((COUNT_QUESTION, COUNT_WORDS[len(scene.objects)]))
    return pairs


def class_prompts() -> list[tuple[str, str]]:
    """(class name, prompt) for every colour x shape class, for zero-shot classification: ('orange circle',
    'an orange circle'), the captions' own words."""
    return [(f"{c} {s}", with_article(f"{c} {s}")) for c in COLORS for s in SHAPES]


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
