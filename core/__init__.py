"""Computation behind the dashboard. Nothing in core/ imports Streamlit."""
