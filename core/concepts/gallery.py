"""The CLIP page's gallery: named images, each with the caption that belongs to it.

The sample images (core/inputs/images.py) plus extra one-object shapes scenes, so the bundled pack always has at least
eight in-world images to place in its space. Captions come from ground truth for shapes scenes and from the
sample's description for photos.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from core.inputs import images
from core.shapes import shapes_world

# Classes the samples do not already show, one scene each; drawn from seeds far above training's and the test set's.
EXTRA_CLASSES = ("red circle", "blue square", "green triangle", "yellow circle", "purple square", "orange circle")
FIRST_SEED = 990_000_100
MIN_GALLERY = 8


@dataclass(frozen=True)
class GalleryItem:
    name: str
    png: bytes
    caption: str
    kind: str  # "shapes", "photo" or "upload"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, GalleryItem]:
    """Every image the gallery can offer, shapes scenes first."""
    items = {name: GalleryItem(name, images.sample_png(name), sample.caption, sample.kind)
             for name, sample in images.samples().items()}
    for scene in map(_first_scene_of, EXTRA_CLASSES):
        name = f"shapes: {scene.objects[0].name}"
        items[name] = GalleryItem(name, images.to_png(scene.image), shapes_world.caption(scene), "shapes")
    shapes_first = sorted(items.values(), key=lambda item: item.kind != "shapes")
    return {item.name: item for item in shapes_first}


def _first_scene_of(class_name: str) -> shapes_world.Scene:
    seed = FIRST_SEED
    while (scene := shapes_world.make_scene(seed, n_objects=1)).objects[0].name != class_name:
        seed += 1
    return scene


def default_names(pack: str) -> list[str]:
    """The bundled models only know the shapes world, so their default gallery is shapes scenes and one photo (to
    show what happens out of distribution); the hub models get every sample."""
    items = catalogue()
    if pack != "bundled":
        return list(items)
    shapes = [name for name, item in items.items() if item.kind == "shapes"]
    photos = [name for name, item in items.items() if item.kind == "photo"]
    return shapes + photos[:1]
