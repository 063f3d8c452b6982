"""core/concepts/listening_math.py on the real Whisper weights (tiny.en, and base once): the hand-written
softmax(q·k/√d) matches the model's own cross-attention, and the capture hooks never outlive the call."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from core.concepts import listening_math
from core.concepts.listening_math import ListeningMath, cross_attention_math
from core.inputs.speech_samples import load_samples, read_wav
from core.models import whisper
from tests.models import bundled

SAMPLE = next(s for s in load_samples() if s.name == "animal_question")
GAP = 1e-5  # float32 recomputation against the model's float32 kernel; measured ~1e-7 over a whole row


@lru_cache(maxsize=None)
def heard(role: str) -> tuple[np.ndarray, whisper.Transcript]:
    """(audio, transcript) of the sample clip, transcribed once per model."""
    loaded = bundled(role)
    audio = read_wav(SAMPLE.path)
    return audio, whisper.transcribe(loaded.model, loaded.processor, audio)


def math_for(role: str, layer: int, head: int, text_index: int, frame: int) -> ListeningMath:
    loaded = bundled(role)
    audio, transcript = heard(role)
    ids = transcript.prompt_ids + transcript.text_ids + [transcript.eot_id]
    return cross_attention_math(loaded.model, loaded.processor, audio, ids, layer, head,
                                transcript.row_of(text_index), frame)


def hook_count(model) -> int:
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


# (layer, head, text token index, frame); a text index of -1 means the end-of-text row
CASES = [(0, 0, 0, 0), (1, 2, 1, 25), (3, 5, 3, 40), (2, 4, -1, 1499)]


@pytest.mark.parametrize("layer,head,text_index,frame", CASES)
def test_tiny_recomputed_weight_equals_the_models(layer, head, text_index, frame):
    _audio, transcript = heard("listen_fast")
    index = len(transcript.text_ids) if text_index == -1 else text_index
    math = math_for("listen_fast", layer, head, index, frame)
    assert math.gap <= GAP and math.max_gap <= GAP
    # the model's row here is the row transcribe returned for the same position
    assert np.array_equal(math.model_weights, transcript.cross_attention[layer, head, transcript.row_of(index)])
    assert np.isclose(math.weights.sum(), 1.0, atol=1e-5)
    assert math.weights.shape == (whisper.WINDOW_FRAMES,) and math.K.shape == (whisper.WINDOW_FRAMES, math.d_head)
    assert math.q.shape == math.k.shape == math.v.shape == (math.d_head,)
    assert np.array_equal(math.k, math.K[frame]) and np.array_equal(math.v, math.V[frame])
    assert np.isclose(math.score, float(math.q @ math.k) / np.sqrt(math.d_head), rtol=1e-5, atol=1e-5)
    assert np.isclose(math.weight, np.exp(math.score - math.log_normaliser), rtol=1e-5, atol=1e-9)


def test_context_is_the_weighted_sum_of_values():
    math = math_for("listen_fast", 3, 1, 2, 30)
    assert np.allclose(math.context, (math.weights[:, None] * math.V).sum(axis=0), atol=1e-5)
    assert np.isclose(math.context_norm, np.linalg.norm(math.context))
    assert math.top_frames[0] == int(np.argmax(math.weights))
    assert list(math.weights[list(math.top_frames)]) == sorted(math.weights[list(math.top_frames)], reverse=True)


def test_base_recomputed_weight_equals_the_models():
    loaded = bundled("listen")
    math = math_for("listen", loaded.model.config.decoder_layers - 1, 7, 2, 60)
    assert math.d_head == 64 and math.gap <= GAP and math.max_gap <= GAP
    assert np.isclose(math.weights.sum(), 1.0, atol=1e-5)


def test_hooks_are_removed_after_the_call():
    model = bundled("listen_fast").model
    before = hook_count(model)
    math_for("listen_fast", 1, 0, 0, 5)
    assert hook_count(model) == before
    assert not model.get_decoder().layers[1].encoder_attn._forward_pre_hooks


def test_hooks_are_removed_when_the_forward_raises():
    loaded = bundled("listen_fast")
    audio, transcript = heard("listen_fast")
    before = hook_count(loaded.model)
    ids = transcript.prompt_ids + [loaded.model.config.vocab_size + 10]  # past the embedding table: raises inside
    with pytest.raises(IndexError):
        cross_attention_math(loaded.model, loaded.processor, audio, ids, 2, 0, 1, 5)
    assert hook_count(loaded.model) == before
    assert not loaded.model.get_decoder().layers[2].encoder_attn._forward_pre_hooks


def test_hooks_are_removed_when_the_body_raises():
    attention = bundled("listen_fast").model.get_decoder().layers[0].encoder_attn
    with pytest.raises(RuntimeError):
        with listening_math.capture_cross_attention_inputs(attention):
            assert len(attention._forward_pre_hooks) == 1
            raise RuntimeError("boom")
    assert not attention._forward_pre_hooks


@pytest.mark.parametrize("field,value", [("layer", 4), ("head", 6), ("row", 99), ("frame", 1500), ("frame", -1)])
def test_out_of_range_choices_fail_clearly(field, value):
    loaded = bundled("listen_fast")
    audio, transcript = heard("listen_fast")
    ids = transcript.prompt_ids + transcript.text_ids + [transcript.eot_id]
    choice = dict(layer=0, head=0, row=1, frame=0) | {field: value}
    with pytest.raises(ValueError, match=field):
        cross_attention_math(loaded.model, loaded.processor, audio, ids, **choice)


def _section_script(math):
    from components.sections.listening_math_section import listening_math_section

    listening_math_section(math, "▁animal")


def test_section_draws_the_numbers():
    from streamlit.testing.v1 import AppTest

    math = math_for("listen_fast", 3, 5, 2, 40)
    at = AppTest.from_function(_section_script, args=(math,), default_timeout=60).run()
    assert not at.exception
    assert f"{math.weight:.6f}" in at.latex[0].value
    assert "20 ms audio frames instead of patches" in at.caption[-1].value


@pytest.mark.parametrize("role", ["listen_fast", "listen"])
def test_listen_and_read_reuses_the_transcription_pass_and_equals_a_separate_reading(role):
    """The page's one model pass per clip: the reading taken from the transcription's own last forward equals a
    fresh read_decoder over the same ids, and the hooks are gone afterwards."""
    from core.concepts import listening

    loaded = bundled(role)
    audio = read_wav(SAMPLE.path)
    before = hook_count(loaded.model)
    heard, reading = listening_math.listen_and_read(loaded.model, loaded.processor, audio, model_label=role)
    assert hook_count(loaded.model) == before
    assert heard.text == listening.listen(loaded.model, loaded.processor, audio, model_label=role).text
    fresh = listening_math.read_decoder(loaded.model, loaded.processor, audio, list(heard.decoder_ids))
    assert reading.ids == fresh.ids == tuple(heard.decoder_ids)
    for name in ("hidden", "encoder", "cross"):
        np.testing.assert_allclose(getattr(reading, name), getattr(fresh, name), atol=1e-5, err_msg=name)
    frames = heard.frames  # the page's matrix is the reading's text rows over the clip's frames
    rows = slice(len(heard.prompt_tokens) - 1, len(heard.prompt_tokens) - 1 + len(heard.tokens))
    np.testing.assert_allclose(reading.cross[:, :, rows, :frames], heard.cross_attention, atol=1e-6)
