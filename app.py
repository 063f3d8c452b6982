"""Entry point: the router, the shared sidebar, and the home page.

    streamlit run app.py
"""
import streamlit as st
from PIL import Image, ImageDraw

from components.service import models
from components.widgets import deep_link, inputs
from components.widgets.presets import classroom_links
from core.classroom.page_table import PAGE_TABLE, home_table

HOME_TEXT = f"""
How does a transformer that reads words come to *see*, and to *hear*? {len(PAGE_TABLE)} pages, one idea each, each
run live on a real model:

{home_table()}

The thread through them: a transformer only ever reads a sequence of vectors. **Patches** make an image into one,
**frames** make sound into one, **tokens** make text into one. Cross-attention is then the same operation whether
its keys and values come from image patches (Cross-attention) or from 20 ms audio frames (Listening): the text's
queries, softmax(QKᵀ/√d_k)V, a context vector per token. Early fusion puts every modality in one stream instead.

Pick an image and type a question in the sidebar: they follow you from page to page.
"""
CLASSROOM_TEXT = """
**Teaching with it.** Every page can be shared as it is on screen: open *Share this view* in the sidebar and copy
the link (it keeps the page, the image, the text, the pack, the layer, head, token and patch). Each page has
ready-made examples one click away, a **Predict first** switch that hides the answer until the room has guessed,
and download buttons for the figure's numbers (CSV, NPZ). Ready-made links for office hours:
"""
BUNDLED_NOTE = (
    "You are on the **bundled** pack: tiny models of the same classes as the real checkpoints, trained in minutes "
    "on a synthetic *shapes world* (coloured circles, squares and triangles). Because every scene is drawn by the "
    "app, we know where each object is, so you can check whether *red* really looks at the red object. Try the "
    "shapes samples and questions like *what color is the circle?* Two pages run real weights installed with the "
    "app: **Patching** on photos (DINOv2 ViT-S/14) and **Listening** (Whisper base and tiny.en)."
)


def home() -> None:
    st.title("Where text meets vision")
    st.markdown(HOME_TEXT)
    if inputs.current().pack == "bundled":
        st.info(BUNDLED_NOTE)
    st.markdown(CLASSROOM_TEXT)
    classroom_links()


def favicon() -> Image.Image:
    """A 4 x 4 grid of patches with one lit up, drawn here: a ":material/...:" page icon makes the browser fetch
    the icon from Google's font server, and an offline classroom app must load nothing from another host."""
    icon = Image.new("RGB", (32, 32), (255, 255, 255))
    draw = ImageDraw.Draw(icon)
    for row in range(4):
        for col in range(4):
            lit = (row, col) == (1, 2)
            draw.rectangle((col * 8 + 1, row * 8 + 1, col * 8 + 7, row * 8 + 7),
                           fill=(253, 231, 37) if lit else (59, 82, 139))  # Viridis' ends, as in the heatmaps
    return icon


st.set_page_config(page_title="Where text meets vision", page_icon=favicon(), layout="wide")

pages = [st.Page(home, title="Home", icon=":material/home:", default=True)] + [
    st.Page(spec.script, title=spec.title, icon=spec.icon, url_path=spec.name) for spec in PAGE_TABLE]
page = st.navigation(pages)
deep_link.follow(pages, page)  # once per session: a shared link's view, and its page (?page=cross-attention)
inputs.render_sidebar()  # after st.navigation: widgets drawn before it lose their values when the page changes
deep_link.share_slot()
models.begin_page_view()  # each model replaced by the bundled one is announced once per view
try:
    page.run()
    st.session_state.pop("_hub_failed_rerun", None)
except models.HubLoadFailed as failed:  # remembered by components.service.models: the rerun serves the bundled model
    if st.session_state.get("_hub_failed_rerun") == failed.args:  # a path that does not ask serving_pack
        st.error(f"The real {failed.args[0]} model could not be loaded; choose the bundled pack in the sidebar.")
    else:
        st.session_state["_hub_failed_rerun"] = failed.args
        st.rerun()
