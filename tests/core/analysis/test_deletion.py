import numpy as np
import pytest
from PIL import Image

from core.analysis import deletion, faithfulness, relevancy
from core.attention.patch_grid import PatchGrid
from core.concepts import cross_attention
from core.inputs import images
from core.shapes import held_out
from tests.models import bundled

QUESTION = "what color is the circle?"


def test_area_and_steps_by_hand():
    assert deletion.area(np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.5, 0.0])) == pytest.approx(0.5)
    assert deletion.area(np.array([0.0, 0.25, 1.0]), np.array([1.0, 0.0, 0.0])) == pytest.approx(0.125)
    assert list(deletion.step_counts(64)) == [0, 4, 8, 16, 24, 32, 48, 64]
    assert list(deletion.order(np.array([0.1, 0.9, 0.1, 0.5]))) == [1, 3, 0, 2]


def test_the_pictures_hide_the_first_patches_for_deletion_and_the_rest_for_insertion():
    grid = PatchGrid.of(np.full((16, 16, 3), 255, dtype=np.uint8), 8)  # 2 x 2 patches
    deleted, inserted = deletion._pictures(grid, np.array([3, 0, 1, 2]), np.array([0, 1, 4]))
    assert (deleted[8:, 8:] == 128).all() and (deleted[:8] == 255).all()  # patch 3 (bottom right) hidden
    assert (inserted[8:, 8:] == 255).all() and (inserted[:8] == 128).all() and (inserted[8:, :8] == 128).all()


@pytest.fixture(scope="module")
def one_scene():
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    asked = cross_attention.ask(vqa.model, vqa.processor, image, QUESTION)
    explained = relevancy.explain(vqa.model, vqa.processor, image, QUESTION, asked.answer)
    word = cross_attention.naming_token(explained.tokens)
    scene = images.sample_scene("shapes: two objects")
    coverage = asked.patches.coverage(deletion.named_object_mask(scene, QUESTION)).ravel()
    scores = {m: v[word] for m, v in explained.maps().items()}
    return asked, image, deletion.curves(vqa.model, vqa.processor, asked.patches, QUESTION, asked.answer, scores,
                                         coverage)


def test_curves_start_at_the_unhidden_probability_and_meet_at_all_hidden(one_scene):
    asked, image, result = one_scene
    vqa = bundled("vqa")
    p = faithfulness.answer_probability(vqa.model, vqa.processor, image, QUESTION, asked.answer)
    assert result.p_original == pytest.approx(p, abs=1e-4)
    labels = [c.label for c in result.curves]
    assert labels == [*relevancy.METHODS, deletion.RANDOM, deletion.OBJECT_MASK]
    for c in result.curves:
        assert c.deletion[0] == pytest.approx(p, abs=1e-4) and c.insertion[-1] == pytest.approx(p, abs=1e-4)
        assert c.deletion[-1] == pytest.approx(c.insertion[0])
        assert c.fractions[0] == 0 and c.fractions[-1] == 1 and len(c.counts) == len(deletion.STEP_FRACTIONS)
    # one point recomputed alone: the first quarter of the Chefer order hidden
    chefer = result.curve("chefer")
    k = int(chefer.counts[3])
    explained = relevancy.explain(vqa.model, vqa.processor, image, QUESTION, asked.answer)
    top = deletion.order(explained.chefer[cross_attention.naming_token(explained.tokens)])[:k]
    hidden = faithfulness.answer_probability(vqa.model, vqa.processor, Image.fromarray(asked.patches.hidden(list(top))),
                                             QUESTION, asked.answer)
    assert chefer.deletion[3] == pytest.approx(hidden, abs=1e-4)


def test_hiding_the_true_object_first_beats_random_order_on_held_out_scenes():
    vqa = bundled("vqa")
    areas = deletion.shapes_summary(vqa.model, vqa.processor, held_out.test_seeds(10))
    oracle_deletion, oracle_insertion = areas[deletion.OBJECT_MASK]
    random_deletion, random_insertion = areas[deletion.RANDOM]
    assert oracle_deletion < random_deletion - 0.1  # hiding the object first hurts the answer more, and earlier
    assert oracle_insertion > random_insertion + 0.05  # showing it first restores the answer sooner
    assert set(areas) == {*relevancy.METHODS, deletion.RANDOM, deletion.OBJECT_MASK}
