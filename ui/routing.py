"""Every page runs through ``app.py``, even when a link to it is the first request a server gets.

Streamlit (1.67) decides once per server process whether the app uses its old "pages/ folder"
routing: it does while a ``pages/`` folder sits beside the main script and no script has called
``st.navigation`` yet. So on a fresh server, a link to ``/personas?persona=…`` runs
``pages/personas.py`` on its own, without ``app.py``: no session state, no catalog, no profile
(the page crashed with 'st.session_state has no attribute "feedback"'). ``app.py`` routes with
``st.navigation``, which switches the process to the new routing for good. A page that finds
itself run the old way calls :func:`through_app` first: it makes the same switch and reruns, and
the rerun starts in ``app.py``, which sets everything up and runs this page.
"""
from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui import state


def through_app() -> None:
    """Rerun through ``app.py`` if Streamlit ran this page file on its own before ``app.py`` set
    this session up; otherwise return.

    A session that ``app.py`` has set up (``ui.state.ready``) is left alone: its state is there,
    and a rerun would drop the widget event of the run (Streamlit's test harness runs pages the
    old way on every run)."""
    if PagesManager.uses_pages_directory and not state.ready():
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets, once per process
        st.rerun()
