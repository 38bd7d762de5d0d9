"""Accessibility fixes to Streamlit's own widgets that no option reaches (WCAG 2.2 AA)."""

from __future__ import annotations

import streamlit as st

# WCAG 2.2 2.5.8 (target size): the day/month/year segments of st.date_input are ~12 px wide
# touch targets; give each at least 24 x 24 px.
_STYLES = """
<style>
[data-testid="stDateInput"] [role="spinbutton"] {
  display: inline-block; min-width: 24px; min-height: 24px; text-align: center;
}
</style>
"""


def apply_accessibility_styles() -> None:
    """Inject the style fixes (once per script run; renders nothing visible)."""
    st.html(_STYLES)
