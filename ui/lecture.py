"""Lecture mode: what a hall reads on a projector at 1920 × 1080.

Measured against, in the browser (tests/browser/test_lecture.py): every visible text at least
20 px, its colour at least 7:1 against white, no label cut, the page's main picture starting on
the first screen. The figures are enlarged by viz.figure.for_projector (ctx.chart); this module
styles the rest of the page, hides what a hall does not need (the sidebar starts closed, the
app's own title, Streamlit's toolbar) and tells the page how it should be laid out.
"""
from __future__ import annotations

import streamlit as st

MIN_TEXT_PX = 20
# #262730 (Streamlit's text colour) on white is 15:1; its grey captions (#808495, ~3.9:1) and
# disabled labels are not legible from the back of a hall, so everything is drawn in it.
TEXT_COLOUR = "#262730"

# A constant: no user text ever reaches this HTML. Headings need the .stApp prefix and their
# inner spans must inherit, or the [class*="st-"] rule outranks them. The code box (the model's
# output) is text a hall must read too. Padding above the page shrinks so that the picture, not
# the page's furniture, fills the first screen.
CSS = f"""<style>
html, body, .stApp, .stApp p, .stApp li, .stApp label, .stApp input, .stApp textarea, .stApp button,
.stApp [class*="st-"], .stMarkdown, [data-testid=stCaptionContainer], [data-testid=stWidgetLabel] p {{
  font-size: {MIN_TEXT_PX + 2}px !important; }}
.stApp code, .stApp pre, .stApp [data-testid=stCode] * {{ font-size: 26px !important; }}
.stApp h1, .stApp h1[class] {{ font-size: 44px !important; }}
.stApp h2, .stApp h2[class], .stApp h3, .stApp h3[class] {{ font-size: 32px !important; }}
.stApp h4, .stApp h4[class] {{ font-size: 26px !important; }}
.stApp :is(h1, h2, h3, h4) :is(*, [class*="st-"]) {{ font-size: inherit !important; }}
.stApp, .stApp p, .stApp label, [data-testid=stCaptionContainer], [data-testid=stCaptionContainer] *,
[data-testid=stWidgetLabel] * {{ color: {TEXT_COLOUR} !important; }}
.stApp {{ background: #ffffff; }}
/* a multiselect's chosen chips and primary buttons: white on Streamlit's red is 5.2:1; on this red 8:1 */
.stApp [data-tag], .stApp [data-testid=stBaseButton-primary] {{ background-color: #9b1c2c !important; }}
.stApp [data-tag] *, .stApp [data-testid=stBaseButton-primary] * {{ color: #ffffff !important; }}
[data-testid=stMainBlockContainer] {{ padding-top: 4rem !important; padding-bottom: 2rem !important; }}
[data-testid=stAppDeployButton], [data-testid=stToolbarActions], [data-testid=stMainMenu] {{ display: none !important; }}
</style>"""


def sidebar_state(lecture: bool) -> str:
    """st.set_page_config's initial_sidebar_state: closed for a hall (the lecturer opens it with
    the arrow at the top left), Streamlit's own choice otherwise."""
    return "collapsed" if lecture else "auto"


def style(lecture: bool) -> None:
    if lecture:
        st.html(CSS)
