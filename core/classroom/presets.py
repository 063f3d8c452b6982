"""Ready-made examples, one click each: what a TA prepares before office hours.

A page preset is a `View` (the same thing a shared link carries) plus one sentence on what to look for. The CLIP
page's presets are galleries: images and captions, one of them chosen to confuse.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.attention import HEAD_MEAN
from core.classroom.deep_link import View
from core.inputs import images


@dataclass(frozen=True)
class Preset:
    title: str  # the button's words
    view: View  # page, image, text; the pack is left to the user unless the example needs one
    notice: str  # what to look for once it is loaded


def _p(page: str, title: str, image: str, notice: str, text: str | None = None, **choices) -> Preset:
    return Preset(title, View(page=page, image=image, text=text, **choices), notice)


PRESETS: dict[str, list[Preset]] = {
    "patches": [
        _p("patches", "One object: does CLS find it?", "shapes: one object",
           "Guess where CLS looks, then compare the last layer with the rollout.", predict=True, head=HEAD_MEAN),
        _p("patches", "Three objects: rollout", "shapes: three objects",
           "Raise the discard ratio: which objects survive in the rollout?"),
        _p("patches", "The cat, 7 x 7 patches", "photo: cat",
           "Count the patches: 224 px / 32 px = 7 per side. On the hub pack, try the 16 px grid.", head=HEAD_MEAN),
    ],
    "cross-attention": [
        _p("cross-attention", "What colour is the circle?", "shapes: two objects",
           "The word *circle* should light up the green circle's patches, not the red triangle's.",
           text="what color is the circle?", predict=True),
        _p("cross-attention", "Which shape is green?", "shapes: two objects",
           "Pick the token *green*: does it look at the green object although the answer is a shape?",
           text="what shape is the green object?"),
        _p("cross-attention", "How many objects?", "shapes: three objects",
           "Counting needs every object: is any one token's attention spread over all three?",
           text="how many objects are there?"),
        _p("cross-attention", "What animal is in the photo?", "photo: cat",
           "Best on the hub pack (real BLIP): where does *animal* look?", text="What animal is in the photo?"),
    ],
    "early-fusion": [
        _p("early-fusion", "The triangle's colour, one stream", "shapes: two objects",
           "Guess how much of the text's attention goes to the image, then read the mass chart.",
           text="what color is the triangle?", predict=True),
        _p("early-fusion", "Which shape is purple?", "shapes: three objects",
           "Click the purple object's patches: which words do they read?", text="what shape is the purple object?"),
        _p("early-fusion", "What is the astronaut wearing?", "photo: astronaut",
           "Best on the hub pack (real ViLT): the four blocks of the joint matrix on a photo.",
           text="What is the person wearing?"),
    ],
}


def presets_for(page: str) -> list[Preset]:
    """The page's presets whose images exist here (the photos need scikit-image's data)."""
    available = images.samples()
    return [p for p in PRESETS.get(page, []) if p.view.image in available]


@dataclass(frozen=True)
class ClipGallery:
    """A CLIP-space preset: images (sample names) and captions; caption i belongs to image i for i < len(images),
    later captions have no image. `confusing` is the index of the caption meant to fool the model."""
    title: str
    images: tuple[str, ...]
    captions: tuple[str, ...]
    confusing: int
    why: str  # what the confusing caption teaches


def _swapped_colours(name: str) -> str:
    """The scene's caption with its first two objects' colours exchanged: the same words, bound differently."""
    a, b = images.sample_scene(name).objects[:2]
    return images.samples()[name].caption.replace(a.color, "\0").replace(b.color, a.color).replace("\0", b.color)


def clip_galleries() -> list[ClipGallery]:
    """CLIP presets whose images exist here. Each has one caption chosen to confuse."""
    samples = images.samples()
    shapes = [n for n in images.SAMPLE_SCENES if n in samples]
    out = [ClipGallery(
        "Swapped colours", tuple(shapes),
        tuple(samples[n].caption for n in shapes) + (_swapped_colours("shapes: two objects"),),
        len(shapes),
        "The last caption uses exactly the words of the two-object scene's caption, with the colours swapped. A "
        "text tower that reads a caption partly as a bag of words scores it far above the unrelated captions "
        "(on the bundled pack: cosine 0.72 with the scene, against 0.92 for the true caption): CLIP is known to "
        "be weak at binding attributes to their objects.",
    )]
    photos = [n for n in ("photo: cat", "photo: astronaut", "photo: coffee", "photo: rocket") if n in samples]
    if len(photos) >= 3:
        out.append(ClipGallery(
            "Photos and a mixed caption", tuple(photos),
            tuple(samples[n].caption for n in photos) + ("an astronaut drinking a cup of coffee",),
            len(photos),
            "The last caption names two of the photos at once: on the hub pack it sits between the astronaut and "
            "the coffee, and shows that one caption vector has to summarise everything it mentions.",
        ))
    return out
