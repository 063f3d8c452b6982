"""The Streamlit side, in four folders:
- figures/: pure builders, arrays and labels in, a Plotly figure out (no Streamlit, never a model);
- widgets/: controls a page reads (inputs, layer and head, clickable grid, presets, links, downloads);
- sections/: one titled part of a page each, its widgets and its figures;
- service/: the model service (st.cache_resource models, st.cache_data results) every page goes through.
"""
