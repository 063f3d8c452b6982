"""Short spoken sample clips for the Listening page, with known word times where they are built word by word.

`python -m core.inputs.speech_samples` writes them under assets/speech/ (committed; the app never needs espeak):
mono 16 kHz 16-bit wav files made with espeak-ng (`-v en-us`) and resampled with sox, plus samples.json.
A word-by-word clip synthesises every word on its own, trims its silence, and joins the words with silences of
known length, so the true start and end of every word is known to the sample (1/16000 s).
`load_samples()` reads samples.json back as typed records.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SPEECH_DIR = ROOT / "assets" / "speech"
INDEX = SPEECH_DIR / "samples.json"
SAMPLE_RATE = 16000  # Whisper's rate
VOICE = "en-us"
LEAD_SILENCE = 0.40  # s before the first word: the model must not take the clip start for a word start
TAIL_SILENCE = 0.40
GAPS = (0.30, 0.45, 0.25, 0.40, 0.35)  # s between words, cycled: uneven, so a constant offset cannot fake timing
# espeak-ng says "the" alone as a weak "thuh" that both models hear as "her"; the stressed form is heard right
PRONOUNCE = {"the": "[[D'i:]]"}
TRIM_THRESHOLD = 0.01  # |amplitude| (of 1.0) below which a word's leading/trailing samples count as silence


@dataclass(frozen=True)
class WordTime:
    word: str
    start: float  # s
    end: float  # s


@dataclass(frozen=True)
class SpeechSample:
    """One clip: `path` a mono 16 kHz wav; `words` the true word times (empty unless built word by word)."""

    name: str
    title: str
    text: str
    path: Path
    duration: float  # s
    words: tuple[WordTime, ...] = ()

    @property
    def word_by_word(self) -> bool:
        return bool(self.words)


# name -> (title, text, word by word?)
CLIPS: dict[str, tuple[str, str, bool]] = {
    "animal_question": ("What animal is in the photo? (spoken)", "What animal is in the photo?", False),
    "animal_question_words": ("What animal is in the photo? (word by word, known times)",
                              "What animal is in the photo?", True),
    "shapes_sentence": ("A red circle next to a blue square (spoken)",
                        "There is a red circle next to a blue square.", False),
    "attention_words": ("Attention tells the model where to look (word by word, known times)",
                        "Attention tells the model where to look.", True),
}

# Sentences for measuring word timing, synthesised word by word on the fly (espeak-ng and sox; nothing committed).
# The calibration set chose the timing heads and the voiced-snap thresholds (core/models/whisper.py); the held-out
# set was made after those choices and is only reported (`python -m core.evaluate --speech`).
TIMING_CALIBRATION = (
    "A small red circle sits beside a blue square", "Students listen carefully while the teacher draws a triangle",
    "Cross attention lets every word look at the sound", "Seven green apples fell from the old tree",
    "Please open the window before the meeting starts", "My brother plays the guitar every Sunday morning",
    "The quick brown fox jumps over the lazy dog", "We measured the weather on a cold and windy day",
)
TIMING_HELD_OUT = (
    "Bring me the yellow cup from the kitchen table", "The river runs quietly under the stone bridge",
    "Our class will visit the science museum next week", "She painted a purple star on the white wall",
    "Every patch of the image becomes a vector", "Turn left at the bakery and walk two blocks",
    "The orange cat sleeps near the warm fireplace", "Listening to music helps me study at night",
    "Nine students wrote short answers on the board", "A green triangle hides behind the black circle",
)


def can_synthesize() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def timing_clips(sentences: tuple[str, ...]) -> list[tuple[str, np.ndarray, list[WordTime]]]:
    """(text, audio, true word times) for each sentence, synthesised word by word (needs espeak-ng and sox)."""
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for text in sentences:
            audio, times = word_by_word(text, Path(tmp))
            clips.append((text, audio, times))
    return clips


def load_samples(index: Path = INDEX) -> list[SpeechSample]:
    """The committed clips, in samples.json order."""
    records = json.loads(index.read_text())
    return [SpeechSample(name=r["name"], title=r["title"], text=r["text"], path=index.parent / r["file"],
                         duration=r["duration"], words=tuple(WordTime(**w) for w in r.get("words", ())))
            for r in records]


def read_wav(path: Path) -> np.ndarray:
    """(samples,) float32 in [-1, 1] of a mono 16-bit wav (the committed clips)."""
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0)


def write_wav(path: Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())


def _tools() -> tuple[str, str]:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        raise RuntimeError("making the speech samples needs espeak-ng and sox (apt-get install espeak-ng sox); "
                           "the app itself only reads the committed wav files")
    return espeak, sox


def synthesize(text: str, workdir: Path) -> np.ndarray:
    """espeak-ng (22.05 kHz) -> sox -> 16 kHz mono float32."""
    espeak, sox = _tools()
    raw, resampled = workdir / "raw.wav", workdir / "16k.wav"
    subprocess.run([espeak, "-v", VOICE, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run([sox, str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(resampled)], check=True,
                   capture_output=True)
    return read_wav(resampled)


def trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > TRIM_THRESHOLD)
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio[:0]


def words_of(text: str) -> list[str]:
    return [w.strip(".,?!") for w in text.split()]


def word_by_word(text: str, workdir: Path) -> tuple[np.ndarray, list[WordTime]]:
    """Each word synthesised alone and trimmed, joined by GAPS; returns the audio and each word's true times."""
    pieces = [np.zeros(int(LEAD_SILENCE * SAMPLE_RATE), np.float32)]
    times, cursor = [], len(pieces[0])
    for i, word in enumerate(words_of(text)):
        audio = trim(synthesize(PRONOUNCE.get(word.lower(), word), workdir))
        times.append(WordTime(word, cursor / SAMPLE_RATE, (cursor + len(audio)) / SAMPLE_RATE))
        pieces.append(audio)
        cursor += len(audio)
        gap = TAIL_SILENCE if i == len(words_of(text)) - 1 else GAPS[i % len(GAPS)]
        pieces.append(np.zeros(int(round(gap * SAMPLE_RATE)), np.float32))
        cursor += len(pieces[-1])
    return np.concatenate(pieces), times


def make_samples(out_dir: Path = SPEECH_DIR) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (title, text, by_word) in CLIPS.items():
            if by_word:
                audio, times = word_by_word(text, Path(tmp))
            else:
                spoken = trim(synthesize(text, Path(tmp)))
                pad = np.zeros(int(LEAD_SILENCE * SAMPLE_RATE), np.float32)
                audio, times = np.concatenate([pad, spoken, pad]), []
            write_wav(out_dir / f"{name}.wav", audio)
            record = {"name": name, "file": f"{name}.wav", "title": title, "text": text,
                      "duration": round(len(audio) / SAMPLE_RATE, 4)}
            if times:
                record["words"] = [{"word": t.word, "start": round(t.start, 4), "end": round(t.end, 4)}
                                   for t in times]
            records.append(record)
    (out_dir / "samples.json").write_text(json.dumps(records, indent=1) + "\n")
    return records


if __name__ == "__main__":
    for r in make_samples():
        print(f"{r['file']}: {r['duration']:.2f} s, {(SPEECH_DIR / r['file']).stat().st_size // 1024} KB"
              f"{', known word times' if 'words' in r else ''}")
