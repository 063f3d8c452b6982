import numpy as np
import pytest
from PIL import Image

from core.concepts import early_fusion
from core.inputs import images
from tests.models import bundled


@pytest.mark.parametrize("size", [(64, 64), (96, 64), (64, 160)])
def test_blocks_match_token_counts_and_rows_sum_to_one(size):
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", size, "gray"), "what color is the circle?")
    seq = result.n_text + result.n_image
    assert result.attentions.shape[-2:] == (seq, seq) and len(result.tokens) == seq
    rows, cols = result.grid
    assert result.n_image == rows * cols + 1  # every patch once, plus the image CLS
    assert sorted(map(tuple, result.patch_positions)) == [(r, c) for r in range(rows) for c in range(cols)]
    blocks = result.blocks(result.attentions[0, 0])
    t, i = result.n_text, result.n_image
    assert [b.shape for _, b in blocks.named()] == [(t, t), (t, i), (i, t), (i, i)]
    assert np.allclose(result.attentions.sum(axis=-1), 1.0, atol=1e-5)


def test_the_four_blocks_reassemble_the_joint_matrix():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (96, 64), "gray"), "what color is it?")
    matrix = result.attentions[-1, -1]  # (S, S), text tokens first
    blocks = result.blocks(matrix)
    rebuilt = np.block([[blocks.text_text, blocks.text_image], [blocks.image_text, blocks.image_image]])
    assert np.array_equal(rebuilt, matrix)
    assert np.array_equal(blocks.reassembled(), matrix)  # no token lost, none counted twice, none in another block


def test_answers_come_from_the_model_and_match_a_plain_forward():
    vilt = bundled("fusion")
    name = "shapes: two objects"
    scene = images.sample_scene(name)
    image = images.load_image(images.sample_png(name))
    question = f"what color is the {scene.objects[0].shape}?"
    result = early_fusion.fuse(vilt.model, vilt.processor, image, question)
    plain = vilt.model(**vilt.processor(images=image, text=question, return_tensors="pt"))
    assert result.answer == vilt.model.config.id2label[int(plain.logits.argmax())]
    assert result.answer == scene.objects[0].color
    assert len(result.top_answers) == 5 and result.top_answers[0][1] >= result.top_answers[-1][1]


def test_reading_order_puts_patches_row_by_row_and_keeps_the_text_first():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (64, 64), "gray"), "how many objects?")
    order = result.reading_order()
    assert sorted(order) == list(range(len(result.tokens)))
    assert list(order[: result.n_text + 1]) == list(range(result.n_text + 1))
    rows, cols = result.grid
    patch_labels = [result.tokens[i] for i in order[result.n_text + 1:]]
    assert patch_labels == [f"p({r},{c})" for r in range(rows) for c in range(cols)]


def test_cross_modal_mass_arithmetic_on_a_hand_made_tensor():
    # 2 text tokens, 3 image tokens, 1 layer, 2 heads
    head0 = np.array([
        [0.5, 0.1, 0.2, 0.1, 0.1],   # text query: 0.4 on the image
        [0.0, 1.0, 0.0, 0.0, 0.0],   # text query: 0.0 on the image
        [0.3, 0.3, 0.4, 0.0, 0.0],   # image query: 0.6 on the text
        [0.0, 0.0, 0.0, 1.0, 0.0],   # image query: 0.0 on the text
        [0.1, 0.2, 0.0, 0.0, 0.7],   # image query: 0.3 on the text
    ])
    head1 = np.full((5, 5), 0.2)
    mass = early_fusion.cross_modal_mass(np.stack([head0, head1])[None], n_text=2)
    assert np.allclose(mass.text_to_image, [[0.2, 0.6]])
    assert np.allclose(mass.image_to_text, [[0.3, 0.4]])


def test_token_and_patch_views_use_the_patch_index_not_the_stream_order():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (64, 64), "gray"), "what color is it?")
    matrix = result.attentions[0, 0]
    grid = result.text_to_patches(matrix, 1)
    r, c = result.patch_positions[5]
    assert grid[r, c] == matrix[1, result.n_text + 1 + 5]
    assert np.allclose(result.patch_to_text(matrix, r, c), matrix[result.n_text + 1 + 5, : result.n_text])
    assert np.isclose(grid.sum(), matrix[1, result.n_text + 1:].sum())


@pytest.mark.parametrize("row,col", [(2, 5), (7, 0)])
def test_the_one_bright_patch_is_found_at_its_row_and_col_whatever_vilt_shuffles(row, col):
    """ViLT shuffles its image tokens on every forward. Find the token that carries the only non-grey patch by its
    content (its patch projection), and check fuse's patch_positions put that token at the patch's (row, col)."""
    import torch

    vilt = bundled("fusion")
    pixels = np.full((64, 64, 3), 128, np.uint8)
    pixels[row * 8:(row + 1) * 8, col * 8:(col + 1) * 8] = (250, 30, 30)
    image = Image.fromarray(pixels)
    inputs = vilt.processor(images=image, text="what color is it?", return_tensors="pt")
    token_slots = set()
    for seed in range(4):
        torch.manual_seed(seed)
        result = early_fusion.fuse(vilt.model, vilt.processor, image, "what color is it?")
        torch.manual_seed(seed)  # the same shuffle again, to read each token's content
        with torch.no_grad():
            tokens, _, _ = vilt.model.vilt.embeddings.visual_embed(
                inputs.pixel_values, inputs.pixel_mask, max_image_length=vilt.model.config.max_image_length)
        patches = tokens[0, 1:]  # (64, d) in stream order; grey patches differ only by their position embedding
        carrier = int((patches - patches.median(dim=0).values).norm(dim=1).argmax())  # found by content alone
        assert tuple(result.patch_positions[carrier]) == (row, col)
        token_slots.add(carrier)
    assert len(token_slots) > 1  # the bright patch really sat at different stream positions


def test_stream_rows_list_every_token_with_its_modality_and_position():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (64, 64), "gray"), "what color is it?")
    rows = result.stream_rows()
    assert len(rows) == result.n_text + result.n_image
    assert [r.token_type for r in rows] == [0] * result.n_text + [1] * result.n_image
    r, c = result.patch_positions[3]
    assert rows[result.n_text + 1 + 3].position == f"({r}, {c})"


def test_text_to_patch_maps_put_vilts_shuffled_patches_back_in_reading_order():
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (96, 64), "gray"), "what color is it?")
    maps = result.text_to_patch_maps()
    assert maps.queries == result.tokens[: result.n_text] and maps.patches is result.patches
    maps = maps.weights  # (L, H, T, N)
    rows, cols = result.grid
    assert maps.shape == (*result.attentions.shape[:2], result.n_text, rows * cols)
    matrix = result.attentions[-1, -1]
    for token in range(result.n_text):  # the same as the page's per-token grid, which places patches by position
        assert np.array_equal(maps[-1, -1, token].reshape(rows, cols), result.text_to_patches(matrix, token))


def test_patch_to_text_maps_are_each_patchs_row_over_the_words_in_reading_order():
    """Image -> text: the queries are the patches (reading order, ViLT's shuffle undone), the keys the text tokens;
    row p(r,c) is the token that carries patch (r, c) reading the words, as the page's per-patch bars read it."""
    vilt = bundled("fusion")
    result = early_fusion.fuse(vilt.model, vilt.processor, Image.new("RGB", (96, 64), "gray"), "what color is it?")
    maps = result.patch_to_text_maps()
    rows, cols = result.grid
    assert maps.grid_side == "queries" and maps.patches is result.patches
    assert maps.queries == result.patches.labels() and maps.keys == result.tokens[: result.n_text]
    assert maps.weights.shape == (*result.attentions.shape[:2], rows * cols, result.n_text)
    order = result.reading_order()  # the page's joint matrix in reading order: its image -> text block, CLS dropped
    for layer, head in [(0, 0), (-1, -1), (1, 2)]:
        joint = result.attentions[layer, head][np.ix_(order, order)]
        np.testing.assert_array_equal(maps.weights[layer, head], joint[result.n_text + 1:, : result.n_text])
    matrix = result.attentions[-1, -1]
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        np.testing.assert_array_equal(maps.weights[-1, -1, index], result.patch_to_text(matrix, r, c))
    assert not np.array_equal(result.patch_positions[:, 0] * cols + result.patch_positions[:, 1],
                              np.arange(rows * cols))  # ViLT did shuffle: reading order was work to restore
    text_maps = result.text_to_patch_maps()  # the two directions are different blocks of the same matrix
    assert not np.allclose(maps.weights.transpose(0, 1, 3, 2), text_maps.weights)
    word = 1  # key_on_grid: how much each patch looked at one word, placed on the grid
    np.testing.assert_array_equal(maps.key_on_grid(word, 3, 1), maps.weights[3, 1, :, word].reshape(rows, cols))
    with pytest.raises(ValueError, match="queries are not image patches"):
        text_maps.key_on_grid(word, 0, 0)
    with pytest.raises(ValueError, match="keys are not image patches"):
        maps.on_grid(0, 0, 0)
