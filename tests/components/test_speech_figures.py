import json

import numpy as np
import plotly.graph_objects as go
import pytest

from components.figures import speech


def attention(tokens: int, frames: int, peaks: list[int]) -> np.ndarray:
    """Each token's row peaks at its own frame; rows sum to 1."""
    rows = np.full((tokens, frames), 0.01)
    for i, peak in enumerate(peaks):
        rows[i, peak] = 5.0
    return rows / rows.sum(axis=1, keepdims=True)


TOKENS = [" The", " red", " the", "<b>"]


def test_spectrogram_and_attention_share_one_time_axis_in_seconds():
    mel = np.random.default_rng(0).normal(size=(80, 500))  # 5 s of 10 ms frames
    fig = speech.spectrogram_attention(mel, attention(4, 250, [10, 50, 100, 200]), TOKENS)
    assert isinstance(fig, go.Figure)
    spectrogram, matrix = fig.data[0], fig.data[1]
    assert np.shape(spectrogram.z) == (80, 500) and np.shape(matrix.z) == (4, 250)
    assert (spectrogram.xaxis, matrix.xaxis, matrix.yaxis) == ("x", "x2", "y2")
    assert fig.layout.xaxis.matches == "x2" or fig.layout.xaxis2.matches == "x"  # shared x
    assert spectrogram.x[0] == pytest.approx(0.005) and spectrogram.x[-1] == pytest.approx(4.995)
    assert matrix.x[0] == pytest.approx(0.01) and matrix.x[-1] == pytest.approx(4.99)
    assert list(fig.layout.xaxis2.range) == [0, 5.0]
    assert fig.layout.yaxis2.autorange == "reversed"  # first token at the top


def test_repeated_tokens_stay_separate_rows_and_labels_are_escaped():
    fig = speech.spectrogram_attention(np.zeros((80, 100)), attention(4, 50, [1, 2, 3, 4]), TOKENS)
    assert list(fig.data[1].y) == ["0: The", "1: red", "2: the", "3:&lt;b&gt;"]
    assert "token" in fig.data[1].hovertemplate and "time" in fig.data[1].hovertemplate
    assert "weight" in fig.data[1].hovertemplate


def test_the_chosen_token_is_outlined_and_traced_over_the_spectrogram():
    weights = attention(4, 250, [10, 50, 100, 200])
    fig = speech.spectrogram_attention(np.zeros((80, 500)), weights, TOKENS, token=2)
    (outline,) = [s for s in fig.layout.shapes if s.name == "highlight"]
    assert (outline.y0, outline.y1, outline.yref, outline.xref) == (1.5, 2.5, "y2", "x2")
    line = fig.data[2]
    assert line.xaxis == "x" and line.name == "2: the"
    assert line.x[int(np.argmax(line.y))] == pytest.approx(100 * 0.02 + 0.01)  # its peak frame, in seconds
    np.testing.assert_allclose(line.customdata, weights[2], atol=1e-4)
    assert max(line.y) == pytest.approx(79)  # scaled to the mel bins


def test_no_token_means_no_highlight():
    fig = speech.spectrogram_attention(np.zeros((80, 100)), attention(4, 50, [1, 2, 3, 4]), TOKENS)
    assert len(fig.data) == 2 and not fig.layout.shapes


def test_30_seconds_are_binned_for_the_browser_and_stay_float32():
    rng = np.random.default_rng(1)
    weights = rng.random((20, 1500))
    fig = speech.spectrogram_attention(rng.normal(size=(80, 3000)), weights, [f"t{i}" for i in range(20)], token=0)
    spectrogram, matrix = fig.data[0], fig.data[1]
    assert np.shape(spectrogram.z) == (80, speech.MAX_MEL_COLUMNS)
    assert np.shape(matrix.z) == (20, speech.MAX_COLUMNS)
    assert matrix.z.dtype == np.float32 and spectrogram.z.dtype == np.float32
    np.testing.assert_allclose(matrix.z[:, 0], weights[:, :2].mean(axis=1), atol=1e-4)  # pairs of frames averaged
    assert matrix.x[-1] == pytest.approx(29.98)
    assert len(fig.to_json()) < 600_000


@pytest.mark.parametrize("kwargs", [
    dict(tokens=["a", "b"]), dict(token=7), dict(frame_seconds=0.0), dict(attention=np.full((4, 10), np.nan)),
])
def test_spectrogram_attention_refuses_inconsistent_input(kwargs):
    args = dict(log_mel=np.zeros((80, 20)), attention=np.ones((4, 10)) / 10, tokens=TOKENS) | kwargs
    with pytest.raises(ValueError):
        speech.spectrogram_attention(**args)


WORDS = [("hello", 0.2, 0.6), ("<i>world</i>", 0.8, 1.4)]


def test_waveform_is_downsampled_as_an_envelope_that_keeps_the_peaks():
    samples = np.zeros(16000 * 30)
    samples[123_457] = 0.9
    samples[300_001] = -0.7
    fig = speech.waveform_words(samples, 16000, WORDS)
    wave = fig.data[0]
    assert len(wave.x) <= speech.MAX_WAVE_POINTS and len(wave.x) > 1000
    assert max(wave.y) == pytest.approx(0.9) and min(wave.y) == pytest.approx(-0.7)
    assert np.all(np.diff(wave.x) >= 0) and wave.x[-1] <= 30.0
    assert "time" in wave.hovertemplate


def test_short_waveform_is_sent_as_is():
    samples = np.sin(np.arange(1000) / 10)
    wave = speech.waveform_words(samples, 16000).data[0]
    assert len(wave.x) == 1000 and wave.x[1] == pytest.approx(1 / 16000)


def test_each_word_is_a_band_with_a_label_and_the_highlight_is_stronger():
    fig = speech.waveform_words(np.sin(np.arange(32000) / 5), 16000, WORDS, highlight=1)
    bands = fig.layout.shapes
    assert [(b.x0, b.x1) for b in bands] == [(0.2, 0.6), (0.8, 1.4)]
    assert bands[1].opacity > bands[0].opacity
    labels = fig.data[1]
    assert list(labels.text) == ["hello", "<b>&lt;i&gt;world&lt;/i&gt;</b>"]  # escaped, highlighted in bold
    assert list(labels.x) == pytest.approx([0.4, 1.1])
    np.testing.assert_allclose(labels.customdata, [[0.2, 0.6], [0.8, 1.4]])


def test_waveform_refuses_a_bad_highlight_or_empty_samples():
    with pytest.raises(ValueError):
        speech.waveform_words(np.zeros(100), 16000, WORDS, highlight=2)
    with pytest.raises(ValueError):
        speech.waveform_words(np.zeros(0), 16000)


def test_attention_over_time_marks_both_spans():
    row = attention(1, 100, [40])[0]
    fig = speech.attention_over_time(row, 0.02, true_span=(0.7, 0.9), predicted_span=(0.6, 0.85), token="red")
    line = fig.data[0]
    assert len(line.x) == 100 and line.x[int(np.argmax(line.y))] == pytest.approx(0.81)
    assert line.name == "red" and "weight" in line.hovertemplate and "fullData.name" in line.hovertemplate
    spans = {s.name: (s.x0, s.x1) for s in fig.layout.shapes}
    assert spans == {"true span": (0.7, 0.9), "predicted span": (0.6, 0.85)}
    assert list(fig.layout.xaxis.range) == [0, 2.0]


def test_attention_over_time_without_spans_and_downsampled():
    fig = speech.attention_over_time(np.ones(3000) / 3000, 0.01, max_points=500)
    assert not fig.layout.shapes and len(fig.data[0].x) == 500
    with pytest.raises(ValueError):
        speech.attention_over_time(np.ones(10), 0.02, true_span=(1.0, 0.5))


def test_figures_serialise_to_json():
    fig = speech.attention_over_time(np.ones(50) / 50, 0.02, token="x")
    assert json.loads(fig.to_json())["data"][0]["name"] == "x"
