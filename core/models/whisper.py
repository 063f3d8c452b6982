"""Whisper's internals, in one place: the audio window, the prompt, generate-then-rerun, alignment heads, word times.

WhisperForConditionalGeneration: log-mel spectrogram (80 mels x 3000 steps of 10 ms, always a 30 s window, the
clip padded with silence) -> encoder (two convolutions, the second with stride 2: 1500 frames of 20 ms) -> decoder,
whose every layer cross-attends from the text tokens (queries) to the 1500 audio frames (keys and values).

The bookkeeping every caller would otherwise rediscover (TransformerLens calls index bookkeeping the biggest
footgun):
- the decoder reads a prompt first: [sot, notimestamps] for English-only tiny.en, [sot, en, transcribe,
  notimestamps] for multilingual base; then the text tokens, then end-of-text;
- the attention row that PREDICTS text token i is at position len(prompt) - 1 + i (the row whose input is the
  previous token); one off shifts every word by a token;
- a clip of T seconds fills the first ceil(T / 0.02) encoder frames; the rest of the window is padding;
- `generate(..., output_attentions=True)` does not hand back one tidy cross-attention array, so `transcribe`
  generates greedily, then runs the model once more on prompt + text + end-of-text with output_attentions=True.

Word times: DTW over the mean of the timing heads' cross-attention, as OpenAI's `timing.py` does, using
transformers' own DTW and median filter (`_dynamic_time_warping`, `_median_filter`), the rows chosen as above.
DTW's spans tile the clip (a word ends where the next one starts), so each carries the pause after it;
`snap_to_voice` then moves each word's edges onto the longest voiced run inside its span, as stable-ts does with
silence (measured in core/evaluate.py: the predicted centres land inside the true words 97-100% of the time instead
of 27-88%).
`hf_token_times` runs transformers' full path (`generate(..., return_token_timestamps=True)`) for comparison: it
drops the row that predicts the first text token, so its first word always starts at 0 (measured in
tests/core/concepts/test_listening.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.attention import stack_attentions

SAMPLE_RATE = 16000  # Hz: what the feature extractor expects
WINDOW_SECONDS = 30.0  # every input is padded (or cut) to this
FRAME_SECONDS = 0.02  # one encoder frame (two 10 ms mel steps: conv2 has stride 2)
WINDOW_FRAMES = 1500  # encoder frames in the window
MEL_PER_FRAME = 2
MEDIAN_FILTER_WIDTH = 7  # OpenAI's timing.py and WhisperConfig's default
# A 20 ms frame is voiced when its RMS is above this share of the clip's loudest frame's (-34 dB). Chosen on the
# calibration sentences (core/inputs/speech_samples.py TIMING_CALIBRATION): 1%, 2% and 5% timed them alike.
VOICED_SHARE = 0.02
# A pause this short inside voiced sound is bridged: a stop consonant's closure (the silence in "a-t-tention") is
# part of its word. On the calibration sentences 60, 100 and 160 ms timed alike and no bridge was worse (base: true
# centres inside 92.5% -> 98.5%); their pauses between words are 250 ms and longer.
BRIDGE_SECONDS = 0.10


def clip_frames(duration: float) -> int:
    """Encoder frames a clip of `duration` seconds covers: ceil(T / 0.02), at most the 1500 of the window."""
    return int(min(WINDOW_FRAMES, math.ceil(duration / FRAME_SECONDS - 1e-9)))


def is_multilingual(model) -> bool:
    return bool(getattr(model.generation_config, "is_multilingual", False))


def prompt_ids(model, language: str = "en", task: str = "transcribe") -> list[int]:
    """The decoder's prompt: [sot, (language, task,) notimestamps], from the generation config."""
    gen = model.generation_config
    ids = [gen.decoder_start_token_id]
    if is_multilingual(model):
        ids += [gen.lang_to_id[f"<|{language}|>"], gen.task_to_id[task]]
    return ids + [gen.no_timestamps_token_id]


def generate_kwargs(model, language: str = "en", task: str = "transcribe") -> dict:
    """What `generate` needs to build that prompt (tiny.en: nothing; base: language and task)."""
    return {"language": language, "task": task} if is_multilingual(model) else {}


def input_features(processor, audio: np.ndarray) -> torch.Tensor:
    """(1, 80, 3000) log-mel of a mono 16 kHz clip, padded to the 30 s window."""
    if audio.ndim != 1:
        raise ValueError(f"expected a mono waveform (samples,), got shape {audio.shape}")
    if len(audio) > WINDOW_SECONDS * SAMPLE_RATE:
        raise ValueError(f"the clip is {len(audio) / SAMPLE_RATE:.1f} s; Whisper listens to at most 30 s at once")
    return processor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features


def alignment_heads(model) -> list[tuple[int, int]]:
    """(layer, head) pairs whose cross-attention follows the speech in time (OpenAI's list, from the package)."""
    return [(int(layer), int(head)) for layer, head in model.generation_config.alignment_heads]


def last_layer_heads(model, n_layers: int = 2) -> list[tuple[int, int]]:
    """Every head of the last `n_layers` decoder layers (the alternative head set for word timing)."""
    layers, heads = model.config.decoder_layers, model.config.decoder_attention_heads
    return [(layer, head) for layer in range(layers - n_layers, layers) for head in range(heads)]


@dataclass(frozen=True)
class Transcript:
    """One greedy transcription and its cross-attention.

    prompt_ids: the decoder prompt (P ids); text_ids: the generated text tokens (S ids, no end-of-text);
    eot_id: end-of-text; cross_attention: (layers, heads, P + S, 1500) float32 over the whole window, row r is the
    decoder position whose input is token r of prompt + text and which predicts token r + 1 (the last row predicts
    end-of-text); each row sums to 1 over the 1500 frames."""

    prompt_ids: list[int]
    text_ids: list[int]
    eot_id: int
    cross_attention: np.ndarray

    def row_of(self, i: int) -> int:
        """The row that predicts text token i (i = len(text_ids) means end-of-text)."""
        return len(self.prompt_ids) - 1 + i

    @property
    def text_rows(self) -> slice:
        """The S rows that predict the text tokens, in token order."""
        return slice(self.row_of(0), self.row_of(len(self.text_ids)))

    @property
    def timing_rows(self) -> slice:
        """The S + 1 rows DTW aligns: the text tokens and end-of-text (OpenAI's `timing.py`)."""
        return slice(self.row_of(0), self.row_of(len(self.text_ids)) + 1)


def _text_ids(sequence: list[int], prompt: list[int], eot: int) -> list[int]:
    """Generated ids without the prompt (when generate returned it) and without end-of-text."""
    if sequence[:len(prompt)] == prompt:
        sequence = sequence[len(prompt):]
    if eot in sequence:
        sequence = sequence[:sequence.index(eot)]
    return sequence


@torch.inference_mode()
def transcribe(model, processor, audio: np.ndarray, language: str = "en", max_new_tokens: int | None = None,
               features: torch.Tensor | None = None) -> Transcript:
    """Greedy transcription, then one forward over prompt + text + end-of-text for the cross-attention."""
    features = input_features(processor, audio) if features is None else features
    prompt = prompt_ids(model, language)
    eot = model.generation_config.eos_token_id
    limit = {} if max_new_tokens is None else {"max_new_tokens": max_new_tokens}  # default: the 448 positions
    encoded = model.get_encoder()(features)  # (1, 1500, d) once: the greedy decode and the rerun both read it
    generated = model.generate(encoder_outputs=encoded, do_sample=False, num_beams=1, **limit,
                               **generate_kwargs(model, language))
    text = _text_ids(generated[0].tolist(), prompt, eot)
    ids = torch.tensor([prompt + text + [eot]])  # (1, P + S + 1)
    out = model(encoder_outputs=encoded, decoder_input_ids=ids, output_attentions=True)
    cross = stack_attentions(out.cross_attentions)[:, :, :-1]  # (L, H, P + S, 1500); the eot input row is unused
    return Transcript(prompt_ids=prompt, text_ids=text, eot_id=eot, cross_attention=cross)


@dataclass(frozen=True)
class Word:
    """A word of the transcript: its text (leading space stripped), start and end in seconds, and the text tokens
    [token_span[0], token_span[1]) that spell it."""

    word: str
    start: float
    end: float
    token_span: tuple[int, int]
    dtw_span: tuple[float, float] | None = None  # (start, end) from DTW alone, before snap_to_voice

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2


def group_words(tokenizer, text_ids: list[int], language: str = "english") -> list[tuple[str, tuple[int, int]]]:
    """Text tokens -> words with their token spans, by transformers' own grouping (split on spaces, punctuation
    merged into its word)."""
    from transformers.models.whisper.tokenization_whisper import _combine_tokens_into_words

    if not text_ids:
        return []
    words, _tokens, indices = _combine_tokens_into_words(tokenizer, list(text_ids), language)
    return [(word.strip(), (idx[0], idx[-1] + 1)) for word, idx in zip(words, indices) if idx]


def alignment_matrix(cross_attention: np.ndarray, heads: list[tuple[int, int]], rows: slice, frames: int,
                     median_filter_width: int = MEDIAN_FILTER_WIDTH) -> np.ndarray:
    """(rows, frames): the heads' attention over the clip's frames, each head standardised along the token axis
    and median-filtered along time, then averaged over heads (OpenAI's `find_alignment`)."""
    from transformers.models.whisper.generation_whisper import _median_filter

    weights = torch.from_numpy(np.stack([cross_attention[layer, head, rows, :frames] for layer, head in heads]))
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)  # over tokens
    weights = _median_filter((weights - mean) / std, median_filter_width)  # (heads, rows, frames)
    return weights.mean(dim=0).numpy()


def word_times(tokenizer, transcript: Transcript, heads: list[tuple[int, int]], frames: int,
               language: str = "english") -> list[Word]:
    """Words with start/end: DTW over the heads' alignment matrix (text tokens + end-of-text rows x the clip's
    frames); a word starts where DTW first reaches its first token, and ends where the next word (or end-of-text)
    starts."""
    from transformers.models.whisper.generation_whisper import _dynamic_time_warping

    grouped = group_words(tokenizer, transcript.text_ids, language)
    if not grouped:
        return []
    matrix = alignment_matrix(transcript.cross_attention, heads, transcript.timing_rows, frames)  # (S + 1, F)
    text_index, time_index = _dynamic_time_warping(-matrix.astype(np.float64))
    jumps = np.pad(np.diff(text_index), (1, 0), constant_values=1).astype(bool)
    token_start = time_index[jumps] * FRAME_SECONDS  # (S + 1,) when DTW first reaches each row
    return [Word(word, float(token_start[a]), float(token_start[b]), (a, b)) for word, (a, b) in grouped]


def all_heads(model) -> list[tuple[int, int]]:
    """Every cross-attention head of every decoder layer."""
    return last_layer_heads(model, model.config.decoder_layers)


def voiced_frames(audio: np.ndarray, frames: int, share: float = VOICED_SHARE,
                  bridge: float = BRIDGE_SECONDS) -> np.ndarray:
    """(frames,) bool: whether each 20 ms encoder frame of the clip has sound (RMS above `share` of the loudest
    frame's), with pauses of at most `bridge` seconds between sounds filled in. A silent clip has no voiced frame."""
    step = int(SAMPLE_RATE * FRAME_SECONDS)
    padded = np.zeros(frames * step, dtype=np.float64)
    clip = np.asarray(audio, dtype=np.float64)[:frames * step]
    padded[:len(clip)] = clip
    rms = np.sqrt((padded.reshape(frames, step) ** 2).mean(axis=1))
    voiced = rms > share * rms.max() if rms.max() > 0 else np.zeros(frames, dtype=bool)
    starts, ends = _runs(~voiced)
    for a, b in zip(starts, ends):
        if a > 0 and b < frames and (b - a) * FRAME_SECONDS <= bridge + 1e-9:  # a pause between two sounds
            voiced[a:b] = True
    return voiced


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The [start, end) of every run of True in a 1-D bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return edges[0::2], edges[1::2]


def snap_to_voice(words: list[Word], voiced: np.ndarray) -> list[Word]:
    """Each word's span cut down to the run of voiced frames it owns most: of the runs its DTW span touches, the one
    with the largest share of itself inside the span (ties: the larger overlap), clipped to the span. So a run that
    only pokes into the span (the end of the word before) loses to the word's own sound, and in speech with no pause
    the span stays as DTW gave it. A span that touches no sound keeps its DTW edges, kept in `dtw_span`."""
    run_starts, run_ends = _runs(voiced)
    snapped = []
    for w in words:
        first, last = int(round(w.start / FRAME_SECONDS)), int(round(w.end / FRAME_SECONDS))
        overlap = np.minimum(run_ends, last) - np.maximum(run_starts, first)
        start, end = w.start, w.end
        if (overlap > 0).any():
            share = np.where(overlap > 0, overlap / (run_ends - run_starts), -1.0)
            best = max(np.flatnonzero(overlap > 0), key=lambda i: (share[i], overlap[i]))
            start = max(first, run_starts[best]) * FRAME_SECONDS
            end = min(last, run_ends[best]) * FRAME_SECONDS
        snapped.append(Word(w.word, float(start), float(end), w.token_span, dtw_span=(w.start, w.end)))
    return snapped


@torch.inference_mode()
def hf_token_times(model, processor, audio: np.ndarray, language: str = "en",
                   heads: list[tuple[int, int]] | None = None) -> tuple[list[int], np.ndarray]:
    """transformers' own word-timing path: generate(..., return_token_timestamps=True) over the generation
    config's alignment heads (or `heads`), cropped to the clip. Returns (text ids, (S + 1,) times): in the
    pipeline's reading, text token i spans [times[i], times[i + 1]) (times[0] is always 0)."""
    inputs = processor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", return_attention_mask=True)
    gen = model.generation_config
    if heads is not None:
        gen = type(gen).from_dict(gen.to_dict())  # a copy: shared cached models are never mutated
        gen.alignment_heads = [list(h) for h in heads]
    out = model.generate(inputs.input_features, attention_mask=inputs.attention_mask,  # the mask crops DTW
                         generation_config=gen, return_token_timestamps=True, return_dict_in_generate=True,
                         **generate_kwargs(model, language))
    prompt, eot = prompt_ids(model, language), gen.eos_token_id
    sequence, stamps = out["sequences"][0].tolist(), out["token_timestamps"][0].numpy()  # same length
    if sequence[:len(prompt)] != prompt:
        raise ValueError(f"expected the sequence to start with the prompt {prompt}, got {sequence[:len(prompt)]}")
    text = _text_ids(sequence, prompt, eot)
    # the pipeline's reading: token p of the sequence spans (stamps[p - 1], stamps[p]); stamps[P - 1] is 0
    return text, stamps[len(prompt) - 1:len(prompt) + len(text)].astype(np.float64)


def words_from_token_times(tokenizer, text_ids: list[int], starts: np.ndarray,
                           language: str = "english") -> list[Word]:
    """Words from per-token boundaries (S + 1,): word = [starts[first token], starts[one past its last token])."""
    return [Word(word, float(starts[a]), float(starts[b]), (a, b))
            for word, (a, b) in group_words(tokenizer, text_ids, language)]
