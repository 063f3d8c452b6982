"""The masking test's controls: k random patches on the named object, k patches of the other object."""
import numpy as np
from PIL import Image

from core.analysis import faithfulness
from core.shapes import held_out
from tests.models import bundled


def test_object_patches_draw_from_the_object_and_top_up_from_its_edge():
    coverage = np.zeros(16)
    coverage[[5, 6, 9, 10]] = 1.0  # a 2 x 2 object
    coverage[[1, 2]] = [0.3, 0.2]  # its edge
    rng = np.random.default_rng(0)
    drawn = faithfulness.object_patches(coverage, 3, rng)
    assert len(set(drawn)) == 3 and set(drawn) <= {5, 6, 9, 10}
    topped = faithfulness.object_patches(coverage, 6, rng)
    assert set(topped) == {5, 6, 9, 10, 1, 2}  # the four it fills, then the most covered of the rest


def test_hiding_the_named_object_hurts_the_answer_more_than_hiding_the_other_object():
    vqa = bundled("vqa")
    summary = faithfulness.masking_summary(vqa.model, vqa.processor, held_out.test_seeds(8), k=8)
    assert summary.scenes == 8 and all(getattr(summary, c).shape == (8,) for c in faithfulness.CONTROLS)
    named, other = summary.drop("named_object"), summary.drop("other_object")
    assert named.mean > other.mean + 0.1  # the answer needs the object it is asked about, not any object
    assert summary.drop("top_attended").mean > summary.drop("random").mean  # attention beats chance
    assert summary.share_larger("named_object", "other_object").endswith("n=8)")


def test_the_controls_are_filled_only_when_both_objects_are_known():
    vqa = bundled("vqa")
    from core.concepts import cross_attention
    from core.shapes import shapes_world

    scene = shapes_world.make_scene(held_out.TEST_SEED, n_objects=2)
    named, other = scene.objects[0], scene.objects[1]
    question = f"what color is the {named.shape}?"
    asked = cross_attention.ask(vqa.model, vqa.processor, scene.image, question)
    row = asked.token_patch_matrix.mean(axis=(0, 1))[cross_attention.naming_token(asked.tokens)]
    plain = faithfulness.masking_test(vqa.model, vqa.processor, asked.patches, question, asked.answer, row, 4)
    assert plain.p_named_object_masked is None and plain.p_other_object_masked is None
    cover = [asked.patches.coverage(o.mask).ravel() for o in (named, other)]
    full = faithfulness.masking_test(vqa.model, vqa.processor, asked.patches, question, asked.answer, row, 4,
                                     named_coverage=cover[0], other_coverage=cover[1])
    assert abs(full.p_top_masked - plain.p_top_masked) < 1e-5  # the same pictures (random ones: the same draws)
    assert abs(full.p_random_masked - plain.p_random_masked) < 1e-5
    assert 0 <= full.p_named_object_masked <= 1 and 0 <= full.p_other_object_masked <= 1
    hidden = faithfulness.answer_probability(vqa.model, vqa.processor, Image.fromarray(asked.patches.hidden(
        plain.top_patches)), question, asked.answer)
    assert abs(hidden - plain.p_top_masked) < 1e-4  # the batched path agrees with one picture at a time
