"""The role table and the family adapters (core/models/): the table agrees with the checkpoints' configs and with
the registry, and each adapter's bookkeeping (CLS position, patch grid, the one question-encoder forward) holds."""
import numpy as np
import pytest
import torch
from PIL import Image

from core import models
from core.attention import AttentionsMissing
from core.inputs import images
from core.models import blip, clip, registry, roles, vilt
from tests.models import bundled


def test_one_row_per_role_and_the_registry_reads_it():
    names = [r.name for r in roles.ROLE_TABLE]
    assert len(names) == len(set(names))
    assert registry.ROLES == ("clip", "vqa", "caption", "fusion")
    assert registry.OPTIONAL_ROLES == ("clip16", "vision", "listen", "listen_fast")
    for row in roles.ROLE_TABLE:
        assert registry.HUB_IDS[row.name] == row.hub_id == registry.spec("hub", row.name).source
        assert registry.MODEL_CLASSES[row.name] is row.model_class
        offline = row.offline.folder() if row.offline else registry.BUNDLED_DIR / row.bundled  # exactly one of them
        assert (row.offline is None) != (row.bundled is None)
        assert registry.spec("bundled", row.name).source == str(offline)
        assert row.family in models.FAMILIES
    with pytest.raises(ValueError, match="unknown role"):
        models.role("blip-large")


@pytest.mark.parametrize("row", roles.ROLE_TABLE, ids=lambda r: r.name)
def test_full_size_config_is_the_classes_own_and_max_tokens_is_its_text_limit(row):
    config = row.full_size()
    assert isinstance(config, row.model_class.config_class)
    if not row.has_text:  # a vision backbone: no text side
        assert row.max_tokens == 0
        return
    text_config = getattr(config, "text_config", config)
    limit = getattr(text_config, "max_position_embeddings", None) or text_config.max_target_positions  # Whisper's
    assert row.max_tokens == limit


@pytest.mark.parametrize("name,grid", [("clip", (7, 7)), ("clip16", (14, 14)), ("vqa", (24, 24)),
                                       ("caption", (24, 24))])
def test_full_size_processor_gives_the_configs_patch_grid(name, grid):
    from bench import full_size

    config = full_size.config(name)
    pixels = full_size.processor(name).image_processor(images=Image.new("RGB", (300, 200)),
                                                        return_tensors="pt").pixel_values
    model = type("Stub", (), {"config": config})()  # the adapters read only the config for the grid
    assert models.adapter(name).grid(model, pixels) == grid


def test_image_tokens_drop_only_the_prefix():
    tokens = models.image_tokens("vqa")
    assert tokens.has_cls and tokens.cls_index == 0 and tokens.patch_token(0) == 1
    x = np.arange(2 * 5).reshape(2, 5)
    assert np.array_equal(tokens.patches(x), x[:, 1:]) and np.array_equal(tokens.patches(x, axis=0), x[1:])
    assert not models.ImageTokens(cls_index=None, n_prefix=0).has_cls


def test_one_question_encoding_serves_the_answer_the_maths_and_the_masking_test():
    from core.analysis import faithfulness
    from core.concepts import cross_attention

    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    question = "what color is the circle?"
    encoding = blip.encode_question(vqa.model, vqa.processor, image, question)
    n_layers = vqa.model.config.text_config.num_hidden_layers
    assert encoding.hidden_states.shape[0] == n_layers + 1 and encoding.cross_attentions.shape[0] == n_layers
    assert encoding.cross_attentions.shape[-1] == 1 + 8 * 8  # CLS + patches
    assert np.allclose(encoding.cross_attentions.sum(axis=-1), 1.0, atol=1e-5)
    fresh = cross_attention.ask(vqa.model, vqa.processor, image, question)
    reused = cross_attention.ask(vqa.model, vqa.processor, image, question, encoded=encoding)
    assert fresh.answer == reused.answer and np.array_equal(fresh.cross_attentions, reused.cross_attentions)
    p = faithfulness.answer_probability(vqa.model, vqa.processor, image, question, fresh.answer)
    ids = vqa.processor.tokenizer(fresh.answer, add_special_tokens=False).input_ids
    assert p == pytest.approx(float(torch.prod(blip.answer_token_probabilities(vqa.model, encoding.question_embeds,
                                                                                 ids))))


def test_a_missing_attention_fails_loudly(monkeypatch):
    vqa = bundled("vqa")
    image = images.load_image(images.sample_png("shapes: two objects"))
    real = vqa.model.text_encoder.forward

    def without_attentions(*args, **kwargs):
        out = real(*args, **kwargs)
        out.cross_attentions = None  # what an SDPA model returns
        return out

    monkeypatch.setattr(vqa.model.text_encoder, "forward", without_attentions)
    with pytest.raises(AttentionsMissing, match="eager"):
        blip.encode_question(vqa.model, vqa.processor, image, "what color is the circle?")


def test_caption_generates_then_reruns_for_one_attention_row_per_token():
    cap = bundled("caption")
    pixels = cap.processor(images=images.load_image(images.sample_png("shapes: two objects")),
                           return_tensors="pt").pixel_values
    generated = blip.caption(cap.model, pixels, max_new_tokens=6)
    assert generated.cross_attentions.shape[2] == len(generated.ids) == len(generated.new_ids) + 1
    assert generated.cross_attentions.shape[-1] == blip.IMAGE_TOKENS.n_prefix + np.prod(blip.grid(cap.model, pixels))


def test_vilt_forward_keeps_where_every_patch_token_came_from():
    fusion = bundled("fusion")
    inputs = fusion.processor(images=Image.new("RGB", (96, 64), "gray"), text="what color is it?",
                              return_tensors="pt")
    torch.manual_seed(0)
    joint = vilt.forward(fusion.model, inputs)
    rows, cols = joint.grid
    assert joint.n_image == vilt.IMAGE_TOKENS.n_prefix + len(joint.patch_positions)
    assert (joint.patch_positions[:, 0] < rows).all() and (joint.patch_positions[:, 1] < cols).all()
    assert joint.attentions.shape[-1] == inputs.input_ids.shape[1] + joint.n_image


def test_clip_positions_are_a_copy_without_the_cls_row():
    model = bundled("clip").model
    positions = clip.position_embeddings(model)
    weight = model.vision_model.embeddings.position_embedding.weight.detach().numpy()
    assert np.array_equal(positions, weight[1:]) and not np.shares_memory(positions, weight)


def test_only_the_registry_calls_from_pretrained():
    """One loading path: no adapter, concept or page loads a model or a processor by itself (remote code and
    pickles are checked over the same files by tests/core/models/test_registry.py)."""
    import ast

    def calls_from_pretrained(path) -> bool:
        return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                   and node.func.attr == "from_pretrained" for node in ast.walk(ast.parse(path.read_text())))

    root = registry.REPO_ROOT
    callers = sorted(str(path.relative_to(root)) for folder in ("core", "components", "pages")
                     for path in (root / folder).rglob("*.py") if calls_from_pretrained(path))
    # core/shapes/train.py starts a role from the checkpoint it has just trained itself (offline, never at run time)
    assert callers == ["core/models/registry.py", "core/shapes/train.py"], callers
