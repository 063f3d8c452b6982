"""Whisper's cross-attention formula with real numbers: one text position's query against the 20 ms audio frames.

The same operation as BLIP's image cross-attention (core/attention/qkv_math.py), with encoder frames as the keys.
For decoder layer l, head h, decoder position t (a row of prompt + text + end-of-text) and encoder frame f:

    x_t = encoder_attn_layer_norm(state of position t)      what the layer's cross-attention reads   (d,)
    E   = the encoder's output, the 30 s window               one row per 20 ms frame                 (1500, d)
    q   = x_t W_q + b_q          (head h's slice)                                                      (d_head,)
    K   = E W_k                  (no bias in Whisper's k_proj)                                         (1500, d_head)
    V   = E W_v + b_v                                                                                  (1500, d_head)
    scores  = q K^T / sqrt(d_head)                                                                     (1500,)
    weights = softmax(scores)    over ALL 1500 frames, padding included: what the model reports        (1500,)
    context = weights V          this head's share of what position t heard                            (d_head,)

WhisperAttention multiplies q_proj's output by `scaling` = d_head ** -0.5 BEFORE q K^T and calls the attention
kernel with scaling 1.0 (transformers keeps OpenAI's order for float32 agreement); the recomputation below does the
same, in numpy float32, from the module's own q_proj / k_proj / v_proj.

`cross_attention_math` captures x_t and E with hooks on the layer's `encoder_attn` (inside a context manager that
always removes them), from one encoder run and one decoder forward over `ids` (as `whisper.transcribe` reruns it).
"""
from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from core.attention import AttentionsMissing
from core.concepts.listening import Listening, listen
from core.models import whisper

TOP_FRAMES = 5  # frames listed by weight: enough to see a peak and its neighbours


@dataclass(frozen=True)
class ListeningMath:
    """One (layer, head, decoder row, encoder frame) of Whisper's decoder cross-attention, step by step.

    token_id: the decoder input at `row` (that row predicts the next token); d_head: per-head width;
    scaling: d_head ** -0.5, the module's factor on q;
    q: (d_head,) the row's query for this head, q_proj output before scaling; k, v: (d_head,) the frame's key
        and value; K, V: (1500, d_head) every frame's key and value for this head;
    score: q . k / sqrt(d_head) for the frame; scores: (1500,) the same for every frame;
    weights: (1500,) softmax(scores) recomputed here, sums to 1 over the whole window; weight: weights[frame];
    model_weights: (1500,) the row the model itself returned (output_attentions); model_weight: its [frame];
    context: (d_head,) weights @ V, this head's context vector for the row;
    top_frames: the TOP_FRAMES frames with the largest recomputed weight, largest first."""

    layer: int
    head: int
    row: int
    frame: int
    token_id: int
    d_head: int
    scaling: float
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    K: np.ndarray
    V: np.ndarray
    score: float
    scores: np.ndarray
    weight: float
    weights: np.ndarray
    model_weight: float
    model_weights: np.ndarray
    context: np.ndarray
    top_frames: tuple[int, ...]

    @property
    def gap(self) -> float:
        """|recomputed weight - model's weight| at (row, frame)."""
        return abs(self.weight - self.model_weight)

    @property
    def max_gap(self) -> float:
        """The largest gap over the row's 1500 frames."""
        return float(np.abs(self.weights - self.model_weights).max())

    @property
    def context_norm(self) -> float:
        return float(np.linalg.norm(self.context))

    @property
    def log_normaliser(self) -> float:
        """log of sum_f exp(scores[f]) (float64): weight = exp(score - log_normaliser)."""
        s = self.scores.astype(np.float64)
        return float(s.max() + np.log(np.exp(s - s.max()).sum()))


@dataclass
class _Captured:
    """What the hooked `encoder_attn` read on its last call: hidden (1, T, d) after encoder_attn_layer_norm; encoder
    (1, 1500, d); and what it returned: weights (1, H, T, 1500) (None when not asked for attentions)."""

    hidden: torch.Tensor | None = None
    encoder: torch.Tensor | None = None
    weights: torch.Tensor | None = None


@contextmanager
def capture_cross_attention_inputs(attention: torch.nn.Module) -> Iterator[_Captured]:
    """Record the inputs of one WhisperAttention used as cross-attention; the hook is removed on exit, always."""
    captured = _Captured()

    def pre_hook(_module, args, kwargs):
        captured.hidden = args[0] if args else kwargs["hidden_states"]
        captured.encoder = kwargs.get("key_value_states")

    def hook(_module, _args, _kwargs, output):
        captured.weights = output[1] if isinstance(output, tuple) and len(output) > 1 else None

    handles = [attention.register_forward_pre_hook(pre_hook, with_kwargs=True),
               attention.register_forward_hook(hook, with_kwargs=True)]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _head_linear(x: np.ndarray, layer: torch.nn.Linear, head: int, d_head: int) -> np.ndarray:
    """x (n, d) -> (n, d_head): the head's slice of the projection (bias only when the layer has one)."""
    rows = slice(head * d_head, (head + 1) * d_head)
    out = x @ layer.weight[rows].detach().numpy().T  # (n, d_head)
    return out + layer.bias[rows].detach().numpy() if layer.bias is not None else out


def _check(name: str, value: int, size: int) -> int:
    if not 0 <= int(value) < size:
        raise ValueError(f"{name} {value} is out of range: 0..{size - 1}")
    return int(value)


@dataclass(frozen=True)
class DecoderReading:
    """One decoder pass over a clip: everything a (layer, head, row, frame) choice needs, so changing the choice
    never runs the model again. hidden: (L, T, d) each layer's cross-attention input (after its
    encoder_attn_layer_norm); encoder: (1500, d) the encoder's output, the keys' and values' input; cross: (L, H, T,
    1500) the model's own cross-attention weights; ids: the T decoder inputs."""

    ids: tuple[int, ...]
    hidden: np.ndarray
    encoder: np.ndarray
    cross: np.ndarray


@torch.inference_mode()
def read_decoder(model, processor, audio: np.ndarray, ids: list[int],
                 features: torch.Tensor | None = None) -> DecoderReading:
    """Run the encoder once and the decoder once over `ids` (prompt + text + end-of-text), recording every layer's
    cross-attention inputs (hooks removed on exit, always) and weights."""
    if not ids:
        raise ValueError("ids is empty: pass prompt + text + end-of-text")
    features = whisper.input_features(processor, np.asarray(audio, dtype=np.float32)) if features is None \
        else features
    encoded = model.get_encoder()(features)  # (1, 1500, d): the encoder runs once
    layers = model.get_decoder().layers
    with ExitStack() as stack:
        captured = [stack.enter_context(capture_cross_attention_inputs(layer.encoder_attn)) for layer in layers]
        out = model(encoder_outputs=encoded, decoder_input_ids=torch.tensor([list(ids)]), output_attentions=True)
    if out.cross_attentions is None or any(a is None for a in out.cross_attentions):
        raise AttentionsMissing("Whisper returned no cross-attention: load it with attn_implementation='eager'.")
    return DecoderReading(
        ids=tuple(int(i) for i in ids),
        hidden=np.stack([c.hidden[0].float().numpy() for c in captured]),  # (L, T, d)
        encoder=captured[0].encoder[0].float().numpy().copy(),  # (1500, d): the same for every layer
        cross=np.stack([a[0].float().numpy() for a in out.cross_attentions]))  # (L, H, T, 1500)


@torch.inference_mode()
def listen_and_read(model, processor, audio: np.ndarray, model_label: str) -> tuple[Listening, DecoderReading]:
    """`listening.listen` and the `read_decoder` of its decoder ids from the same model calls: the transcription's
    last forward is the teacher-forced pass over prompt + text + end-of-text, the very pass read_decoder would run
    again (with Whisper base, its encoder and decoder were 0.86 s of a 2.0 s first answer). Falls back to
    read_decoder if that last pass was not over the ids (the hooks then saw something else)."""
    with ExitStack() as stack:
        captured = [stack.enter_context(capture_cross_attention_inputs(layer.encoder_attn))
                    for layer in model.get_decoder().layers]
        heard = listen(model, processor, audio, model_label=model_label)
    ids = tuple(int(i) for i in heard.decoder_ids)
    if any(c.weights is None or c.encoder is None or c.hidden.shape[1] != len(ids) for c in captured):
        return heard, read_decoder(model, processor, audio, list(ids))
    return heard, DecoderReading(
        ids=ids,
        hidden=np.stack([c.hidden[0].float().numpy() for c in captured]),  # (L, T, d)
        encoder=captured[0].encoder[0].float().numpy().copy(),  # (1500, d)
        cross=np.stack([c.weights[0].float().numpy() for c in captured]))  # (L, H, T, 1500)


@torch.inference_mode()
def math_from(model, reading: DecoderReading, layer: int, head: int, row: int, frame: int) -> ListeningMath:
    """Recompute softmax(q K^T / sqrt(d_head)) for one decoder row and frame from a DecoderReading (numpy only)."""
    config = model.config
    layer = _check("layer", layer, config.decoder_layers)
    head = _check("head", head, config.decoder_attention_heads)
    row = _check("row", row, len(reading.ids))
    frame = _check("frame", frame, whisper.WINDOW_FRAMES)
    attention = model.get_decoder().layers[layer].encoder_attn
    d_head = attention.head_dim
    model_weights = reading.cross[layer, head, row]  # (1500,)
    x = reading.hidden[layer, row][None]  # (1, d) after encoder_attn_layer_norm
    q = _head_linear(x, attention.q_proj, head, d_head)[0]  # (d_head,) before scaling
    K = _head_linear(reading.encoder, attention.k_proj, head, d_head)  # (1500, d_head); k_proj has no bias
    V = _head_linear(reading.encoder, attention.v_proj, head, d_head)  # (1500, d_head)
    scaling = float(attention.scaling)
    scores = K @ (q * np.float32(scaling))  # (1500,) the module scales q first, then q K^T
    shifted = np.exp(scores - scores.max())
    weights = shifted / shifted.sum()  # (1500,) softmax over the whole window
    context = weights @ V  # (d_head,)
    top = np.argsort(-weights, kind="stable")[:TOP_FRAMES]
    return ListeningMath(
        layer=layer, head=head, row=row, frame=frame, token_id=reading.ids[row], d_head=d_head, scaling=scaling,
        q=q, k=K[frame], v=V[frame], K=K, V=V, score=float(scores[frame]), scores=scores,
        weight=float(weights[frame]), weights=weights, model_weight=float(model_weights[frame]),
        model_weights=model_weights, context=context, top_frames=tuple(int(f) for f in top),
    )


def cross_attention_math(model, processor, audio: np.ndarray, ids: list[int], layer: int, head: int, row: int,
                         frame: int, features: torch.Tensor | None = None) -> ListeningMath:
    """Recompute softmax(q K^T / sqrt(d_head)) for one decoder row and report the model's own weight beside it.

    ids: the full decoder input, prompt + text + end-of-text (as `whisper.transcribe` reruns it); row: a position
    in `ids` (`Transcript.row_of(i)` is the row that predicts text token i); frame: an encoder frame, 0..1499.
    features: the (1, 80, 3000) log-mel when the caller already has it (else computed from `audio`).
    One call = `read_decoder` + `math_from`; a page keeps the reading and calls `math_from` per choice."""
    _check("layer", layer, model.config.decoder_layers)
    _check("head", head, model.config.decoder_attention_heads)
    _check("row", row, max(len(ids), 1))
    _check("frame", frame, whisper.WINDOW_FRAMES)
    return math_from(model, read_decoder(model, processor, audio, ids, features), layer, head, row, frame)
