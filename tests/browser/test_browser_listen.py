"""The Listening page in a real browser (Debian's chromium via Playwright) against `streamlit run app.py`: it paints
the transcript and its three Plotly charts, a click on a word in the word picker moves the highlight, and a sound
file uploaded through the page's own file input is transcribed. Screenshots go to test-artifacts/."""
from __future__ import annotations

import io
import re
import wave

import numpy as np
import pytest

from core.inputs import audio as audio_in
from core.inputs.speech_samples import load_samples
from tests.browser.test_browser import ARTIFACTS, _assert_no_exception, _wait_until_idle, browser, open_page, server  # noqa: F401 - fixtures

SPOKEN = next(s for s in load_samples() if s.name == "animal_question")  # the page's default sound
CHARTS = "document.querySelectorAll('.js-plotly-plot')"  # 0: waveform and word bands, 1: spectrogram, 2: one token


def listening(browser, server, height: int = 3000):
    """The Listening page, reached through the sidebar, with its three charts drawn."""
    page = open_page(browser, server, "Listening", height=height)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=120_000)
    _wait_until_idle(page)
    return page


def strong_band(page) -> list[str]:
    """The waveform's word bands drawn stronger (the chosen word): exactly one when a word is chosen."""
    return page.evaluate(f"() => {CHARTS}[0].layout.shapes.filter(s => s.opacity > 0.3).map(s => s.name)")


def highlighted_row(page) -> float:
    return page.evaluate(f"() => {CHARTS}[1].layout.shapes.find(s => s.name === 'highlight').y0 + 0.5")


def wav_44k_stereo() -> bytes:
    """The default sample resampled to 44.1 kHz stereo (the page converts it back to 16 kHz mono)."""
    mono = audio_in.load_audio(SPOKEN.path.read_bytes(), SPOKEN.path.name).samples.astype(np.float64)
    t = np.arange(int(mono.size * 44_100 / 16_000)) / 44_100
    resampled = np.interp(t, np.arange(mono.size) / 16_000, mono)
    pcm = (np.clip(np.stack([resampled, resampled], axis=1), -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def test_listening_paints_the_transcript_and_three_charts(server, browser):
    page = listening(browser, server)
    assert page.locator(".js-plotly-plot").count() == 3
    body = page.inner_text("body")
    assert "Transcript: “What animal is in the photo?”" in body
    assert "16 kHz mono wav: no conversion needed" in body
    assert "weight, recomputed here" in body  # the math section drew too
    assert strong_band(page) == ["word 0"] and highlighted_row(page) == 0
    rows = page.evaluate(f"() => {CHARTS}[1].data.find(t => t.name === 'cross-attention').y")
    assert rows[0] == "0: What" and len(rows) == 7, rows
    _assert_no_exception(page, "listening")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "listening-default.png"), full_page=True)
    page.close()


def test_clicking_a_word_moves_the_highlight(server, browser):
    page = listening(browser, server)
    names = page.evaluate("() => Array.from(document.querySelectorAll('[data-testid=\"stButtonGroup\"] button'))"
                          ".map(b => b.innerText.trim())")
    assert names == ["What", "animal", "is", "in", "the", "photo?"], names
    line_before = page.evaluate(f"() => JSON.stringify({CHARTS}[2].data[0].y)")
    page.locator('[data-testid="stButtonGroup"] button', has_text=re.compile(r"^animal$")).click()
    page.wait_for_function(f"() => {CHARTS}[0].layout.shapes.some(s => s.name === 'word 1' && s.opacity > 0.3)",
                           timeout=60_000)
    _wait_until_idle(page)
    assert strong_band(page) == ["word 1"]
    assert highlighted_row(page) == 1  # " animal" is the second text token
    assert page.evaluate(f"() => {CHARTS}[2].data[0].name") == " animal"
    assert page.evaluate(f"() => JSON.stringify({CHARTS}[2].data[0].y)") != line_before
    assert "“animal”:" in page.inner_text("body")
    _assert_no_exception(page, "listening after a word click")
    page.screenshot(path=str(ARTIFACTS / "listening-word-animal.png"), full_page=True)
    page.close()


def _choose_upload(page) -> None:
    sound = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').filter(has_text="Sound").first
    sound.click()
    page.get_by_role("option", name="Upload a sound file").click()
    page.locator('[data-testid="stMain"] [data-testid="stFileUploader"]').wait_for(timeout=30_000)
    _wait_until_idle(page)


def _upload(page, name: str, data: bytes, mime: str) -> None:
    file_input = page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]')
    file_input.set_input_files({"name": name, "mimeType": mime, "buffer": data})
    _wait_until_idle(page)


def test_uploading_a_sound_file_shows_its_transcript(server, browser):
    page = listening(browser, server)
    _choose_upload(page)
    assert page.locator(".js-plotly-plot").count() == 0
    assert "Choose a sound" in page.inner_text("body")

    _upload(page, "holiday.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")  # a wrong file: a message
    page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=60_000)
    assert "is a PNG picture" in page.inner_text("body")
    _assert_no_exception(page, "listening after a bad upload")
    page.screenshot(path=str(ARTIFACTS / "listening-bad-upload.png"), full_page=True)

    _upload(page, "question.wav", wav_44k_stereo(), "audio/wav")
    page.get_by_text("Transcript:").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=120_000)
    _wait_until_idle(page)
    body = page.inner_text("body")
    assert re.search(r"Transcript: “.*animal.*”", body), body[:2000]
    assert "44.1 kHz stereo wav" in body and "16 kHz mono" in body, re.findall(r".*44.1 kHz.*", body)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    _assert_no_exception(page, "listening after an upload")
    page.screenshot(path=str(ARTIFACTS / "listening-upload.png"), full_page=True)
    page.close()


def test_the_spectrograms_quietest_colour_stays_magmas_black(server, browser):
    page = listening(browser, server, height=1600)
    first = page.evaluate(f"() => {CHARTS}[1]._fullData.find(t => t.name === 'log-mel').colorscale[0][1]")
    channels = [int(first[i:i + 2], 16) for i in (1, 3, 5)] if first.startswith("#") else [
        int(v) for v in re.findall(r"\d+", first)[:3]]
    assert max(channels) < 40, first  # the lowest log-mel (silence) is drawn near black, as Magma does
    page.close()
