import numpy as np

from core.concepts import captioning
from core.inputs import images
from core.shapes import shapes_world
from tests.models import bundled


def test_caption_matches_generate_and_has_one_attention_row_per_word():
    loaded = bundled("caption")
    name = "shapes: two objects"
    image = images.load_image(images.sample_png(name))
    result = captioning.caption(loaded.model, loaded.processor, image)
    reference = loaded.model.generate(pixel_values=loaded.processor(images=image, return_tensors="pt").pixel_values,
                                      max_new_tokens=30)
    assert result.caption == loaded.processor.tokenizer.decode(reference[0], skip_special_tokens=True).strip()
    assert result.caption.replace(" ,", ",") == shapes_world.caption(images.sample_scene(name))
    layers, heads, steps, keys = result.cross_attentions.shape
    assert steps == len(result.words) and keys == 1 + 64
    assert np.allclose(result.cross_attentions.sum(axis=-1), 1.0, atol=1e-5)


def test_while_writing_a_colour_word_the_decoder_looks_at_that_object_more_than_the_other():
    loaded = bundled("caption")
    hits = total = 0
    for seed in range(970_000_000, 970_000_030):
        scene = shapes_world.make_scene(seed, n_objects=2)
        result = captioning.caption(loaded.model, loaded.processor, scene.image)
        for obj, other in ((scene.objects[0], scene.objects[1]), (scene.objects[1], scene.objects[0])):
            if obj.color not in result.words:
                continue
            step = result.words.index(obj.color)
            row = result.cross_attentions[:, :, step, 1:].mean(axis=(0, 1)).reshape(8, 8)
            cover = lambda m: m.reshape(8, 8, 8, 8).mean(axis=(1, 3))  # noqa: E731 - patch coverage
            hits += (row * cover(obj.mask)).sum() > (row * cover(other.mask)).sum()
            total += 1
    assert total >= 40
    print(f"colour word grounded on its object in {hits}/{total} cases")
    assert hits / total > 0.5
