"""The model service: models in st.cache_resource, per-input results in st.cache_data, for every page."""
