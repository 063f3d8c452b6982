from core.concepts import fusion_designs
from core.inputs import images
from tests.models import bundled


def test_three_designs_are_measured_on_the_same_input():
    image = images.load_image(images.sample_png("shapes: two objects"))
    text = "what color is the circle?"
    costs = [fusion_designs.late_fusion(bundled("clip"), image, text, repeats=1),
             fusion_designs.cross_attention_fusion(bundled("vqa"), image, text, repeats=1),
             fusion_designs.early_fusion(bundled("fusion"), image, text, repeats=1)]
    late, cross, early = costs
    assert [c.design for c in costs] == ["late fusion", "cross-attention", "early fusion"]
    assert all(c.gflops > 0 and c.latency_ms > 0 for c in costs)
    from core.concepts import cross_attention

    vqa = bundled("vqa")
    assert cross.answer == cross_attention.ask(vqa.model, vqa.processor, image, text).answer
    assert late.answer.startswith("cosine ") and "%" in early.answer
    assert late.image_tokens == cross.image_tokens == early.image_tokens == 65  # 64 patches + CLS in each
    s = early.text_tokens + early.image_tokens
    assert early.attention_entries == 4 * 4 * s * s  # 4 layers x 4 heads of the joint S x S matrix
    t, n = cross.text_tokens, cross.image_tokens
    assert cross.attention_entries == 3 * 4 * n * n + 2 * 4 * (t * t + t * n)


def test_audio_frames_join_the_joint_sequence_quadratically():
    one = fusion_designs.joint_sequence(8, 65, 1.0)
    two = fusion_designs.joint_sequence(8, 65, 2.0)
    assert one.audio == 50 and one.joint == 8 + 65 + 50
    assert two.attention_entries == (8 + 65 + 100) ** 2
