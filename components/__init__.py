"""Reusable Streamlit + Plotly pieces. Figures are drawn from arrays and labels, never from a model."""
