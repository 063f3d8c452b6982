"""The live mini-CLIP: from random weights to >= 90% held-out zero-shot within the page's step budget, and a time
budget that stops it early. Bounded by steps, so the result never depends on how busy the machine is."""
import math

import numpy as np

from core.shapes import evaluate, live_clip


def test_live_training_lowers_the_loss_and_classifies_held_out_scenes_within_its_steps():
    config = live_clip.LiveConfig(max_seconds=math.inf)  # the page's 500 steps; its 60 s are tested below
    updates = []
    result = live_clip.train_live(config, updates.append)
    assert result.steps == config.max_steps
    assert np.mean(result.losses[-20:]) < np.mean(result.losses[:20]) - 0.5
    assert updates[0].step == 0 and updates[-1].step == result.steps
    assert updates[-1].probe_image_embeds.shape == (config.probe_scenes, 64)
    accuracy = evaluate.clip_zero_shot(result.model, result.processor,
                                       range(evaluate.TEST_SEED, evaluate.TEST_SEED + 500))
    print(f"live mini-CLIP: {result.steps} steps in {result.seconds:.1f} s, held-out zero-shot {accuracy:.1%}")
    assert accuracy >= 0.9


def test_the_time_budget_stops_training_and_no_step_starts_after_it():
    config = live_clip.LiveConfig(max_seconds=0.5)  # far less than 500 steps take on any CPU (~0.06 s a step)
    result = live_clip.train_live(config, lambda update: None)
    assert result.steps < config.max_steps and result.step_seconds[-1] >= config.max_seconds
    assert all(t < config.max_seconds for t in result.step_seconds[:-1])


def test_probe_scenes_cover_distinct_classes():
    captions = live_clip.probe_captions(18)
    assert len(set(captions)) == 18
