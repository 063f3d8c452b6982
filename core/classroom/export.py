"""Attention matrices and embeddings as files a student can keep: CSV for a spreadsheet, NPZ for numpy.

Every file carries its labels: a CSV's first column and header row name the rows and columns (tokens, patches,
images, captions); an NPZ holds the array next to `row_labels` and `col_labels` string arrays, plus any notes
(layer, head, model) as 0-d strings. Nothing here needs pickle to read back: np.load(..., allow_pickle=False).
"""
from __future__ import annotations

import csv
import io

import numpy as np


def check_labels(matrix: np.ndarray, row_labels: list, col_labels: list) -> np.ndarray:
    """The matrix as an array, or a ValueError when its shape does not match the labels."""
    matrix = np.asarray(matrix)
    if matrix.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"matrix {matrix.shape} vs {len(row_labels)} row and {len(col_labels)} column labels")
    return matrix


def matrix_csv(matrix: np.ndarray, row_labels: list[str], col_labels: list[str], corner: str = "") -> bytes:
    """(R, C) -> CSV text: a header row (corner, then the column labels), then one row per label. Labels are kept
    as they are (a question may say "the" twice: the row order tells them apart)."""
    matrix = check_labels(matrix, row_labels, col_labels)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([corner] + list(col_labels))
    for label, row in zip(row_labels, matrix):
        writer.writerow([label] + [f"{v:.6g}" for v in row])
    return out.getvalue().encode()


def matrix_npz(matrix: np.ndarray, row_labels: list[str], col_labels: list[str], name: str = "matrix",
               **notes: str) -> bytes:
    """(R, C) -> NPZ bytes with arrays `name`, `row_labels`, `col_labels` and one string per note."""
    matrix = check_labels(matrix, row_labels, col_labels)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: matrix.astype(np.float32), "row_labels": np.array(row_labels, dtype=str),
                                   "col_labels": np.array(col_labels, dtype=str)},
                        **{k: np.array(str(v)) for k, v in notes.items()})
    return buffer.getvalue()


def embeddings_csv(image_embeds: np.ndarray, image_labels: list[str], text_embeds: np.ndarray,
                   text_labels: list[str]) -> bytes:
    """(I, D) image and (T, D) caption embeddings -> one CSV: modality, label, then D dimensions."""
    if image_embeds.shape[1:] != text_embeds.shape[1:]:
        raise ValueError(f"image {image_embeds.shape} and text {text_embeds.shape} embeddings differ in width")
    check_labels(image_embeds, image_labels, list(range(image_embeds.shape[1])))
    check_labels(text_embeds, text_labels, list(range(text_embeds.shape[1])))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["modality", "label"] + [f"d{i}" for i in range(image_embeds.shape[1])])
    for modality, embeds, labels in (("image", image_embeds, image_labels), ("text", text_embeds, text_labels)):
        for label, row in zip(labels, embeds):
            writer.writerow([modality, label] + [f"{v:.6g}" for v in row])
    return out.getvalue().encode()


def embeddings_npz(image_embeds: np.ndarray, image_labels: list[str], text_embeds: np.ndarray,
                   text_labels: list[str], **notes: str) -> bytes:
    """NPZ with image_embeds (I, D), image_labels, text_embeds (T, D), text_labels and notes."""
    check_labels(image_embeds, image_labels, list(range(image_embeds.shape[1])))
    check_labels(text_embeds, text_labels, list(range(text_embeds.shape[1])))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, image_embeds=image_embeds.astype(np.float32),
                        image_labels=np.array(image_labels, dtype=str), text_embeds=text_embeds.astype(np.float32),
                        text_labels=np.array(text_labels, dtype=str),
                        **{k: np.array(str(v)) for k, v in notes.items()})
    return buffer.getvalue()
