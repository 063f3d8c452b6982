import numpy as np
import pytest

from core.concepts import projections


def two_blobs(n_each: int = 8, d: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=d) * 5
    points = np.vstack([rng.normal(size=(n_each, d)) + centre, rng.normal(size=(n_each, d)) - centre])
    return points, np.repeat([0, 1], n_each)


@pytest.mark.parametrize("method", projections.METHODS)
@pytest.mark.parametrize("dims", [2, 3])
def test_every_method_returns_one_point_per_item_and_keeps_neighbourhoods(method, dims):
    points, blob = two_blobs()
    projection = projections.project(points, method, dims)
    assert projection.coords.shape == (len(points), dims)
    assert projection.method == method and not projection.note
    assert np.isfinite(projection.coords).all()
    distances = np.linalg.norm(projection.coords[:, None] - projection.coords[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (blob[distances.argmin(axis=1)] == blob).all()  # every point's nearest neighbour is from its own blob


@pytest.mark.parametrize("method", ["t-SNE", "UMAP"])
def test_non_linear_methods_are_repeatable(method):
    points, _ = two_blobs()
    assert np.allclose(projections.project(points, method).coords, projections.project(points, method).coords)


def test_too_few_points_fall_back_to_pca_with_a_note():
    points, _ = two_blobs(n_each=2)
    projection = projections.project(points, "UMAP")
    assert projection.method == "PCA" and "UMAP" in projection.note
    assert projection.coords.shape == (4, 2)


def test_pca_keeps_the_main_direction_and_handles_one_point():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 5)) * np.array([10, 1, 1, 0.1, 0.1])
    points = projections.pca(x)
    assert points.shape == (10, 2)
    assert points[:, 0].var() > 10 * points[:, 1].var()
    assert projections.pca(x[:1]).shape == (1, 2)
    assert projections.pca(x, 3).shape == (10, 3)


def test_unknown_method_or_dims_is_refused():
    points, _ = two_blobs()
    with pytest.raises(ValueError):
        projections.project(points, "MDS")
    with pytest.raises(ValueError):
        projections.project(points, "PCA", dims=4)
