"""Four ways to say which patches a question token used, side by side, for BLIP's VQA question encoder.

The question encoder is a BERT: every layer l self-attends over the T question tokens (A_self_l: heads x T x T),
then cross-attends to the image tokens [CLS, patches row-major] (A_cross_l: heads x T x (1 + N)). The answer decoder
only reads the encoded question. Each method gives, per question token t, one score per patch (the CLS key is
dropped at the end with blip.IMAGE_TOKENS):

- raw: A_cross of one layer and head (or their mean), as the rest of the page shows it.
- rollout: how the cross-attention reaches the encoder's output (Abnar & Zuidema's residual rule on the text side):
  R = 1/L sum_l P_l Abar_cross_l, where Abar_cross_l is layer l's cross-attention averaged over heads and
  P_l = M_{L-1} ... M_{l+1} (identity for the last layer), M_k = row-normalised 0.5 * Abar_self_k + 0.5 * I: what
  layer l wrote into token s is carried to token t by the later layers' self-attention. Rows sum to 1 over the
  1 + N keys before CLS is dropped. No gradient: it ignores the answer.
- grad_x_attention: Grad-CAM on the cross-attention of one layer (last by default): E_h[(dA/dy * A)^+], y =
  log P(answer | image, question), the answer's tokens teacher-forced through the answer decoder.
- chefer: Chefer, Gur & Wolf, ICCV 2021 ("Generic Attention-model Explainability for Interpreting Bi-Modal and
  Encoder-Decoder Transformers"), gradient-weighted relevancy propagation, same y. Equations implemented:
  (5) Abar = E_h[(grad A * A)^+] for every attention map;
  R_tt = I, R_ti = 0 initially; then for each encoder layer, in the model's order (self-attention, then cross):
  (6) R_tt += Abar_self R_tt, (7) R_ti += Abar_self R_ti;
  (8, 9) Rbar_xx = rownorm(R_xx - I) + I (a row of R_xx - I that sums to 0 stays 0);
  (10) R_ti += Rbar_tt^T Abar_cross Rbar_ii;
  (11) R_tt += Abar_cross R_it is zero here: image tokens never attend to the text in BLIP (R_it = 0).
  R_ii is left as the identity: the vision tower's own self-attention relevancy is not propagated (its forward runs
  without gradient), so Rbar_ii = I. The map of token t is row t of R_ti.

The same rules serve every text stack whose layers are self-attention then cross-attention to another modality's
tokens: BLIP's caption decoder (core/analysis/relevancy_caption.py) and Whisper's decoder over the audio frames
(relevancy_listening.py) call `text_rollout`, `chefer_relevancy` and `attention_gradients` as they are. A single
stream with no cross-attention (ViLT, relevancy_fusion.py) has only Chefer's self-attention rule:
`joint_relevancy`, R = I, then R += Abar_l R for every layer l (eq. 6 with the image tokens inside the stream).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.attention import HEAD_MEAN, LAYER_MEAN, select
from core.models import blip

METHODS = ("raw", "rollout", "grad_x_attention", "chefer")
METHOD_CLAIMS = {
    "raw": "Where this token's query put its weight in one layer and head: what it read, not what the answer used.",
    "rollout": "Cross-attention carried through the later text self-attention to the encoder's output; answer-blind.",
    "grad_x_attention": "Attention weights whose increase would raise the answer's log-probability (one layer).",
    "chefer": "Gradient-weighted attention propagated through every layer's self- and cross-attention (Chefer 2021).",
}
METHOD_TITLES = {"raw": "Raw attention", "rollout": "Rollout", "grad_x_attention": "Gradient x attention",
                 "chefer": "Chefer relevancy"}


def head_cam(attention: np.ndarray, gradient: np.ndarray) -> np.ndarray:
    """Chefer's eq. (5): (heads, Q, K) attention and its gradient -> (Q, K) E_h[(gradient * attention)^+]."""
    return np.clip(gradient * attention, 0, None).mean(axis=0)


def _normalised_residual(relevancy: np.ndarray) -> np.ndarray:
    """Eqs. (8, 9): (S, S) -> Rbar = rownorm(R - I) + I; a row of R - I summing to 0 stays 0 (no 0 / 0)."""
    hat = relevancy - np.eye(len(relevancy))
    sums = hat.sum(axis=-1, keepdims=True)
    return np.divide(hat, sums, out=np.zeros_like(hat), where=sums > 0) + np.eye(len(relevancy))


def self_attention_rule(r_tt: np.ndarray, r_ti: np.ndarray, cam_self: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eqs. (6, 7): cam_self (T, T); r_tt (T, T); r_ti (T, K) -> the updated pair."""
    return r_tt + cam_self @ r_tt, r_ti + cam_self @ r_ti


def cross_attention_rule(r_tt: np.ndarray, r_ti: np.ndarray, cam_cross: np.ndarray,
                         r_ii: np.ndarray | None = None) -> np.ndarray:
    """Eq. (10): cam_cross (T, K); r_ii (K, K), the identity when None -> r_ti + Rbar_tt^T cam_cross Rbar_ii."""
    added = _normalised_residual(r_tt).T @ cam_cross  # (T, K)
    return r_ti + (added if r_ii is None else added @ _normalised_residual(r_ii))


def chefer_relevancy(self_attentions: np.ndarray, self_gradients: np.ndarray, cross_attentions: np.ndarray,
                     cross_gradients: np.ndarray) -> np.ndarray:
    """(L, H, T, T) self and (L, H, T, K) cross attentions with their gradients -> (T, K) R_ti."""
    n_tokens, n_keys = cross_attentions.shape[-2:]
    r_tt, r_ti = np.eye(n_tokens), np.zeros((n_tokens, n_keys))
    for a_self, g_self, a_cross, g_cross in zip(self_attentions, self_gradients, cross_attentions, cross_gradients):
        r_tt, r_ti = self_attention_rule(r_tt, r_ti, head_cam(a_self, g_self))
        r_ti = cross_attention_rule(r_tt, r_ti, head_cam(a_cross, g_cross))
    return r_ti


def joint_relevancy(attentions: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Chefer's rule for a single self-attention stream: (L, H, S, S) attentions and their gradients -> (S, S)
    R = I, then R += Abar_l R layer by layer (Abar_l = head_cam, eq. 5). Row t: how relevant each input token is to
    output token t, for the target the gradients were taken of."""
    relevancy = np.eye(attentions.shape[-1])
    for attention, gradient in zip(attentions, gradients):
        relevancy = relevancy + head_cam(attention, gradient) @ relevancy  # (S, S) @ (S, S)
    return relevancy


def attention_gradients(target: torch.Tensor, self_maps, cross_maps=()) -> tuple[np.ndarray, ...]:
    """torch.autograd.grad of the scalar `target` w.r.t. per-layer (1, H, Q, K) attention maps (kept in the graph
    by an eager forward) -> (self attentions, their gradients[, cross attentions, their gradients]), each
    (L, H, Q, K) float32 for one batch item. Nothing accumulates in the (shared) model's .grad."""
    maps = [*self_maps, *cross_maps]
    gradients = torch.autograd.grad(target, maps, allow_unused=True)
    as_array = lambda tensors: torch.stack([t[0].detach() for t in tensors]).numpy()  # noqa: E731 - (L, H, Q, K)
    gradients = [torch.zeros_like(m) if g is None else g for m, g in zip(maps, gradients)]
    n_self = len(self_maps)
    out = (as_array(maps[:n_self]), as_array(gradients[:n_self]))
    return out if not cross_maps else (*out, as_array(maps[n_self:]), as_array(gradients[n_self:]))


def layer_cam(cams: np.ndarray, layer: int | str) -> np.ndarray:
    """(L, ...) per-layer E_h[(dA * A)^+] -> one layer's, or their mean over layers for LAYER_MEAN."""
    return cams.mean(axis=0) if layer == LAYER_MEAN else cams[int(layer)]


def text_rollout(self_attentions: np.ndarray, cross_attentions: np.ndarray) -> np.ndarray:
    """(L, H, T, T) self- and (L, H, T, K) cross-attention -> (T, K): R = 1/L sum_l P_l Abar_cross_l (module doc)."""
    n_layers, n_tokens = self_attentions.shape[0], self_attentions.shape[-1]
    carried = np.eye(n_tokens)  # P_l, built from the last layer backwards
    total = np.zeros(cross_attentions.shape[-2:])
    for layer in reversed(range(n_layers)):
        total += carried @ cross_attentions[layer].mean(axis=0)  # (T, T) @ (T, K)
        mixed = 0.5 * self_attentions[layer].mean(axis=0) + 0.5 * np.eye(n_tokens)  # the residual keeps half
        carried = carried @ (mixed / mixed.sum(axis=-1, keepdims=True))
    return total / n_layers


@dataclass
class Explanations:
    """Everything the four methods need, from one forward and one backward pass.

    answer: the answer explained; probability: P(answer | image, question), teacher-forced (as
    faithfulness.answer_probability). tokens: (T,) question tokens. The caption and listening adapters fill the same
    fields for one written token: answer = that token, probability = P(token | input, tokens before it), tokens =
    the written tokens, N = image patches or audio frames.
    cross_attentions, cross_gradients: (L, H, T, N) cross-attention on the patches (CLS key dropped) and
    d log P(answer) / d A. rollout, chefer: (T, N).
    """

    answer: str
    probability: float
    tokens: list[str]
    cross_attentions: np.ndarray
    cross_gradients: np.ndarray
    rollout: np.ndarray
    chefer: np.ndarray

    def grad_x_attention(self, layer: int | str = -1) -> np.ndarray:
        """(T, N) E_h[(dA * A)^+] of one layer (LAYER_MEAN: averaged over the layers)."""
        return layer_cam(np.clip(self.cross_gradients * self.cross_attentions, 0, None).mean(axis=1), layer)

    def maps(self, layer: int | str = -1, head: int | str = HEAD_MEAN) -> dict[str, np.ndarray]:
        """method -> (T, N). layer and head choose the raw map; layer also chooses gradient x attention's (its
        heads are always folded by E_h of the positive part); rollout and Chefer use every layer and head."""
        return {"raw": select(self.cross_attentions, layer, head), "rollout": self.rollout,
                "grad_x_attention": self.grad_x_attention(layer), "chefer": self.chefer}


def answer_ids(model, processor, answer: str) -> list[int]:
    """The answer's token ids, as faithfulness.answer_probability scores it; [SEP] alone for an empty answer (the
    decoder stopping at once is then what is explained)."""
    return processor.tokenizer(answer, add_special_tokens=False).input_ids or [model.config.text_config.sep_token_id]


def explain(vqa_model, processor, image: Image.Image, question: str, answer: str) -> Explanations:
    """One grad-enabled forward: vision tower (no grad: R_ii stays the identity) -> question encoder (eager
    attention, its self- and cross-attention maps kept in the graph) -> answer decoder teacher-forced on the answer;
    torch.autograd.grad of y = log P(answer) w.r.t. every attention map (nothing accumulates in the shared model's
    .grad, so concurrent sessions are safe)."""
    inputs = blip.question_inputs(processor, image, question)
    ids = answer_ids(vqa_model, processor, answer)
    with torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():
            image_embeds = blip.vision_embeds(vqa_model, inputs.pixel_values)  # (1, 1 + N, d_img)
        encoded = vqa_model.text_encoder(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                         encoder_hidden_states=image_embeds, output_attentions=True)
        if encoded.attentions is None or encoded.cross_attentions is None:
            raise RuntimeError("BLIP's text encoder returned no attention maps: load it with eager attention")
        decoder_ids = torch.tensor([[vqa_model.decoder_start_token_id] + ids])  # (1, 1 + A)
        logits = vqa_model.text_decoder(input_ids=decoder_ids,
                                        encoder_hidden_states=encoded.last_hidden_state).logits  # (1, 1 + A, V)
        log_probs = torch.log_softmax(logits[0, :-1], dim=-1)  # position a predicts token a + 1
        target = log_probs[torch.arange(len(ids)), torch.tensor(ids)].sum()
        # each (1, H, T, T) and (1, H, T, 1 + N) -> (L, H, T, T), (L, H, T, 1 + N) with their gradients
        self_a, self_g, cross_a, cross_g = attention_gradients(target, encoded.attentions, encoded.cross_attentions)
    patches = blip.IMAGE_TOKENS.patches
    return Explanations(
        answer=answer,
        probability=float(torch.exp(target.detach())),
        tokens=processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0]),
        cross_attentions=patches(cross_a),
        cross_gradients=patches(cross_g),
        rollout=patches(text_rollout(self_a, cross_a)),
        chefer=patches(chefer_relevancy(self_a, self_g, cross_a, cross_g)),
    )
