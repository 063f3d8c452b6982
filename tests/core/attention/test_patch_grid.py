"""The patch grid: patch index <-> pixels, clicks, boxes, object masks; and attention maps with their labels."""
import numpy as np
import pytest

from core.attention import select
from core.attention.maps import AttentionMaps
from core.attention.patch_grid import PatchGrid

IMAGE = np.arange(16 * 24 * 3, dtype=np.uint32).reshape(16, 24, 3).astype(np.uint8)
GRID = PatchGrid(IMAGE, 8, 2, 3)  # 2 rows x 3 cols of 8 px patches


def test_the_grid_must_tile_its_image():
    assert PatchGrid.of(IMAGE, 8).shape == (2, 3) and PatchGrid.of(IMAGE, 8).n_patches == 6
    with pytest.raises(ValueError, match="not 3x3 patches"):
        PatchGrid(IMAGE, 8, 3, 3)


def test_labels_boxes_and_pixels_follow_reading_order():
    assert GRID.labels() == ["p(0,0)", "p(0,1)", "p(0,2)", "p(1,0)", "p(1,1)", "p(1,2)"]
    assert GRID.box(5) == (16, 8, 24, 16)
    assert np.array_equal(GRID.pixels(4), IMAGE[8:16, 8:16])


def test_index_at_maps_a_click_on_the_shown_image_to_its_patch():
    grid = PatchGrid(np.zeros((64, 64, 3), np.uint8), 8, 8, 8)
    assert grid.index_at(0, 0, 320, 320) == 0
    assert grid.index_at(319, 319, 320, 320) == 63
    assert grid.index_at(45, 85, 320, 320) == 2 * 8 + 1  # row 2 (80-119 px), col 1 (40-79 px)
    assert grid.index_at(320, -3, 320, 320) == 7  # clamped to the grid
    assert GRID.index_at(100, 10, 150, 100) == 2  # shown at another size: x 100 of 150 is the third column


def test_on_grid_row_major_and_by_position():
    row = np.arange(6, dtype=float)
    assert np.array_equal(GRID.on_grid(row), [[0, 1, 2], [3, 4, 5]])
    positions = np.array([[1, 2], [0, 0], [1, 0], [0, 1], [0, 2], [1, 1]])  # a shuffled order (ViLT)
    placed = GRID.on_grid(row, positions)
    assert placed[1, 2] == 0 and placed[0, 0] == 1 and placed[1, 0] == 2 and placed[1, 1] == 5
    with pytest.raises(ValueError):
        GRID.on_grid(np.arange(9.0))


def test_coverage_is_the_covered_fraction_of_each_patch():
    grid = PatchGrid(np.zeros((8, 8, 3), np.uint8), 4, 2, 2)
    mask = np.zeros((8, 8), bool)
    mask[0:4, 0:4] = True  # exactly patch (0, 0)
    mask[4:6, 4:8] = True  # half of patch (1, 1)
    assert np.allclose(grid.coverage(mask), [[1, 0], [0, 0.5]])
    assert np.allclose(grid.coverage(np.kron(mask, np.ones((2, 2), bool))), [[1, 0], [0, 0.5]])  # a larger mask
    with pytest.raises(ValueError):
        PatchGrid(np.zeros((9, 9, 3), np.uint8), 3, 3, 3).coverage(mask)


def test_inside_counts_a_cut_patch_by_its_area():
    inside = GRID.inside((4, 0, 24, 8))  # half of patch 0, all of patches 1 and 2
    assert np.allclose(inside, [0.5, 1, 1, 0, 0, 0])
    assert np.allclose(GRID.inside((0, 0, 24, 16)), 1)


def test_hidden_paints_exactly_the_chosen_patches_and_leaves_the_image():
    grid = PatchGrid(np.zeros((16, 24, 3), np.uint8), 8, 2, 3)
    out = grid.hidden([1, 5])  # (0, 1) and (1, 2)
    assert (out[0:8, 8:16] == 128).all() and (out[8:16, 16:24] == 128).all()
    assert out.sum() == 128 * 3 * 2 * 64 and grid.image.sum() == 0


def test_distances_are_between_patch_centres_in_pixels():
    d = GRID.distances()
    assert d.shape == (6, 6) and d[0, 0] == 0 and d[0, 2] == 16 and np.isclose(d[0, 4], np.hypot(8, 8))


def test_attention_maps_check_their_labels_and_lay_a_query_on_the_grid():
    rng = np.random.default_rng(0)
    weights = rng.random((2, 3, 4, 6)).astype(np.float32)
    maps = AttentionMaps(weights, ["a", "b", "c", "d"], GRID)
    assert (maps.n_layers, maps.n_heads) == (2, 3) and maps.keys == GRID.labels()
    assert np.array_equal(maps.matrix(1, "max"), select(weights, 1, "max"))
    assert np.array_equal(maps.on_grid(2, 0, 1), weights[0, 1, 2].reshape(2, 3))
    with pytest.raises(ValueError, match="query labels"):
        AttentionMaps(weights, ["a"], GRID)
    with pytest.raises(ValueError, match="grid's patches"):
        AttentionMaps(weights[..., :5], ["a", "b", "c", "d"], GRID)
    strip = AttentionMaps(weights, list("abcd"), key_labels=[f"{t} s" for t in range(6)])
    assert strip.keys[-1] == "5 s"
    with pytest.raises(ValueError, match="not image patches"):
        strip.on_grid(0, 0, 0)
