"""The four explanation methods (core/analysis/relevancy.py) for one token of a Whisper transcript.

Whisper's decoder layers do causal self-attention over prompt + text (T x T), then cross-attend to the encoder's
1500 audio frames of 20 ms (T x 1500): the encoder-decoder layout of Chefer et al. 2021, so the same rules apply
(relevancy.text_rollout, relevancy.chefer_relevancy). The encoder's own self-attention relevancy R_ff is left as the
identity (the encoder runs without gradient): a frame's relevancy is what the decoder read from that frame's
encoder output, not which input sounds went into it. Target: y = log P(token i | audio, prompt, tokens before i),
teacher-forced (the model's raw distribution, before generate's suppressed tokens); the explained row is the
decoder position that predicts token i (len(prompt) - 1 + i, as core.concepts.listening.Listening.decoder_row).
Everything is trimmed to the clip's frames at the end, so a row sums to <= 1 as the page's cross-attention does.
"""
from __future__ import annotations

import numpy as np
import torch

from core.analysis.relevancy import Explanations, attention_gradients, chefer_relevancy, text_rollout
from core.models import whisper


def explain_token(model, processor, audio: np.ndarray, decoder_ids: list[int], n_prompt: int, token: int,
                  frames: int) -> Explanations:
    """decoder_ids: prompt + text (+ end-of-text), as Listening.decoder_ids; n_prompt: the prompt's length; token:
    the text token explained (0-based in the text); frames: the clip's encoder frames, kept as the keys.

    Returns Explanations with one row per text token (rows of the text, as Listening.cross_attention) and one
    column per frame; the gradient methods' row `token` is the one explained."""
    n_text = len(decoder_ids) - n_prompt - (1 if decoder_ids[-1] == model.generation_config.eos_token_id else 0)
    if not 0 <= token < n_text:
        raise ValueError(f"token {token} is outside the transcript's {n_text} text tokens")
    features = whisper.input_features(processor, np.asarray(audio, dtype=np.float32))  # (1, 80, 3000)
    ids = torch.tensor([decoder_ids])  # (1, T)
    row = n_prompt - 1 + token  # the position whose output predicts text token `token`
    with torch.inference_mode(False), torch.enable_grad():
        with torch.no_grad():
            encoded = model.get_encoder()(features)  # (1, 1500, d): R_ff = I
        out = model(encoder_outputs=encoded, decoder_input_ids=ids, output_attentions=True)
        if out.decoder_attentions is None or out.cross_attentions is None:
            raise RuntimeError("Whisper returned no attention maps: load it with attn_implementation='eager'")
        target = torch.log_softmax(out.logits[0, row], dim=-1)[decoder_ids[row + 1]]
        # (L, H, T, T) causal self-attention and (L, H, T, 1500) cross-attention, with their gradients
        self_a, self_g, cross_a, cross_g = attention_gradients(target, out.decoder_attentions, out.cross_attentions)
    text_rows = slice(n_prompt - 1, n_prompt - 1 + n_text)
    on_clip = lambda m: np.ascontiguousarray(m[..., text_rows, :frames], dtype=np.float32)  # noqa: E731
    return Explanations(
        answer=processor.tokenizer.decode([decoder_ids[row + 1]]),
        probability=float(torch.exp(target.detach())),
        tokens=[processor.tokenizer.decode([i]) for i in decoder_ids[n_prompt:n_prompt + n_text]],
        cross_attentions=on_clip(cross_a),
        cross_gradients=on_clip(cross_g),
        rollout=on_clip(text_rollout(self_a, cross_a)),
        chefer=on_clip(chefer_relevancy(self_a, self_g, cross_a, cross_g)),
    )
