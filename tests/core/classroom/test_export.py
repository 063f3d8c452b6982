"""Exports: each file carries its numbers and their labels, reads back without pickle, and the pages offer them."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.classroom import export
from tests.conftest import ROOT

TOKENS = ["[CLS]", "what", "the", "the", "?"]  # a repeated word stays two rows
PATCHES = ["p(0,0)", "p(0,1)", "p(0,2)", "p(1,0)", "p(1,1)", "p(1,2)"]  # PatchGrid.labels() of 2 x 3


def _matrix() -> np.ndarray:
    rng = np.random.default_rng(0)
    m = rng.random((len(TOKENS), len(PATCHES))).astype(np.float32)  # (T, N)
    return m / m.sum(axis=1, keepdims=True)


def test_matrix_csv_has_a_header_of_patches_and_a_row_per_token():
    matrix = _matrix()
    rows = list(csv.reader(io.StringIO(export.matrix_csv(matrix, TOKENS, PATCHES, "token \\ patch").decode())))
    assert rows[0] == ["token \\ patch"] + PATCHES
    assert [r[0] for r in rows[1:]] == TOKENS
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert values.shape == (5, 6) and np.allclose(values, matrix, atol=1e-6)


def test_matrix_npz_reads_back_without_pickle_with_labels_and_notes():
    matrix = _matrix()
    data = np.load(io.BytesIO(export.matrix_npz(matrix, TOKENS, PATCHES, layer="2", head="mean")), allow_pickle=False)
    assert data["matrix"].shape == (5, 6) and np.allclose(data["matrix"], matrix)
    assert list(data["row_labels"]) == TOKENS and list(data["col_labels"]) == PATCHES
    assert str(data["layer"]) == "2" and str(data["head"]) == "mean"


def test_embeddings_export_both_modalities_with_labels():
    images, texts = np.eye(2, 4), np.ones((3, 4)) / 2
    rows = list(csv.reader(io.StringIO(export.embeddings_csv(images, ["cat", "dog"], texts, ["a", "b", "c"]).decode())))
    assert rows[0] == ["modality", "label", "d0", "d1", "d2", "d3"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("image", "cat"), ("image", "dog"), ("text", "a"), ("text", "b"),
                                                 ("text", "c")]
    data = np.load(io.BytesIO(export.embeddings_npz(images, ["cat", "dog"], texts, ["a", "b", "c"], pack="bundled")))
    assert data["image_embeds"].shape == (2, 4) and data["text_embeds"].shape == (3, 4)
    assert list(data["text_labels"]) == ["a", "b", "c"] and str(data["pack"]) == "bundled"


def test_a_shape_that_does_not_match_its_labels_fails_loudly():
    with pytest.raises(ValueError, match="labels"):
        export.matrix_csv(_matrix(), TOKENS[:-1], PATCHES)
    with pytest.raises(ValueError, match="width"):
        export.embeddings_csv(np.ones((2, 4)), ["a", "b"], np.ones((2, 3)), ["c", "d"])


def test_figure_png_is_a_png_when_kaleido_can_render():
    from components.widgets import export as export_component

    if not export_component.png_available():
        pytest.skip("kaleido or a Chrome/Chromium is not installed: the Plotly toolbar's camera button is the way")
    import plotly.graph_objects as go

    png = export_component.figure_png(go.Figure(go.Heatmap(z=_matrix())))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("page, key", [("pages/cross_attention.py", "cross_export"),
                                       ("pages/patching.py", "patching_export"),
                                       ("pages/early_fusion.py", "fusion_export")])
def test_every_attention_page_offers_the_downloads(page, key):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"CSV", "NPZ"} <= set(labels)
    names = [b.proto.id for b in at.get("download_button")]
    assert any(key in n for n in names)
