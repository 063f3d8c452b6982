import numpy as np
import pytest

from core.shapes import shapes_world, train
from tests.models import bundled


@pytest.mark.parametrize("role", ["clip", "vqa", "fusion"])
def test_training_pixels_equal_what_the_processor_gives(role):
    """Training skips the processor for speed; it must feed exactly what inference feeds."""
    scenes = [shapes_world.make_scene(s) for s in range(4)]
    processor = bundled(role).processor
    expected = processor.image_processor(images=[s.image for s in scenes], return_tensors="pt").pixel_values
    assert np.allclose(train.pixel_values(scenes).numpy(), expected.numpy(), atol=1e-5)


def test_training_and_evaluation_seeds_never_meet():
    from core.shapes import evaluate
    config = train.TrainConfig()
    last_batch = max(config.max_steps[role] + config.refine_steps.get(role, 0) for role in config.max_steps)
    max_training_seed = (last_batch + 1) * config.batch_size
    assert max_training_seed < train.VALIDATION_SEED < evaluate.TEST_SEED
