"""Entry point: the router, the shared sidebar, and the home page.

    streamlit run app.py
"""
import streamlit as st

from components import inputs

st.set_page_config(page_title="Where text meets vision", page_icon="🔭", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/patching.py", title="Patching", icon="🧩"),
    st.Page("pages/cross_attention.py", title="Cross-attention", icon="🔦"),
    st.Page("pages/clip_space.py", title="CLIP space", icon="🧭"),
    st.Page("pages/early_fusion.py", title="Early fusion", icon="🌀"),
]
page = st.navigation(pages)
inputs.render_sidebar()
page.run()
