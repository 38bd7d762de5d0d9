"""Entry point: `streamlit run Home.py` — login, role navigation, then the chosen page."""

from lib.ui.app import main

main()
