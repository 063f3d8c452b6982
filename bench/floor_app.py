"""The framework's own floor, for `python -m bench.classroom --scenarios floor`: a page that draws only its answer
heading, served with the app's .streamlit/config.toml. What N students opening it at once wait for is Streamlit's
per-student cost alone (the link's HTTP requests, the websocket, a session, a script thread, the messages), the
least any page of this app can cost; the app's own pages are measured against it."""
import streamlit as st

st.subheader("Answer: green")
