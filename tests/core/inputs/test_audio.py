"""Audio in: every input is built here (numpy -> wav with `wave`, other formats encoded with PyAV), nothing read
from disk, nothing timed."""
import io
import struct
import tracemalloc
import wave

import av
import numpy as np
import pytest
from PIL import Image

from core.inputs import audio as audio_in
from core.inputs.audio import RATE, AudioProblem, load_audio, segment, to_wav_bytes


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """samples: (n,) mono or (n, channels), floats in [-1, 1] -> 16-bit PCM wav."""
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def float_wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A mono IEEE-float wav (format tag 3), which `wave` cannot write: values may exceed 1 or be NaN."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def encode(fmt: str, codec: str, samples: np.ndarray, rate: int, layout: str = "mono",
           video: str | None = None, with_audio: bool = True) -> bytes:
    """Encode (channels, n) or (n,) float samples with PyAV into a container in memory; optionally add a tiny video
    stream (10 black frames of 64 x 48)."""
    planar = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        if video:
            picture = container.add_stream(video, rate=10)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        if with_audio:
            sound = container.add_stream(codec, rate=rate)
            sound.layout = layout
            for i in range(0, planar.shape[1], 4096):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, i:i + 4096]), format="fltp",
                                                   layout=layout)
                frame.sample_rate = rate
                for packet in sound.encode(frame):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
        if video:
            for _ in range(10):
                for packet in picture.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8),
                                                                        format="rgb24")):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)
    return out.getvalue()


def raw_mp3_frames(seconds: float, rate: int = 48000, freq: float = 440.0) -> bytes:
    """A bare MP3 frame stream (no ID3, no Xing header), so copies concatenate into a longer valid stream."""
    codec = av.CodecContext.create("libmp3lame", "w")
    codec.sample_rate, codec.layout, codec.format, codec.bit_rate = rate, "stereo", "s16p", 32000
    pcm = (tone(seconds, rate, freq, 0.3) * 32767).astype(np.int16)
    out = bytearray()
    for i in range(0, pcm.size - 1151, 1152):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.tile(pcm[i:i + 1152], (2, 1))), format="s16p",
                                           layout="stereo")
        frame.sample_rate = rate
        for packet in codec.encode(frame):
            out += bytes(packet)
    for packet in codec.encode(None):
        out += bytes(packet)
    return bytes(out)


def peak_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[np.argmax(spectrum)])


def problem(data: bytes, name: str = "") -> AudioProblem:
    with pytest.raises(AudioProblem) as error:
        load_audio(data, name)
    return error.value


# --- what decodes, and what it becomes -----------------------------------------------------------------------------

def test_16k_mono_wav_is_used_as_is():
    source = tone(1.0, RATE)
    clip = load_audio(wav_bytes(source, RATE), "a.wav")
    assert clip.samples.dtype == np.float32 and clip.samples.shape == (RATE,)
    assert clip.seconds == pytest.approx(1.0)
    assert (clip.original_rate, clip.original_channels, clip.original_format) == (RATE, 1, "wav")
    assert not clip.converted and clip.notes == () and not clip.trimmed
    assert clip.conversion == "16 kHz mono wav: no conversion needed"
    np.testing.assert_allclose(clip.samples, source, atol=1e-4)  # only 16-bit quantisation between them


def test_48k_stereo_wav_is_resampled_and_downmixed_by_averaging():
    left, right = tone(1.0, 48000, 440, 0.6), tone(1.0, 48000, 1000, 0.2)
    clip = load_audio(wav_bytes(np.stack([left, right], axis=1), 48000))
    assert (clip.original_rate, clip.original_channels, clip.converted) == (48000, 2, True)
    assert clip.conversion == "48 kHz stereo wav -> 16 kHz mono"
    assert abs(clip.samples.size - RATE) <= 2
    spectrum = np.abs(np.fft.rfft(clip.samples[:RATE] * np.hanning(RATE)))
    freqs = np.fft.rfftfreq(RATE, 1 / RATE)
    ratio = spectrum[np.argmin(abs(freqs - 440))] / spectrum[np.argmin(abs(freqs - 1000))]
    assert ratio == pytest.approx(3.0, rel=0.05)  # both channels kept, each at half weight (0.3 vs 0.1)
    assert float(np.abs(clip.samples).max()) < 0.45  # the mean, not the sum (0.8) and not one channel (0.6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_a_440_hz_tone_at_440_hz(rate):
    clip = load_audio(wav_bytes(tone(1.0, rate), rate))
    assert clip.original_rate == rate and clip.converted == (rate != RATE)
    assert peak_frequency(clip.samples) == pytest.approx(440, abs=2)
    assert clip.seconds == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("fmt, codec, rate, layout, label", [
    ("mp3", "libmp3lame", 48000, "stereo", "mp3"),
    ("ogg", "libopus", 48000, "stereo", "ogg/opus"),
    ("flac", "flac", 44100, "mono", "flac"),
    ("webm", "libopus", 48000, "mono", "webm/opus"),
    ("ipod", "aac", 44100, "stereo", "mp4/aac"),  # an .m4a, as Safari records
])
def test_compressed_formats_decode_to_16k_mono(fmt, codec, rate, layout, label):
    channels = 2 if layout == "stereo" else 1
    data = encode(fmt, codec, np.tile(tone(1.0, rate), (channels, 1)), rate, layout)
    clip = load_audio(data)
    assert (clip.original_rate, clip.original_channels, clip.original_format) == (rate, channels, label)
    assert clip.converted and clip.conversion.endswith("-> 16 kHz mono")
    assert clip.seconds == pytest.approx(1.0, abs=0.06)  # codec padding and priming, a few frames at most
    assert peak_frequency(clip.samples) == pytest.approx(440, abs=2)
    assert float(np.abs(clip.samples).max()) == pytest.approx(0.5, abs=0.08)


def test_m4a_is_named_by_its_file_name_when_given():
    data = encode("ipod", "aac", tone(0.5, 44100), 44100)
    assert load_audio(data, "voice.m4a").original_format == "m4a/aac"


def test_samples_are_read_only_float32_in_range_even_from_a_loud_float_wav():
    source = tone(0.5, RATE, amp=2.0)
    source[100] = np.nan
    clip = load_audio(float_wav_bytes(source, RATE))
    assert clip.samples.dtype == np.float32 and np.isfinite(clip.samples).all()
    assert float(clip.samples.max()) == 1.0 and float(clip.samples.min()) == -1.0
    with pytest.raises(ValueError):
        clip.samples[0] = 0.0


# --- video ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, video, codec", [("mp4", "mpeg4", "aac"), ("webm", "libvpx", "libopus")])
def test_a_video_gives_its_sound_track_and_says_so(fmt, video, codec):
    data = encode(fmt, codec, np.tile(tone(1.0, 48000), (2, 1)), 48000, "stereo", video=video)
    clip = load_audio(data, f"clip.{fmt}")
    assert any("video" in note and "sound track" in note for note in clip.notes)
    assert peak_frequency(clip.samples[:RATE]) == pytest.approx(440, abs=2)


def test_a_video_without_sound_is_refused():
    data = encode("mp4", "aac", np.zeros(0), 48000, video="mpeg4", with_audio=False)
    error = problem(data, "silent_film.mp4")
    assert error.kind == "no_sound_track"
    assert "no sound track" in str(error) and "silent_film.mp4" in str(error)


def test_album_cover_in_an_mp3_is_not_taken_for_a_video():
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        sound = container.add_stream("libmp3lame", rate=44100)
        sound.layout = "mono"
        cover = container.add_stream("png")
        cover.width, cover.height, cover.pix_fmt = 16, 16, "rgb24"
        cover.disposition = av.stream.Disposition.attached_pic
        picture = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*cover.encode(picture), *cover.encode(None)]:
            container.mux(packet)
        frame = av.AudioFrame.from_ndarray(tone(1.0, 44100).astype(np.float32)[None], format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in [*sound.encode(frame), *sound.encode(None)]:
            container.mux(packet)
    data = out.getvalue()
    with av.open(io.BytesIO(data)) as check:  # the cover really is there, as a one-picture video stream
        assert [s.type for s in check.streams] == ["audio", "video"]
    clip = load_audio(data, "song.mp3")
    assert clip.notes == () and clip.original_format == "mp3"


# --- bad input: one exception class, the right kind, a message -------------------------------------------------

def test_empty_bytes():
    error = problem(b"")
    assert error.kind == "empty" and "0 bytes" in str(error)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_not_audio(seed):
    assert problem(np.random.default_rng(seed).bytes(4000)).kind == "not_audio"


def test_a_png_is_named_as_a_picture():
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buffer, "PNG")
    error = problem(buffer.getvalue(), "photo.png")
    assert error.kind == "not_audio" and "PNG picture" in str(error)


def test_a_playlist_is_not_followed():
    """ffmpeg's hls demuxer would open the files a playlist names; only sound containers may open the bytes."""
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/hostname\n#EXT-X-ENDLIST\n"
    assert problem(playlist).kind == "not_audio"


def test_a_wav_cut_inside_its_header_is_refused():
    assert problem(wav_bytes(tone(1.0, RATE), RATE)[:30]).kind == "not_audio"


def test_a_wav_cut_inside_its_sound_keeps_what_is_there_and_says_so():
    data = wav_bytes(tone(1.0, RATE), RATE)
    clip = load_audio(data[: 44 + 2 * RATE // 2])  # the header, then half the samples
    assert clip.samples.size == RATE // 2
    assert any("cut short" in note and "1.0 s" in note and "0.5 s" in note for note in clip.notes)


def test_a_complete_wav_gets_no_cut_short_note():
    assert not any("cut short" in note for note in load_audio(wav_bytes(tone(1.0, RATE), RATE)).notes)


def test_an_mp4_cut_before_its_index_is_refused():
    data = encode("mp4", "aac", tone(1.0, 44100), 44100)  # PyAV writes the moov index at the end
    assert problem(data[: len(data) // 2]).kind == "not_audio"


def test_a_wav_with_no_samples_is_too_short():
    error = problem(wav_bytes(np.zeros(0), RATE))  # what a recorder stopped at once leaves
    assert error.kind == "too_short" and "0 samples" in str(error)


def test_a_sound_track_that_does_not_decode_is_corrupt():
    data = bytearray(encode("ipod", "aac", tone(1.0, 44100), 44100))
    start = data.find(b"mdat")
    size = int.from_bytes(data[start - 4:start], "big")
    data[start + 4:start - 4 + size] = np.random.default_rng(0).bytes(size - 8)  # every AAC packet is noise
    error = problem(bytes(data))
    assert error.kind == "corrupt" and "no sound could be decoded" in str(error)


@pytest.mark.parametrize("amp", [0.0, 5e-4])
def test_silence_is_refused(amp):
    error = problem(wav_bytes(tone(1.0, RATE, amp=amp), RATE))
    assert error.kind == "silent" and "nothing to hear" in str(error)


def test_quiet_speech_level_is_not_silence():
    assert load_audio(wav_bytes(tone(1.0, RATE, amp=0.01), RATE)).seconds == pytest.approx(1.0)


def test_too_short_is_refused():
    error = problem(wav_bytes(tone(0.05, RATE), RATE))
    assert error.kind == "too_short" and "50 ms" in str(error)


def test_just_long_enough_is_kept():
    assert load_audio(wav_bytes(tone(0.12, RATE), RATE)).samples.size == int(0.12 * RATE)


def test_damaged_files_raise_only_audio_problem():
    """Seeded byte corruption of real files: each one decodes (maybe with a note) or raises AudioProblem."""
    sources = [encode("mp3", "libmp3lame", tone(1.0, 44100), 44100), encode("ogg", "libopus", tone(1.0, 48000), 48000),
               wav_bytes(tone(1.0, RATE), RATE), encode("flac", "flac", tone(1.0, RATE), RATE)]
    rng = np.random.default_rng(7)
    outcomes = set()
    for source in sources:
        for _ in range(12):
            data = bytearray(source)
            for position in rng.integers(0, len(data), size=int(rng.integers(1, 40))):
                data[position] = int(rng.integers(0, 256))
            try:
                clip = load_audio(bytes(data))
            except AudioProblem as error:
                assert error.kind in AudioProblem.KINDS
                outcomes.add(error.kind)
            else:
                assert clip.samples.dtype == np.float32 and np.isfinite(clip.samples).all()
                assert float(np.abs(clip.samples).max()) <= 1.0
                outcomes.add("decoded")
    assert "decoded" in outcomes  # some damage is survivable; the test saw both kinds of outcome
    assert len(outcomes) >= 2


# --- longer than Whisper's window ------------------------------------------------------------------------------------

def test_a_40_second_wav_keeps_the_first_30_seconds_and_says_so():
    source = np.concatenate([tone(30.0, RATE, 440), tone(10.0, RATE, 1000)])  # the last 10 s are another tone
    clip = load_audio(wav_bytes(source, RATE))
    assert clip.samples.size == 30 * RATE and clip.seconds == 30.0 and clip.trimmed
    assert clip.source_seconds == pytest.approx(40.0)
    assert any("40.0 s long" in note and "first 30 s" in note for note in clip.notes)
    assert peak_frequency(clip.samples[-RATE:]) == pytest.approx(440, abs=2)  # the 1000 Hz part was cut


def test_a_ten_minute_file_is_cut_to_30_seconds_without_decoding_it_all():
    data = raw_mp3_frames(1.0) * 600  # ~10 min of 48 kHz stereo mp3 in 2.4 MB
    tracemalloc.start()
    try:
        clip = load_audio(data, "lecture.mp3")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert clip.samples.size == 30 * RATE and clip.trimmed
    assert clip.source_seconds == pytest.approx(600, rel=0.02)
    assert any("10 min" in note and "first 30 s" in note for note in clip.notes)
    # 10 min decoded whole would hold >= 38 MB of 16 kHz float32 samples (230 MB at 48 kHz stereo)
    assert peak < 20 * 2 ** 20


def test_the_window_is_a_parameter():
    clip = load_audio(wav_bytes(tone(3.0, RATE), RATE), max_seconds=2.0)
    assert clip.samples.size == 2 * RATE and clip.trimmed
    assert any("first 2 s" in note for note in clip.notes)


def test_exactly_30_seconds_is_not_trimmed():
    clip = load_audio(wav_bytes(tone(30.0, RATE), RATE))
    assert clip.samples.size == 30 * RATE and not clip.trimmed and clip.notes == ()


# --- playback and segments -------------------------------------------------------------------------------------------

def test_wav_bytes_round_trip():
    clip = load_audio(encode("ogg", "libopus", tone(1.0, 48000), 48000))
    data = to_wav_bytes(clip)
    with wave.open(io.BytesIO(data)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, RATE)
        assert reader.getnframes() == clip.samples.size
    again = load_audio(data)
    np.testing.assert_allclose(again.samples, clip.samples, atol=1.5 / 32767)
    assert not again.converted


def test_segment_cuts_by_time_and_keeps_its_offset():
    clip = load_audio(wav_bytes(tone(2.0, RATE), RATE))
    word = segment(clip, 0.5, 0.75)
    assert word.samples.size == RATE // 4 and word.start == pytest.approx(0.5)
    np.testing.assert_array_equal(word.samples, clip.samples[RATE // 2: 3 * RATE // 4])
    inner = segment(word, 0.1, 0.2)
    assert inner.start == pytest.approx(0.6) and inner.samples.size == int(0.1 * RATE)
    assert word.original_rate == clip.original_rate and word.conversion == clip.conversion


def test_segment_pads_and_clips_to_the_clip():
    clip = load_audio(wav_bytes(tone(1.0, RATE), RATE))
    assert segment(clip, 0.0, 0.1, pad=0.2).samples.size == int(0.3 * RATE)  # no room before 0
    assert segment(clip, 0.9, 5.0).samples.size == int(0.1 * RATE)


@pytest.mark.parametrize("start, end", [(2.0, 3.0), (0.5, 0.5), (0.6, 0.4), (float("nan"), 1.0), ("a", 1.0)])
def test_an_empty_or_invalid_segment_is_an_audio_problem(start, end):
    clip = load_audio(wav_bytes(tone(1.0, RATE), RATE))
    with pytest.raises(AudioProblem) as error:
        segment(clip, start, end)
    assert error.value.kind == "bad_segment"


def test_every_kind_is_declared():
    assert {"empty", "not_audio", "no_sound_track", "corrupt", "silent", "too_short", "bad_segment"} == set(
        AudioProblem.KINDS)
    assert issubclass(AudioProblem, ValueError)
    assert audio_in.MAX_SECONDS == 30.0 and audio_in.RATE == 16000
