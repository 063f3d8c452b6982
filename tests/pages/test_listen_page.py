"""The Listening page through Streamlit's AppTest, on the bundled pack's real Whisper weights: what it shows is the
model's own output (checked against `core.concepts.listening.listen` run here on the same bytes), every control
changes what is shown, and every bad sound gives a message instead of a traceback.

Whisper base runs are the slow part (the suite shares 2 cores): results are cached by the page (st.cache_data,
process-wide) and here (module-scoped fixtures), so each clip is heard by each model once per test run."""
from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from components.widgets.audio_input import MICROPHONE, UPLOAD
from core.attention import select
from core.concepts import listening
from core.inputs import audio as audio_in
from core.inputs.speech_samples import load_samples
from tests.conftest import ROOT
from tests.core.inputs.test_audio import encode
from tests.models import bundled
from tests.pages.test_pages import decode, figures, open_page

PAGE = "pages/listen.py"
SAMPLES = {s.name: s for s in load_samples()}
SPOKEN = SAMPLES["animal_question"]  # the page's default sound
WORD_BY_WORD = SAMPLES["attention_words"]  # known word times
BASE, TINY = "Whisper base (multilingual, better)", "Whisper tiny.en (English, faster)"
ONE = "One layer and head"


# --- helpers -------------------------------------------------------------------------------------------------------

def page_wav(data: bytes, name: str = "clip.wav") -> bytes:
    """The bytes the page hands the model: the sound decoded to 16 kHz mono, then written as 16-bit wav."""
    return audio_in.to_wav_bytes(audio_in.load_audio(data, name))


def heard_directly(role: str, data: bytes) -> listening.Listening:
    """What core computes for these bytes, with the model loaded here (not through the page or its caches)."""
    loaded = bundled(role)
    samples = audio_in.load_audio(page_wav(data), "clip.wav").samples
    return listening.listen(loaded.model, loaded.processor, samples, model_label=loaded.spec.label)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """(n,) mono or (n, channels) floats in [-1, 1] -> 16-bit PCM wav."""
    samples = np.asarray(samples)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def spoken_samples() -> np.ndarray:
    """The default sample clip as 16 kHz float32."""
    return audio_in.load_audio(SPOKEN.path.read_bytes(), SPOKEN.path.name).samples.astype(np.float64)


def resampled(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    t = np.arange(int(len(samples) * to / rate)) / to
    return np.interp(t, np.arange(len(samples)) / rate, samples)


def spectrogram_figure(at: AppTest) -> dict:
    return next(f for f in figures(at) if any(t.get("name") == "cross-attention" for t in f["data"]))


def attention_z(at: AppTest) -> np.ndarray:
    """(tokens shown, frames): the cross-attention heatmap under the spectrogram."""
    figure = spectrogram_figure(at)
    return decode(next(t for t in figure["data"] if t.get("name") == "cross-attention")["z"])


def highlighted_row(at: AppTest) -> int:
    shape = next(s for s in spectrogram_figure(at)["layout"]["shapes"] if s.get("name") == "highlight")
    return int(round(shape["y0"] + 0.5))


def token_time_figure(at: AppTest) -> dict:
    return figures(at)[2]


def waveform_figure(at: AppTest) -> dict:
    return next(f for f in figures(at) if any(t.get("name") == "waveform" for t in f["data"]))


def strong_band(at: AppTest) -> int:
    """The waveform's highlighted word band (drawn stronger than the others)."""
    bands = [s for s in waveform_figure(at)["layout"]["shapes"] if s.get("name", "").startswith("word ")]
    strong = [int(s["name"].split()[1]) for s in bands if s["opacity"] > 0.3]
    assert len(strong) == 1, bands
    return strong[0]


def metric(at: AppTest, label: str) -> float:
    return float(next(m.value for m in at.metric if m.label == label))


def transcript(at: AppTest) -> str:
    return next(s.value for s in at.subheader if s.value.startswith("Transcript:")).replace("\\", "")


def captions(at: AppTest) -> str:
    """Every caption, markdown escapes removed (the page escapes what a file name or a transcript may hold)."""
    return "\n".join(c.value for c in at.caption).replace("\\", "")


def choose_upload(at: AppTest) -> AppTest:
    at.selectbox(key="listen_sound").set_value(UPLOAD).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Choose a sound" in at.info[0].value
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "audio/wav") -> AppTest:
    at.file_uploader(key="listen_upload").set_value((name, data, mime)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- fixtures: each clip heard once per model --------------------------------------------------------------------

@pytest.fixture(scope="module")
def expected() -> listening.Listening:
    """Whisper base on the default sample, computed directly."""
    return heard_directly("listen", SPOKEN.path.read_bytes())


@pytest.fixture()
def at() -> AppTest:
    """A fresh page on its default view (the model's results come from the page's process-wide cache)."""
    return open_page(PAGE)


# --- the default view: the model's own numbers ---------------------------------------------------------------------

def test_the_default_sample_is_transcribed_by_whisper_base(at, expected):
    assert at.selectbox(key="listen_sound").value == SPOKEN.title
    assert at.radio(key="listen_model").value == BASE
    assert expected.text == "What animal is in the photo?"
    assert transcript(at) == "Transcript: “What animal is in the photo?”"
    assert at.segmented_control(key="listen_word").options == [w.word for w in expected.words]
    assert len(figures(at)) == 3  # waveform with word bands, spectrogram + attention, one token over time
    assert "16 kHz mono wav: no conversion needed" in captions(at)
    assert any("Whisper base" in c.value for c in at.sidebar.caption)


def test_the_figures_carry_the_models_own_numbers(at, expected):
    matrix = attention_z(at)
    timing = expected.alignment_mean()  # (S, frames)
    assert matrix.shape == timing.shape == (len(expected.tokens), expected.frames)
    assert np.allclose(matrix, timing, atol=1e-4)  # the figure rounds to 4 decimals
    labels = next(t for t in spectrogram_figure(at)["data"] if t.get("name") == "cross-attention")["y"]
    assert [label.split(":", 1)[1] for label in labels] == expected.tokens
    assert highlighted_row(at) == 0  # the first word's first token
    line = decode(token_time_figure(at)["data"][0]["y"])
    assert np.allclose(line, timing[0], atol=1e-4)
    predicted = next(s for s in token_time_figure(at)["layout"]["shapes"] if s["name"] == "predicted span")
    assert (predicted["x0"], predicted["x1"]) == pytest.approx((expected.words[0].start, expected.words[0].end))
    bands = [s for s in waveform_figure(at)["layout"]["shapes"] if s.get("name", "").startswith("word ")]
    drawn = [x for b in bands for x in (b["x0"], b["x1"])]
    assert drawn == pytest.approx([x for w in expected.words for x in (w.start, w.end)])
    assert strong_band(at) == 0
    heads = ", ".join(f"({l}, {h})" for l, h in expected.alignment_heads)
    assert f"Timing heads (layer, head): {heads}." in captions(at)


def test_another_word_moves_the_highlighted_row_and_the_trace(at, expected):
    before = decode(token_time_figure(at)["data"][0]["y"])
    word = next(i for i, w in enumerate(expected.words) if w.word == "animal")
    at.segmented_control(key="listen_word").set_value(word).run()
    assert not at.exception
    token = expected.words[word].token_span[0]
    assert token > 0 and highlighted_row(at) == token
    assert strong_band(at) == word
    after = decode(token_time_figure(at)["data"][0]["y"])
    assert np.allclose(after, expected.alignment_mean()[token], atol=1e-4) and not np.allclose(after, before)
    assert f"“animal”: {expected.words[word].start:.2f}–{expected.words[word].end:.2f} s" in captions(at)


def test_one_layer_and_head_shows_that_heads_matrix(at, expected):
    timing = attention_z(at)
    at.radio(key="listen_which").set_value(ONE).run()
    n_layers, n_heads = expected.cross_attention.shape[:2]
    assert at.selectbox(key="listen_layer").value == n_layers - 1  # the last layer, mean over its heads
    assert np.allclose(attention_z(at), select(expected.cross_attention, n_layers - 1, "mean"), atol=1e-4)
    at.selectbox(key="listen_layer").set_value(1).run()
    at.selectbox(key="listen_head").set_value(3).run()
    assert not at.exception
    one = attention_z(at)
    assert np.allclose(one, expected.cross_attention[1, 3], atol=1e-4)
    assert not np.allclose(one, timing, atol=1e-3)
    assert "Layer 1, head 3" in next(m.value for m in at.markdown if m.value.startswith("Layer "))


def test_the_decoding_step_slider_cuts_the_rows(at, expected):
    n = len(expected.tokens)
    assert at.slider(key="listen_step").value == n
    at.slider(key="listen_step").set_value(3).run()
    assert not at.exception
    matrix = attention_z(at)
    assert matrix.shape == (3, expected.frames)
    assert np.allclose(matrix, expected.alignment_mean()[:3], atol=1e-4)
    assert "So far: " + "".join(expected.tokens[:3]).strip() + " …" in captions(at)
    # a word past the step: its row is not written yet, so the last written row is highlighted
    last = len(expected.words) - 1
    at.segmented_control(key="listen_word").set_value(last).run()
    assert expected.words[last].token_span[0] > 2 and highlighted_row(at) == 2
    assert np.allclose(decode(token_time_figure(at)["data"][0]["y"]), expected.alignment_mean()[2], atol=1e-4)


def test_the_math_recomputes_the_models_weight(at, expected):
    recomputed, own = metric(at, "weight, recomputed here"), metric(at, "weight, the model's own")
    layer, head = expected.alignment_heads[0]
    frame = int(expected.cross_attention[layer, head, 0].argmax())  # the slider starts at the loudest frame
    assert at.slider(key="listen_frame").value == frame
    assert recomputed == pytest.approx(own, abs=2e-6)
    assert own == pytest.approx(float(expected.cross_attention[layer, head, 0, frame]), abs=2e-6)
    assert float(next(m.value for m in at.metric if m.label == "gap")) < 1e-5
    at.slider(key="listen_frame").set_value(frame + 20).run()
    assert not at.exception
    moved = metric(at, "weight, recomputed here")
    assert moved == pytest.approx(float(expected.cross_attention[layer, head, 0, frame + 20]), abs=2e-6)
    assert moved != recomputed


def test_the_tiny_en_model_transcribes_too(at):
    at.radio(key="listen_model").set_value(TINY).run()
    assert not at.exception
    expected = heard_directly("listen_fast", SPOKEN.path.read_bytes())
    assert expected.text and expected.model_label.startswith("Whisper tiny.en")
    assert transcript(at) == f"Transcript: “{expected.text}”"
    assert np.allclose(attention_z(at), expected.alignment_mean(), atol=1e-4)
    assert any("tiny.en" in c.value for c in at.sidebar.caption)


def test_a_word_by_word_sample_shows_the_truth_table(at):
    at.selectbox(key="listen_sound").set_value(WORD_BY_WORD.title).run()
    assert not at.exception
    assert "Attention" in transcript(at)
    table = next(d.value for d in at.dataframe if "centre inside" in d.value.columns)
    assert list(table["word"]) == [w.word for w in WORD_BY_WORD.words]
    assert list(table["true start"]) == pytest.approx([w.start for w in WORD_BY_WORD.words], abs=1e-3)
    hits = int(table["centre inside"].sum())
    summary = next(m.value for m in at.markdown if "true word centres" in m.value)
    assert f"**{hits} of {len(WORD_BY_WORD.words)}** true word centres" in summary
    assert hits >= len(WORD_BY_WORD.words) - 1  # base times these words well (13/13 over both samples here)
    true_span = next(s for s in token_time_figure(at)["layout"]["shapes"] if s["name"] == "true span")
    assert (true_span["x0"], true_span["x1"]) == pytest.approx((WORD_BY_WORD.words[0].start,
                                                                 WORD_BY_WORD.words[0].end))


# --- uploads and the microphone ------------------------------------------------------------------------------------

def test_an_upload_at_44k_stereo_is_converted_and_transcribed(at):
    mono = resampled(spoken_samples(), 16_000, 44_100)
    stereo = np.stack([mono, 0.8 * mono], axis=1)
    upload(choose_upload(at), "question.wav", wav_bytes(stereo, 44_100))
    assert not at.error
    assert "44.1 kHz stereo wav -> 16 kHz mono" in captions(at)
    assert "animal" in transcript(at).lower()
    assert len(figures(at)) == 3
    assert "known times" in captions(at)  # an upload has no true word times: the page says how to get them


def test_an_ogg_opus_upload_is_decoded_and_transcribed(at):
    mono = resampled(spoken_samples(), 16_000, 48_000)
    data = encode("ogg", "libopus", np.stack([mono, mono]), 48_000, "stereo")
    upload(choose_upload(at), "question.ogg", data, "audio/ogg")
    assert not at.error
    assert "48 kHz stereo ogg/opus -> 16 kHz mono" in captions(at)
    assert "animal" in transcript(at).lower()


def test_a_35_second_file_is_cut_to_30_seconds_with_a_note(at):
    speech = spoken_samples()
    long = np.zeros(35 * 16_000)
    long[:speech.size] = speech
    at.session_state["listen_model"] = TINY  # 30 s of mostly silence: the fast model is enough to show the cut
    upload(choose_upload(at), "long.wav", wav_bytes(long, 16_000))
    assert not at.error
    assert "this clip is 35.0 s long, so we keep its first 30 s" in captions(at)
    assert "30.0 s," in captions(at)
    assert at.radio(key="listen_model").value == TINY
    assert at.get("plotly_chart")  # the page carries on
    spectrogram = attention_z(at)
    assert spectrogram.shape[1] == 750  # 30 s = 1500 frames of 20 ms, averaged in pairs for the browser


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


BAD_UPLOADS = {  # file name, bytes, words the message must hold
    "empty": ("nothing.wav", lambda: b"", "empty (0 bytes)"),
    "random bytes": ("noise.mp3", lambda: np.random.default_rng(0).bytes(4096), "could not be read as sound"),
    "a png": ("photo.wav", _png, "is a PNG picture"),
    "silence": ("quiet.wav", lambda: wav_bytes(np.zeros(16_000), 16_000), "silent"),
    "50 ms": ("blip.wav", lambda: wav_bytes(0.5 * np.sin(np.arange(800) / 5), 16_000), "only 50 ms long"),
    "a video without sound": ("silent_film.mp4", lambda: encode("mp4", "aac", np.zeros(0), 48_000, video="mpeg4",
                                                               with_audio=False), "video with no sound track"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_shows_a_message_not_a_traceback(at, case):
    name, make, words = BAD_UPLOADS[case]
    upload(choose_upload(at), name, make())
    messages = [e.value.replace("\\", "") for e in at.error]
    assert len(messages) == 1 and words in messages[0], messages
    assert not at.get("plotly_chart") and not any(s.value.startswith("Transcript") for s in at.subheader)
    upload(at, "question.wav", SPOKEN.path.read_bytes())  # the next good file works
    assert not at.error and transcript(at) == "Transcript: “What animal is in the photo?”"


def test_the_microphone_asks_for_a_recording_then_hears_it(at):
    at.selectbox(key="listen_sound").set_value(MICROPHONE).run()
    assert not at.exception
    assert "Choose a sound" in at.info[0].value and not at.get("plotly_chart")
    at.audio_input(key="listen_microphone").set_value(("recording.wav", SPOKEN.path.read_bytes(), "audio/wav"))
    at.run()
    assert not at.exception and not at.error
    assert transcript(at) == "Transcript: “What animal is in the photo?”"
    assert len(figures(at)) == 3


# --- bugs found by these tests, fixed: kept as regressions ------------------------------------------------------

def test_the_math_names_the_token_in_bold(at):
    sentence = next(m.value for m in at.markdown if m.value.startswith("Layer "))
    assert "writes **What**" in sentence, sentence


def test_a_shared_link_restores_the_word_and_the_head():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(page="listening", token="1", layer="2", head="3")
    at.run()
    assert not at.exception
    assert at.segmented_control(key="listen_word").value == 1  # " animal", the second word and token
    assert at.radio(key="listen_which").value == ONE
    assert (at.selectbox(key="listen_layer").value, at.selectbox(key="listen_head").value) == (2, 3)
