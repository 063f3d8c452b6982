"""Listening: the same cross-attention as image captioning, with audio frames as the keys and values.

Whisper's decoder writes the transcript one token at a time; every token's query attends over the encoder's audio
frames (20 ms each). Averaged over the timing heads, that attention walks along the speech, so dynamic time
warping over it places each word; its edges are then snapped to where there is sound (whisper.snap_to_voice).

`listen(model, processor, audio, model_label)` is the page's one computation: transcript, token x frame
cross-attention trimmed to the clip, alignment heads, word times, and the log-mel the encoder read. The model and
processor are passed in (loaded once by the caller), never loaded here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.analysis.cost import Cost
from core.attention.maps import AttentionMaps
from core.models import whisper
from core.models.whisper import FRAME_SECONDS, MEL_PER_FRAME, SAMPLE_RATE, Word, is_multilingual


@dataclass(frozen=True)
class Listening:
    """One clip heard by one Whisper model.

    text: the transcript; tokens: the S text tokens as text, leading space kept (prompt and end-of-text left out);
    prompt_tokens: the P prompt tokens the decoder read first (e.g. <|startoftranscript|> <|notimestamps|>);
    cross_attention: (layers, heads, S, frames) float32, row i = the decoder position that PREDICTS text token i
        (position P - 1 + i), columns = the clip's first `frames` = ceil(duration / 0.02) encoder frames; the rows
        summed to 1 over the full 30 s window (1500 frames) before trimming, so a row here sums to <= 1 and the
        rest is the attention paid to the padding;
    alignment_heads: the (layer, head) pairs used for word timing;
    words: the transcript's words with start/end in seconds and their text-token spans;
    log_mel: (80, 2 * frames) the log-mel spectrogram the encoder read (10 ms steps), trimmed to the clip;
    frame_seconds: 0.02 (one encoder frame); duration: the clip's length in seconds;
    decoder_ids: prompt + text + end-of-text, the decoder input the cross-attention was read from (row of text
        token i = len(prompt_tokens) - 1 + i)."""

    model_label: str
    text: str
    tokens: list[str]
    prompt_tokens: list[str]
    cross_attention: np.ndarray
    alignment_heads: list[tuple[int, int]]
    words: list[Word]
    log_mel: np.ndarray
    frame_seconds: float
    duration: float
    decoder_ids: list[int]
    cost: Cost | None = field(default=None, compare=False)  # what computing it cost; set where it ran

    def word_of(self, token: int) -> int:
        """The index of the word that text token `token` spells part of (0 when there are no words)."""
        return next((i for i, w in enumerate(self.words) if w.token_span[0] <= token < w.token_span[1]), 0)

    def decoder_row(self, token: int) -> int:
        """The decoder position whose query predicts text token `token` (an off-by-one shifts every word)."""
        return len(self.prompt_tokens) - 1 + token

    @property
    def frames(self) -> int:
        return self.cross_attention.shape[-1]

    def frame_times(self) -> np.ndarray:
        """(frames,) the start time of each encoder frame in seconds."""
        return np.arange(self.frames) * self.frame_seconds

    def token_frame_maps(self) -> AttentionMaps:
        """The text tokens' cross-attention on the audio frames (20 ms each), labelled by their start time."""
        return AttentionMaps(self.cross_attention, self.tokens, key_labels=[f"{t:.2f} s" for t in self.frame_times()])

    def timing_heads_label(self) -> str:
        """The timing heads in words: "every head of the 6 decoder layers (48)" or "(layer, head), ..."."""
        layers, heads = self.cross_attention.shape[:2]
        if len(self.alignment_heads) == layers * heads:
            return f"every head of the {layers} decoder layers ({layers * heads})"
        return ", ".join(f"({layer}, {head})" for layer, head in self.alignment_heads)

    def sharpest_timing_head(self, token: int) -> tuple[int, int]:
        """The timing head whose attention for `token` peaks highest on one frame (the clearest example)."""
        return max(self.alignment_heads, key=lambda lh: float(self.cross_attention[lh[0], lh[1], token].max()))

    def alignment_mean(self) -> np.ndarray:
        """(S, frames): the alignment heads' mean cross-attention, what word timing reads."""
        return alignment_mean(self.cross_attention, self.alignment_heads)


def alignment_mean(cross_attention: np.ndarray, heads: list[tuple[int, int]]) -> np.ndarray:
    """(layers, heads, S, frames) -> (S, frames): the mean over the given (layer, head) pairs."""
    if not heads:
        raise ValueError("no alignment heads given")
    return np.mean([cross_attention[layer, head] for layer, head in heads], axis=0)


HEAD_SETS = ("auto", "all", "alignment", "last2")


def timing_heads(model, which: str = "auto") -> list[tuple[int, int]]:
    """"all": every decoder head; "alignment": OpenAI's alignment heads (from the package's config); "last2": every
    head of the last two decoder layers; "auto": the set that timed words best on the calibration speech (the two
    word-by-word sample clips and core/inputs/speech_samples.py TIMING_CALIBRATION, 80 words), with the voiced snap:
    base (multilingual) "alignment", true centres inside the span 78/80 (all 77, last2 75), predicted centres inside
    the true word 79/80 (77, 75); tiny.en "all", 79/79 and 79/79 (alignment 78 and 78, last2 79 and 79). The
    held-out sentences (TIMING_HELD_OUT) are for reporting only: `python -m core.evaluate --speech`."""
    if which == "auto":
        which = "alignment" if is_multilingual(model) else "all"
    if which == "all":
        return whisper.all_heads(model)
    if which == "alignment":
        return whisper.alignment_heads(model)
    if which == "last2":
        return whisper.last_layer_heads(model, 2)
    raise ValueError(f"unknown head set {which!r}: one of {', '.join(HEAD_SETS)}")


def listen(model, processor, audio: np.ndarray, model_label: str, language: str = "en",
           heads: str = "auto") -> Listening:
    """Transcribe `audio` (mono 16 kHz float32, at most 30 s) and read where each token listened."""
    audio = np.asarray(audio, dtype=np.float32)
    duration = len(audio) / SAMPLE_RATE
    frames = whisper.clip_frames(duration)
    if frames == 0:
        raise ValueError("the clip is empty")
    features = whisper.input_features(processor, audio)  # (1, 80, 3000)
    transcript = whisper.transcribe(model, processor, audio, language=language, features=features)
    chosen = timing_heads(model, heads)
    tokenizer = processor.tokenizer
    words = whisper.word_times(tokenizer, transcript, chosen, frames) if transcript.text_ids else []
    words = whisper.snap_to_voice(words, whisper.voiced_frames(audio, frames))
    cross = transcript.cross_attention[:, :, transcript.text_rows, :frames]  # (L, H, S, frames)
    return Listening(
        model_label=model_label,
        text=tokenizer.decode(transcript.text_ids, skip_special_tokens=True).strip(),
        tokens=[tokenizer.decode([i]) for i in transcript.text_ids],  # readable: " animal", not "Ġanimal"
        prompt_tokens=tokenizer.convert_ids_to_tokens(transcript.prompt_ids),
        cross_attention=np.ascontiguousarray(cross, dtype=np.float32),
        alignment_heads=chosen,
        words=words,
        log_mel=features[0, :, :frames * MEL_PER_FRAME].numpy().copy(),
        frame_seconds=FRAME_SECONDS,
        duration=duration,
        decoder_ids=[*transcript.prompt_ids, *transcript.text_ids, transcript.eot_id],
    )
