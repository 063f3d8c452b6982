"""Figures for the Listening page: arrays and labels in, a Plotly `go.Figure` out; no Streamlit, no model.

- `spectrogram_attention`: the log-mel spectrogram above the token x frame cross-attention matrix, one time axis
  (seconds) shared by both, the chosen token's row outlined and its weights traced over the spectrogram.
- `waveform_words`: the waveform (a min/max envelope of <= `MAX_WAVE_POINTS` points) with one shaded band per word.
- `attention_over_time`: one token's attention as a line over time, with the true and predicted word spans.

Payloads stay small: time is averaged into <= `MAX_COLUMNS` columns, values are float32 rounded (Plotly sends
numpy arrays as typed binary). Labels are escaped: Plotly renders tags such as <b> inside labels.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

MAX_COLUMNS = 750  # attention columns: 30 s of encoder frames (1500) are averaged in pairs
MAX_MEL_COLUMNS = 500  # spectrogram columns (80 rows each): 30 s of 10 ms frames -> 60 ms columns, ~210 KB sent
MAX_WAVE_POINTS = 4000  # waveform points sent to the browser (min and max of 2000 bins)
MAX_LINE_POINTS = 1500  # one attention row: 30 s of 20 ms frames fits unchanged
HIGHLIGHT = "#ff4b4b"
TRUE_COLOUR = "#2ca02c"
PREDICTED_COLOUR = "#ff7f0e"
WORD_COLOUR = "#1f77b4"

# Plotly's Magma with its first stop #000004 made #000000: Streamlit's chart theme takes #000004 for a placeholder
# colour and paints it pink (#ffabab) in the browser, which turned the spectrogram's silence pink.
MAGMA = [[i / 9, colour] for i, colour in enumerate(
    ["#000000", "#180f3d", "#440f76", "#721f81", "#9e2f7f", "#cd4071", "#f1605d", "#fd9668", "#feca8d", "#fcfdbf"])]


def _label(text: str) -> str:
    return html.escape(str(text), quote=False)


def _token_labels(tokens: Sequence[str]) -> list[str]:
    """Unique category labels: Plotly merges equal categories, and a sentence repeats tokens ("the")."""
    return [f"{i}:{_label(t)}" for i, t in enumerate(tokens)]


def _compact(values: np.ndarray, decimals: int = 4) -> np.ndarray:
    return np.round(np.asarray(values, dtype=np.float32), decimals).astype(np.float32)


def _bin_time(matrix: np.ndarray, step: float, max_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Average a (rows, T) matrix over blocks of consecutive columns so that <= max_columns remain.
    Returns (binned (rows, C), column centres in seconds (C,))."""
    columns = matrix.shape[1]
    factor = max(1, -(-columns // max(1, max_columns)))  # ceil
    starts = np.arange(0, columns, factor)
    counts = np.diff(np.append(starts, columns))
    binned = np.add.reduceat(matrix.astype(np.float64), starts, axis=1) / counts
    centres = (starts + counts / 2) * step
    return binned, centres


def _finite_2d(array, name: str) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value}")
    return value


def spectrogram_attention(log_mel: np.ndarray, attention: np.ndarray, tokens: Sequence[str],
                          frame_seconds: float = 0.02, token: int | None = None, mel_seconds: float = 0.01,
                          max_columns: int = MAX_COLUMNS, max_mel_columns: int = MAX_MEL_COLUMNS,
                          height: int = 560) -> go.Figure:
    """The spectrogram and the cross-attention on one time axis.

    log_mel: (mels, T) log-mel features, one column per `mel_seconds` (Whisper: 80 x 3000, 10 ms hop).
    attention: (tokens, frames) cross-attention weights, one column per `frame_seconds` (Whisper's encoder: 20 ms).
    tokens: one label per attention row. token: the row to highlight (outlined, and its weights drawn as a line
    over the spectrogram), or None.
    Row 1 (x, y): the spectrogram; row 2 (x2, y2): the attention matrix, first token at the top.
    """
    mel = _finite_2d(log_mel, "log_mel")
    weights = _finite_2d(attention, "attention")
    frame_seconds, mel_seconds = _positive(frame_seconds, "frame_seconds"), _positive(mel_seconds, "mel_seconds")
    if len(tokens) != weights.shape[0]:
        raise ValueError(f"attention has {weights.shape[0]} rows but {len(tokens)} tokens were given")
    if token is not None and not 0 <= token < len(tokens):
        raise ValueError(f"token {token} is out of range for {len(tokens)} tokens")
    mel_binned, mel_x = _bin_time(mel, mel_seconds, max_mel_columns)
    att_binned, att_x = _bin_time(weights, frame_seconds, max_columns)
    labels = _token_labels(tokens)
    duration = max(mel.shape[1] * mel_seconds, weights.shape[1] * frame_seconds)

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.45, 0.55])
    fig.add_trace(go.Heatmap(
        z=_compact(mel_binned, 2), x=_compact(mel_x, 3), y=np.arange(mel.shape[0]),
        colorscale=MAGMA, showscale=False, name="log-mel",
        hovertemplate="time %{x:.2f} s<br>mel bin %{y}<br>log-mel %{z:.2f}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Heatmap(
        z=_compact(att_binned), x=_compact(att_x, 3), y=labels, colorscale="Viridis", name="cross-attention",
        colorbar=dict(title=dict(text="weight"), thickness=12, len=0.55, y=0.0, yanchor="bottom"),
        hovertemplate="token %{y}<br>time %{x:.2f} s<br>weight %{z:.3f}<extra></extra>",
    ), row=2, col=1)
    if token is not None:
        row = att_binned[token]
        peak = float(row.max())
        scaled = row / peak * (mel.shape[0] - 1) if peak > 0 else np.zeros_like(row)
        fig.add_trace(go.Scatter(
            x=_compact(att_x, 3), y=_compact(scaled, 2), customdata=_compact(row), mode="lines",
            line=dict(color=HIGHLIGHT, width=2), name=labels[token],
            hovertemplate="token %{fullData.name}<br>time %{x:.2f} s<br>weight %{customdata:.3f}<extra></extra>",
        ), row=1, col=1)
        fig.add_shape(type="rect", x0=0, x1=duration, y0=token - 0.5, y1=token + 0.5, xref="x2", yref="y2",
                      line=dict(color=HIGHLIGHT, width=2), fillcolor="rgba(0,0,0,0)", name="highlight")
    fig.update_xaxes(range=[0, duration])
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_yaxes(title_text="mel bin", row=1, col=1)
    fig.update_yaxes(title_text="token", autorange="reversed", row=2, col=1)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig


def _envelope(samples: np.ndarray, rate: float, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, values) of the waveform: as is when short, else the min and max of max_points // 2 bins, in time
    order, so the drawn line keeps every peak the eye would see."""
    n = samples.size
    if n <= max_points:
        return np.arange(n) / rate, samples
    bins = max(1, max_points // 2)
    starts = np.linspace(0, n, bins, endpoint=False).astype(np.int64)
    lows = np.minimum.reduceat(samples, starts)
    highs = np.maximum.reduceat(samples, starts)
    counts = np.diff(np.append(starts, n))
    times = np.repeat((starts + counts / 2) / rate, 2)
    values = np.empty(2 * bins, dtype=np.float64)
    values[0::2], values[1::2] = lows, highs
    return times, values


def waveform_words(samples: np.ndarray, rate: float, words: Sequence[tuple[str, float, float]] = (),
                   highlight: int | None = None, max_points: int = MAX_WAVE_POINTS, height: int = 260) -> go.Figure:
    """The waveform with one shaded band per word, labelled above it; `highlight` (a word's index) is drawn
    stronger and its label bold. Trace 0 is the waveform, trace 1 (when there are words) the word labels."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    rate = _positive(rate, "rate")
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        raise ValueError("samples must be a non-empty array of finite values")
    if highlight is not None and not 0 <= highlight < len(words):
        raise ValueError(f"highlight {highlight} is out of range for {len(words)} words")
    times, values = _envelope(samples, rate, max_points)
    peak = max(float(np.abs(samples).max()), 1e-6)
    fig = go.Figure(go.Scatter(
        x=times.astype(np.float32), y=_compact(values), mode="lines", line=dict(color="#555", width=1), name="waveform",
        hovertemplate="time %{x:.2f} s<br>amplitude %{y:.3f}<extra></extra>",
    ))
    if words:
        for i, (_, start, end) in enumerate(words):
            strong = i == highlight
            fig.add_shape(type="rect", x0=float(start), x1=float(end), y0=0, y1=1, xref="x", yref="paper",
                          fillcolor=HIGHLIGHT if strong else WORD_COLOUR, opacity=0.45 if strong else 0.15,
                          line=dict(width=0), layer="below", name=f"word {i}")
        text = [f"<b>{_label(w)}</b>" if i == highlight else _label(w) for i, (w, _, _) in enumerate(words)]
        fig.add_trace(go.Scatter(
            x=_compact([(float(s) + float(e)) / 2 for _, s, e in words], 3), y=np.full(len(words), 1.15 * peak),
            mode="text", text=text, textposition="middle center", name="words",
            customdata=_compact([[float(s), float(e)] for _, s, e in words], 3),
            hovertemplate="%{text}<br>%{customdata[0]:.2f}-%{customdata[1]:.2f} s<extra></extra>",
        ))
    fig.update_xaxes(title_text="time (s)", range=[0, samples.size / rate])
    fig.update_yaxes(range=[-1.3 * peak, 1.3 * peak], showticklabels=False, zeroline=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig


def attention_over_time(row: np.ndarray, frame_seconds: float = 0.02, true_span: tuple[float, float] | None = None,
                        predicted_span: tuple[float, float] | None = None, token: str = "",
                        max_points: int = MAX_LINE_POINTS, height: int = 260) -> go.Figure:
    """One token's cross-attention over the audio frames as a line, with the word's true span (green band) and
    predicted span (orange outline) when given. Trace 0 is the line; shapes are named "true span" and
    "predicted span"."""
    weights = _finite_2d(np.asarray(row, dtype=np.float64).reshape(1, -1), "row")
    frame_seconds = _positive(frame_seconds, "frame_seconds")
    binned, times = _bin_time(weights, frame_seconds, max_points)
    fig = go.Figure(go.Scatter(
        x=_compact(times, 3), y=_compact(binned[0]), mode="lines", line=dict(color=WORD_COLOUR, width=2),
        name=_label(token) or "attention",
        hovertemplate="token %{fullData.name}<br>time %{x:.2f} s<br>weight %{y:.4f}<extra></extra>",
    ))
    for span, name, colour, solid in ((true_span, "true span", TRUE_COLOUR, True),
                                      (predicted_span, "predicted span", PREDICTED_COLOUR, False)):
        if span is None:
            continue
        start, end = float(span[0]), float(span[1])
        if not (np.isfinite(start) and np.isfinite(end)) or end < start:
            raise ValueError(f"{name} must be (start, end) with start <= end, got {span}")
        fig.add_shape(type="rect", x0=start, x1=end, y0=0, y1=1, xref="x", yref="paper", name=name,
                      fillcolor=colour if solid else "rgba(0,0,0,0)", opacity=0.25 if solid else 1.0,
                      line=dict(color=colour, width=0 if solid else 2, dash="dash"), layer="below")
        fig.add_annotation(x=start if solid else end, y=1, xref="x", yref="paper", yanchor="bottom",
                           xanchor="right" if solid else "left", showarrow=False, text=name.split()[0],
                           font=dict(color=colour, size=11))
    fig.update_xaxes(title_text="time (s)", range=[0, weights.shape[1] * frame_seconds])
    fig.update_yaxes(title_text="weight", rangemode="tozero")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=20, b=10), showlegend=False)
    return fig
