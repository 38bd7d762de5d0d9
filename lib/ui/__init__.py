"""Streamlit-facing helpers: the only package under lib/ that imports streamlit."""
