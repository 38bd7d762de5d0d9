"""Cases: one welfare or visa case (step, next action, due date, contact form, escalation), or a list."""

import streamlit as st

from lib.ui.cases import case_page
from lib.ui.widgets import require_page


def main() -> None:
    user = require_page("case")
    st.title("Cases")
    case_page(user)


main()
