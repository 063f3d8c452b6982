import numpy as np
import pytest
import torch

from core.concepts import clip_space, contrastive
from core.shapes import shapes_world
from tests.models import bundled


def test_info_nce_equals_clips_own_contrastive_loss():
    clip = bundled("clip")
    scenes = [shapes_world.make_scene(960_000_000 + i) for i in range(8)]
    captions = [shapes_world.caption(s) for s in scenes]
    inputs = clip.processor(images=[s.image for s in scenes], text=captions, return_tensors="pt", padding=True)
    with torch.no_grad():
        model_loss = float(clip.model(**inputs, return_loss=True).loss)
    space = clip_space.embed(clip.model, clip.processor, [s.image for s in scenes], [str(i) for i in range(8)],
                             captions)
    ours = contrastive.info_nce(space.image_embeds, space.text_embeds, 1 / space.logit_scale)
    assert abs(ours.loss - model_loss) <= 1e-5


def test_info_nce_by_hand_and_temperature():
    eye = np.eye(3)
    sharp = contrastive.info_nce(eye, eye, 0.01)
    assert sharp.loss < 1e-6  # perfectly separated pairs, low temperature: no loss
    flat = contrastive.info_nce(eye, eye, 1e6)
    assert np.isclose(flat.loss, np.log(3))  # infinite temperature: chance among 3
    with pytest.raises(ValueError):
        contrastive.info_nce(eye, eye[:2], 1.0)


def test_modality_gap_and_centring():
    images = np.array([[1.0, 0.0], [0.8, 0.6]])
    texts = images + np.array([0.0, 1.0])  # the same layout, shifted
    assert np.isclose(contrastive.modality_gap(images, texts), 1.0)
    ci, ct = contrastive.centre_each_modality(images, texts)
    assert np.allclose(ci, ct) and np.isclose(contrastive.modality_gap(ci, ct), 0.0)


def test_matched_accuracy_counts_own_nearest_and_centring_can_fix_a_shared_offset():
    from core.concepts.contrastive import matched_accuracy

    images = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # both share a large offset on axis 2
    texts = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])  # the captions share the opposite offset
    assert matched_accuracy(images, texts, np.array([0, 1])) == 1.0
    crossed = np.array([[0.2, 0.0, 1.0], [0.0, 0.2, 1.0]])
    swapped = np.array([[0.0, 1.0, -1.0], [1.0, 0.0, -1.0]])  # caption 0 is now image 1's
    assert matched_accuracy(crossed, swapped, np.array([0, 1])) == 0.0
    assert matched_accuracy(crossed, swapped, np.array([1, 0])) == 1.0
    # each modality has its own offset on axis 2; around its centroid each image sits where its caption sits
    imgs = np.array([[1.0, 0.0, 5.0], [0.0, 1.0, 5.0], [-1.0, -1.0, 5.0]])
    txts = np.array([[0.0, 1.0, -5.0], [1.0, 0.0, -5.0], [-1.0, -1.0, -5.0]])  # text 0 is image 1's, text 1 image 0's
    assert matched_accuracy(imgs, txts, np.array([1, 0, 2]), centred=True) == 1.0
    assert matched_accuracy(imgs, txts, np.array([0, 1, 2]), centred=True) == pytest.approx(1 / 3)
