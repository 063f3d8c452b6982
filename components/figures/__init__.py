"""Pure figures: arrays and labels in, a Plotly figure (or a small picture/table) out; no Streamlit, no model."""
