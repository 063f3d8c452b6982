"""Sound in: an upload or a microphone recording, decoded to what Whisper hears (16 kHz mono float32 in [-1, 1]).

Bytes in, an `Audio` out; nothing is written to disk. PyAV (which bundles ffmpeg) decodes wav, mp3, ogg (opus,
vorbis), flac, webm/matroska, m4a/mp4 and the other containers in `DEMUXERS`; `st.audio_input` records wav.
Anything that is not usable sound raises `AudioProblem` with a sentence a student can act on and a `kind` a page or
a test can branch on. Every change made on the way in (resampled, downmixed, sound taken from a video, cut to 30 s,
a file that ends early) is a note, so no conversion is silent.

Decisions:
- A video file: we take its sound track and say so (the picture is ignored). A video with no sound track is an
  `AudioProblem` of kind "no_sound_track".
- Longer than `MAX_SECONDS` (Whisper's 30 s window): we keep the first 30 s and say so, naming the file's length
  when the header gives it. Decoding stops as soon as 30 s have been read, so a 10-minute file is never decoded
  whole.
- A file cut short (a wav whose header promises more than it holds, an mp3 ending mid-frame): the part that is
  there is used, with a note; a file cut inside its header cannot be opened and is an `AudioProblem`.
- Only the demuxers in `DEMUXERS` may open the bytes: ffmpeg's playlist and concat demuxers (hls, concat...) can
  open other files or URLs, and a picture or a subtitle file is not sound.

The work is bounded: the bytes are in memory (Streamlit caps uploads), at most `MAX_PACKETS` packets are read and
decoding stops at `max_seconds` of output.
"""
from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass, field, replace

import av
import numpy as np

RATE = 16_000  # Whisper's feature extractor takes 16 kHz mono
MAX_SECONDS = 30.0  # Whisper's encoder sees one 30 s window (3000 mel frames -> 1500 encoder frames of 20 ms)
MIN_SECONDS = 0.1  # shorter than one word: nothing for attention to show
SILENCE_PEAK = 1e-3  # -60 dBFS: a 16-bit file's hiss is ~3e-5, the quietest speech worth hearing is far above this
MAX_PACKETS = 50_000  # 30 s needs ~1.5k audio packets (+ ~1k video); a bound on the demuxing, never reached in use
# Demuxers allowed to open the bytes (ffmpeg's names: one entry may hold several, "mov,mp4,m4a,3gp,3g2,mj2").
DEMUXERS = "wav,w64,mp3,ogg,flac,matroska,webm,mov,mp4,m4a,3gp,aac,aiff,caf,avi,wv"
FORMATS_WANTED = "WAV, MP3, OGG, FLAC, WEBM or M4A"

# short names for ffmpeg's container names, for the conversion line
_FORMAT_NAMES = {"matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "mp4", "w64": "wav"}
_CODEC_NAMES = {"mp3float": "mp3", "mp3": "mp3", "aac": "aac", "opus": "opus", "vorbis": "vorbis", "flac": "flac"}

# The first bytes of files uploaded by mistake -> what to call them (read only when no demuxer would open them).
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG", "a PNG picture"), (0, b"\xff\xd8\xff", "a JPEG picture"), (0, b"GIF8", "a GIF picture"),
    (0, b"BM", "a BMP picture"), (8, b"WEBP", "a WEBP picture"), (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a ZIP file (or a Word or PowerPoint document)"), (4, b"ftypheic", "an HEIC photo"),
    (0, b"#EXTM3U", "a playlist (it lists files, it holds no sound)"),
)


class AudioProblem(ValueError):
    """The input is not sound we can use. `str(error)` is meant for the user; `kind` is one of `KINDS`."""

    KINDS = ("empty", "not_audio", "no_sound_track", "corrupt", "silent", "too_short", "bad_segment")

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded sound, ready for Whisper's feature extractor.

    samples: (N,) float32 at `RATE` (16 kHz), mono, in [-1, 1]; read-only.
    seconds: N / RATE.
    original_rate / original_channels / original_format: what the file held (format: "wav", "mp3", "webm/opus"...).
    converted: True when the sound was resampled or downmixed on the way in.
    notes: one sentence per change the student could not see coming (video, cut to 30 s, file ends early...).
    source_seconds: the file's own length when its header tells it (None when unknown), before any cut.
    start: where these samples begin in the decoded clip, in seconds (non-zero for a `segment`).
    """

    samples: np.ndarray = field(repr=False)
    seconds: float
    original_rate: int
    original_channels: int
    original_format: str
    converted: bool
    notes: tuple[str, ...] = ()
    source_seconds: float | None = None
    start: float = 0.0
    trimmed: bool = False  # True when only the first `max_seconds` were kept

    @property
    def rate(self) -> int:
        return RATE

    @property
    def conversion(self) -> str:
        """One line for the page: "48 kHz stereo mp3 -> 16 kHz mono" ("16 kHz mono wav: no conversion needed")."""
        source = f"{_khz(self.original_rate)} {_channels(self.original_channels)} {self.original_format}"
        if not self.converted:
            return f"{source}: no conversion needed"
        return f"{source} -> {_khz(RATE)} mono"


def _khz(rate: int) -> str:
    return f"{rate / 1000:g} kHz"


def _channels(n: int) -> str:
    return {1: "mono", 2: "stereo"}.get(n, f"{n}-channel")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _file_kind(data: bytes) -> str | None:
    for offset, magic, name in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            return name
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml", b"<!doctype", b"<html")):
        return "a text (XML or HTML) file"
    return None


def _not_audio(data: bytes, name: str) -> AudioProblem:
    kind = _file_kind(data)
    called = f"'{name}'" if name else "This file"
    if kind is not None:
        return AudioProblem(f"{called} is {kind} (going by its contents), not sound. Please choose a sound file "
                            f"({FORMATS_WANTED}) or record with the microphone.", "not_audio")
    return AudioProblem(f"{called} could not be read as sound: it may be damaged, cut short, or not a sound file "
                        f"at all. Please choose a {FORMATS_WANTED} file.", "not_audio")


def _wav_shortfall(data: bytes) -> tuple[float, float] | None:
    """(seconds the header promises, seconds the file holds) for a RIFF wav whose data chunk is cut short, else
    None. ffmpeg quietly clamps the length to the bytes present; this is how we can say the file ends early."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk == b"fmt " and pos + 20 <= len(data):
            byte_rate = struct.unpack("<I", data[pos + 16:pos + 20])[0]
        if chunk == b"data":
            held = len(data) - pos - 8
            if byte_rate <= 0 or size in (0, 0xFFFFFFFF) or size <= held:  # streaming writers leave 0 / -1
                return None
            return size / byte_rate, held / byte_rate
        pos += 8 + size + (size & 1)
    return None


def _format_name(container: av.container.InputContainer, codec: str, name: str) -> str:
    fmt = _FORMAT_NAMES.get(container.format.name, container.format.name.split(",")[0])
    if fmt == "webm" and name.lower().endswith((".mkv", ".mka")):
        fmt = "matroska"
    if fmt == "mp4" and name.lower().endswith(".m4a"):
        fmt = "m4a"
    codec = _CODEC_NAMES.get(codec, codec)
    if codec.startswith("pcm_") or codec == fmt:
        return fmt
    return f"{fmt}/{codec}"


def load_audio(data: bytes, name: str = "", max_seconds: float = MAX_SECONDS) -> Audio:
    """Decode `data` (any file in `DEMUXERS`, or a video's sound track) to 16 kHz mono float32.

    `name` (the upload's file name) only improves messages and the format label; the contents decide. Keeps the
    first `max_seconds` (Whisper's 30 s window) and says so. Raises `AudioProblem` (and nothing else) for empty,
    unreadable, picture-only, silent or too-short input.
    """
    max_seconds = float(max_seconds)
    if not (np.isfinite(max_seconds) and max_seconds >= MIN_SECONDS):  # a caller's mistake, not the user's
        raise ValueError(f"max_seconds must be a number >= {MIN_SECONDS}, got {max_seconds}")
    if not data:
        raise AudioProblem("The file is empty (0 bytes). Please choose a sound file or record with the microphone.",
                           "empty")
    try:
        return _load(bytes(data), str(name), max_seconds)
    except AudioProblem:
        raise
    except Exception as error:  # noqa: BLE001 - ffmpeg can fail in many ways on hostile input; all mean "unreadable"
        raise AudioProblem(f"{_label(name)} could not be decoded ({type(error).__name__}): it may be damaged or "
                           f"cut short. Please choose a {FORMATS_WANTED} file.", "corrupt") from error


def _label(name: str) -> str:
    return f"'{name}'" if name else "This file"


def _load(data: bytes, name: str, max_seconds: float) -> Audio:
    try:
        container = av.open(io.BytesIO(data), mode="r", options={"format_whitelist": DEMUXERS})
    except Exception as error:  # noqa: BLE001 - InvalidData, Argument (demuxer not allowed), EOF...
        raise _not_audio(data, name) from error
    with container:
        notes: list[str] = []
        audio_streams = list(container.streams.audio)
        video_streams = [s for s in container.streams.video if not _is_cover_art(s)]
        if not audio_streams:
            if video_streams:
                raise AudioProblem(f"{_label(name)} is a video with no sound track: there is nothing to listen to. "
                                   "Please choose a video with sound, or a sound file.", "no_sound_track")
            raise _not_audio(data, name)
        stream = audio_streams[0]
        ctx = stream.codec_context
        if video_streams:
            notes.append("This is a video: we take its sound track only (the picture is not used).")
        if len(audio_streams) > 1:
            notes.append(f"The file has {len(audio_streams)} sound tracks: we use the first.")
        source_seconds = _source_seconds(container, stream)
        original_format = _format_name(container, ctx.name, name)
        samples, rate, channels, damaged, stopped = _decode(container, stream, max_seconds)

    if samples.size == 0 and not damaged:  # a header and no samples: a recording stopped at once
        raise AudioProblem("The clip holds no sound at all (0 samples). Please record or choose a longer clip.",
                           "too_short")
    if samples.size == 0:
        raise AudioProblem(f"{_label(name)} holds a sound track, but no sound could be decoded from it: it may be "
                           f"damaged or cut short. Please choose another file.", "corrupt")
    samples = np.clip(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0).astype(np.float32)
    limit = int(round(max_seconds * RATE))
    trimmed = stopped or samples.size > limit
    if trimmed:
        samples = samples[:limit]
        length = f"is {_duration(source_seconds)} long" if source_seconds else "is longer than that"
        notes.append(f"Whisper listens to {max_seconds:g} s at a time; this clip {length}, so we keep its first "
                     f"{max_seconds:g} s.")
    shortfall = _wav_shortfall(data)
    if shortfall is not None and not trimmed:
        promised, held = shortfall
        notes.append(f"The file seems cut short: its header promises {_duration(promised)} but it holds "
                     f"{_duration(held)}. We use the part that is there.")
    if damaged:
        pieces = "1 damaged piece of the file was" if damaged == 1 else f"{damaged} damaged pieces of the file were"
        notes.append(f"{pieces} skipped (they could not be decoded).")
    seconds = samples.size / RATE
    if seconds < MIN_SECONDS:
        raise AudioProblem(f"The clip is only {seconds * 1000:.0f} ms long; Whisper needs at least "
                           f"{MIN_SECONDS:g} s (about one short word). Please record or choose a longer clip.",
                           "too_short")
    if float(np.max(np.abs(samples))) < SILENCE_PEAK:
        raise AudioProblem("The clip is silent: there is nothing to hear (every sample is below -60 dB). Check the "
                           "microphone, or choose a clip with speech.", "silent")
    samples.setflags(write=False)
    return Audio(samples=samples, seconds=seconds, original_rate=rate, original_channels=channels,
                 original_format=original_format, converted=(rate != RATE or channels != 1), notes=tuple(notes),
                 source_seconds=source_seconds, trimmed=trimmed)


def _is_cover_art(stream) -> bool:
    """An mp3's or m4a's embedded album cover is a one-picture "video" stream: not a video."""
    return bool(getattr(stream, "disposition", 0) & av.stream.Disposition.attached_pic)


def _source_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return None
    return seconds if np.isfinite(seconds) and seconds > 0 else None


def _decode(container, stream, max_seconds: float) -> tuple[np.ndarray, int, int, int, bool]:
    """Demux and decode `stream` to 16 kHz mono float32, stopping after `max_seconds` of output.
    Returns (samples, original rate, original channels, damaged packets skipped, stopped early)."""
    limit = int(round(max_seconds * RATE))
    resampler = av.AudioResampler(format="fltp", layout=None, rate=RATE)  # keeps the channels; averaged below
    chunks: list[np.ndarray] = []
    total = damaged = packets = 0
    rate = int(stream.codec_context.sample_rate or 0)
    channels = int(stream.codec_context.channels or 0)
    stopped = False

    def take(frames) -> None:
        nonlocal total
        for out in frames:
            block = out.to_ndarray()  # (channels, n) float32, planar
            mono = block.mean(axis=0, dtype=np.float32) if block.ndim == 2 else block.reshape(-1)
            chunks.append(mono)
            total += mono.size

    for packet in container.demux(stream):
        packets += 1
        if packets > MAX_PACKETS:
            stopped = total > 0
            break
        try:
            frames = packet.decode()
        except av.FFmpegError:
            damaged += 1
            continue
        for frame in frames:
            if not rate:
                rate = int(frame.sample_rate)
            if not channels:
                channels = int(frame.layout.nb_channels)
            take(resampler.resample(frame))
        if total > limit:  # one sample past the limit proves the clip is longer than the window
            stopped = True
            break
    if not stopped:
        try:
            take(resampler.resample(None))  # flush the resampler's delay line
        except av.FFmpegError:
            pass
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return samples, rate, channels, damaged, stopped


def to_wav_bytes(audio: Audio) -> bytes:
    """16-bit PCM mono wav at 16 kHz, for `st.audio` (and a download)."""
    pcm = np.round(np.clip(audio.samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def segment(audio: Audio, start: float, end: float, pad: float = 0.0) -> Audio:
    """The part of `audio` from `start` to `end` seconds (clip-relative), widened by `pad` on each side and clipped
    to the clip, e.g. one word to play. Raises `AudioProblem` ("bad_segment") when nothing is left."""
    try:
        start, end, pad = float(start), float(end), float(pad)
    except (TypeError, ValueError) as error:
        raise AudioProblem("A segment needs start and end times in seconds.", "bad_segment") from error
    if not (np.isfinite(start) and np.isfinite(end) and np.isfinite(pad)):
        raise AudioProblem("A segment needs finite start and end times.", "bad_segment")
    first = max(0, int(round((start - pad) * RATE)))  # round, not floor/ceil: 0.3 * 16000 is 4800.000000000001
    last = min(audio.samples.size, int(round((end + pad) * RATE)))
    if last <= first:
        raise AudioProblem(f"The segment {start:.2f}-{end:.2f} s holds no sound: the clip is "
                           f"{audio.seconds:.2f} s long.", "bad_segment")
    samples = audio.samples[first:last]  # a view of read-only samples: stays read-only
    return replace(audio, samples=samples, seconds=samples.size / RATE, start=audio.start + first / RATE)
