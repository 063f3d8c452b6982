"""The cross-attention formula with real numbers, recomputed in numpy from one layer's own weights and inputs.

For question token t and head h of BLIP's question encoder, layer l:

    q = x_t W_q + b_q              x_t: the token's hidden state entering the cross-attention   (d,)
    K = E W_k + b_k,  V = E W_v + b_v       E: the vision tower's output, CLS + patches         (1+N, d_img)
    scores = q_h K_h^T / sqrt(d_k)          one score per image token                            (1+N,)
    weights = softmax(scores)               what the model reports as cross-attention            (1+N,)
    context_h = weights V_h                 the token's context vector from this head            (d_k,)
    out_t = LayerNorm(x_t + concat_h(context_h) W_o + b_o)   the residual combine with the text stream

`math_from_encoding` returns every one of those arrays and how far the numpy weights are from the model's own,
from one question-encoder forward (core.models.blip.encode_question) reused for any layer, head and token.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.models import blip


@dataclass
class CrossAttentionMath:
    """One (layer, head, token) of BLIP's question-encoder cross-attention, step by step.

    x: (d,) token state entering the block; E: (1+N, d_img) image tokens; q: (d_k,); K, V: (1+N, d_k);
    scores, weights, model_weights: (1+N,); context: (d_k,) this head's; context_all_heads: (d,);
    out: (d,) after the output projection, the residual add and LayerNorm; model_out: (d,) the model's own.
    """

    layer: int
    head: int
    token: str
    d_k: int
    x: np.ndarray
    E: np.ndarray
    q: np.ndarray
    K: np.ndarray
    V: np.ndarray
    scores: np.ndarray
    weights: np.ndarray
    context: np.ndarray
    context_all_heads: np.ndarray
    out: np.ndarray
    model_weights: np.ndarray
    model_out: np.ndarray

    @property
    def max_abs_difference(self) -> float:
        """Largest gap between the numpy softmax row and the attention the model reported."""
        return float(np.abs(self.weights - self.model_weights).max())


def _linear(x: np.ndarray, layer: torch.nn.Linear) -> np.ndarray:
    return x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


QuestionEncoding = blip.QuestionEncoding  # one forward of the question encoder: core/models/blip.py
encode = blip.encode_question  # (vqa_model, processor, image, question) -> QuestionEncoding


@torch.inference_mode()
def math_from_encoding(vqa_model, encoding: QuestionEncoding, layer: int, head: int,
                       token_index: int) -> CrossAttentionMath:
    block = blip.cross_attention_layer(vqa_model, layer)
    image_embeds = torch.from_numpy(encoding.image_embeds)[None]  # (1, 1+N, d_img)
    # The cross-attention reads the output of the layer's self-attention sublayer (one question, no padding).
    x_all = block.attention(torch.from_numpy(encoding.hidden_states[layer])[None])[0]  # (1, T, d)
    model_out = block.crossattention(x_all, encoder_hidden_states=image_embeds)[0][0, token_index].numpy()

    attention = block.crossattention.self
    n_heads, d_k = attention.num_attention_heads, attention.attention_head_size
    x = x_all[0].numpy()  # (T, d)
    E = encoding.image_embeds  # (1+N, d_img)
    Q = _linear(x, attention.query).reshape(len(x), n_heads, d_k)  # (T, heads, d_k)
    K = _linear(E, attention.key).reshape(len(E), n_heads, d_k)  # (1+N, heads, d_k)
    V = _linear(E, attention.value).reshape(len(E), n_heads, d_k)
    scores = np.einsum("hd,nhd->hn", Q[token_index], K) / np.sqrt(d_k)  # (heads, 1+N)
    weights = _softmax(scores)
    contexts = np.einsum("hn,nhd->hd", weights, V)  # (heads, d_k)
    context_all = contexts.reshape(-1)  # (d,)
    output = block.crossattention.output
    projected = _linear(context_all, output.dense) + x[token_index]  # the residual connection
    mean, var = projected.mean(), projected.var()
    out = (projected - mean) / np.sqrt(var + output.LayerNorm.eps) * output.LayerNorm.weight.numpy() + \
        output.LayerNorm.bias.numpy()
    return CrossAttentionMath(
        layer=layer, head=head, token=encoding.tokens[token_index],
        d_k=d_k, x=x[token_index], E=E, q=Q[token_index, head], K=K[:, head], V=V[:, head],
        scores=scores[head], weights=weights[head], context=contexts[head], context_all_heads=context_all, out=out,
        model_weights=encoding.cross_attentions[layer, head, token_index], model_out=model_out,
    )
