"""The four explanation methods (core/analysis/relevancy.py) for ViLT's early fusion: one joint stream.

ViLT runs one self-attention stack over [text tokens | image CLS | image patches]: there is no cross-attention, so
a text token reads the image through the text->image block of the joint (S, S) maps. Per question token t, one score
per patch, the patches put back in reading order (ViLT shuffles them on every forward; core/models/vilt.py keeps the
order of this forward, which is not the page's forward's order):

- raw: the joint attention of one layer and head, row t, the image-patch columns.
- rollout: Abnar & Zuidema over the whole stream (core.attention.rollout: prod_l rownorm(0.5 Abar_l + 0.5 I)), row t.
- grad_x_attention: E_h[(dA/dy * A)^+] of one layer (last by default), row t; y = the answer's VQA logit.
- chefer: Chefer et al. 2021's rule for self-attention alone (relevancy.joint_relevancy: R = I, R += Abar_l R for
  every layer), row t, same y. It answers "which patches is the answer's logit relevant to, as seen through token
  t's row"; ViLT's answer is read from the pooled first token ([CLS]), so its row is the model's own read-out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.analysis.relevancy import attention_gradients, joint_relevancy, layer_cam
from core.attention import HEAD_MEAN, select
from core.attention.patch_grid import PatchGrid
from core.attention.rollout import rollout
from core.concepts.patching import model_image
from core.models import vilt


@dataclass
class FusionExplanations:
    """One question through ViLT with its gradients, every map already read at the text rows and the image-patch
    columns, patches in reading order (row-major over `patches`).

    answer: the answer explained (the top VQA label); score: sigmoid of its logit, the target's own scale.
    tokens: (T,) text tokens. attentions: (L, H, T, N) raw text->patch attention. cams: (L, T, N) E_h[(dA * A)^+]
    per layer. rollout, chefer: (T, N). N = rows * cols of `patches`; a patch ViLT dropped (none with
    max_image_length -1) scores 0.
    """

    answer: str
    score: float
    tokens: list[str]
    patches: PatchGrid
    attentions: np.ndarray
    cams: np.ndarray
    rollout: np.ndarray
    chefer: np.ndarray

    def grad_x_attention(self, layer: int | str = -1) -> np.ndarray:
        """(T, N) one layer's E_h[(dA * A)^+] (LAYER_MEAN: averaged over the layers)."""
        return layer_cam(self.cams, layer)

    def maps(self, layer: int | str = -1, head: int | str = HEAD_MEAN) -> dict[str, np.ndarray]:
        """method -> (T, N); layer and head choose the raw map, layer the gradient x attention one."""
        return {"raw": select(self.attentions, layer, head), "rollout": self.rollout,
                "grad_x_attention": self.grad_x_attention(layer), "chefer": self.chefer}


def text_to_patches(stream: np.ndarray, n_text: int, positions: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(..., S, S) joint maps -> (..., n_text, rows * cols): the text rows, the patch columns in reading order.
    positions: (n_patch_tokens, 2) the (row, col) of each image patch token in stream order."""
    first_patch = n_text + vilt.IMAGE_TOKENS.n_prefix
    rows, cols = grid
    out = np.zeros((*stream.shape[:-2], n_text, rows * cols), dtype=stream.dtype)
    out[..., positions[:, 0] * cols + positions[:, 1]] = stream[..., :n_text, first_patch:]  # scatter by patch_index
    return out


def explain(vilt_model, processor, image: Image.Image, question: str, answer_index: int | None = None
            ) -> FusionExplanations:
    """One grad-enabled forward of the joint stream, y = the VQA logit of `answer_index` (the top answer when
    None); torch.autograd.grad w.r.t. every layer's (1, H, S, S) attention (nothing accumulates in .grad)."""
    inputs = processor(images=image, text=question, return_tensors="pt", truncation=True)
    with torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():  # embeddings hold no attention: no gradient needed through them
            image_embeds, image_mask, (patch_index, (rows, cols)) = vilt_model.vilt.embeddings.visual_embed(
                inputs.pixel_values, inputs.pixel_mask, max_image_length=vilt_model.config.max_image_length)
        out = vilt_model(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                         token_type_ids=inputs.token_type_ids, image_embeds=image_embeds, pixel_mask=image_mask,
                         output_attentions=True)
        if out.attentions is None:
            raise RuntimeError("ViLT returned no attention maps: load it with eager attention")
        logits = out.logits[0]  # (labels,)
        index = int(logits.argmax()) if answer_index is None else answer_index
        attentions, gradients = attention_gradients(logits[index], out.attentions)  # (L, H, S, S) each
    n_text = inputs.input_ids.shape[1]
    positions = patch_index[0].numpy()  # (n, 2) this forward's order
    on_patches = lambda stream: text_to_patches(stream, n_text, positions, (rows, cols))  # noqa: E731
    cams = np.clip(gradients * attentions, 0, None).mean(axis=1)  # (L, S, S) eq. 5 per layer
    return FusionExplanations(
        answer=vilt_model.config.id2label[index],
        score=float(torch.sigmoid(logits[index].detach())),
        tokens=processor.tokenizer.convert_ids_to_tokens(inputs.input_ids[0]),
        patches=PatchGrid(model_image(inputs.pixel_values, processor.image_processor), vilt.patch_size(vilt_model),
                          rows, cols),
        attentions=on_patches(attentions),
        cams=on_patches(cams),
        rollout=on_patches(rollout(attentions)),
        chefer=on_patches(joint_relevancy(attentions, gradients)),
    )
