"""The committed bundled pack meets the walking skeleton's bar on held-out scenes (a smaller sample than
`python -m core.shapes.evaluate`, which prints the numbers to quote)."""
import pytest

from core.shapes import evaluate
from tests.models import bundled

SEEDS = range(evaluate.TEST_SEED, evaluate.TEST_SEED + 200)


def test_clip_zero_shot_over_18_classes_is_at_least_95_percent():
    clip = bundled("clip")
    assert evaluate.clip_zero_shot(clip.model, clip.processor, SEEDS) >= 0.95


def test_blip_vqa_on_two_object_scenes_is_at_least_90_percent():
    vqa = bundled("vqa")
    assert evaluate.vqa_accuracy(vqa.model, vqa.processor, SEEDS) >= 0.90


@pytest.mark.parametrize("role", ["caption", "fusion"])
def test_caption_and_vilt_beat_chance(role):
    """Chance: 50% for ViLT (two colours in the scene); ~0 for an exact caption."""
    loaded = bundled(role)
    assert evaluate.SCORERS[role](loaded.model, loaded.processor, SEEDS) > 0.6


def test_the_evaluate_command_times_speech_against_known_word_times(capsys, monkeypatch):
    from core import evaluate as command

    samples = {"sample clips": command.sample_clips()}  # the synthesised sets: test_listening.py
    monkeypatch.setattr(command, "speech_sets", lambda: samples)
    assert command.main(["--speech"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(command.SPEECH_ROLES) and all("word centres inside" in line for line in lines)
    base = next(s for s in command.speech_scores(("listen",)))
    assert base.words == base.true_words == 13 and base.transcripts_right == base.clips
    assert base.share >= 0.9 and base.predicted_share >= 0.9
    assert f"{base.hits}/{base.words}" in lines[0] and f"{base.predicted_hits}/{base.words}" in lines[0]
