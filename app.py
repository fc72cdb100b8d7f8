"""recsys: the Streamlit app. Routes the pages, loads the shared service once, then runs a page.

Start with ``make app`` (or ``streamlit run app.py``). ``RECSYS_CATALOG_DIR`` points it at another
built catalog; by default it serves the embedded sample catalog (built on the first start).
"""
from __future__ import annotations

import os

# The app shares the CPU with the browser and whatever else runs on the machine. OpenMP threads
# that spin while they wait make torch's models about 4x slower whenever another process holds
# one of the cores (12 frames through the image model: 1.95 s instead of 0.5 s on 2 cores with
# one busy); waiting threads that sleep do not. Read once, when torch loads: set before that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import streamlit as st  # noqa: E402

st.set_page_config(page_title="recsys: audio & video recommender", page_icon="🎧", layout="wide")

from recsys.errors import RecsysError  # noqa: E402
from ui import cache, heap, state  # noqa: E402
from ui.components import esc  # noqa: E402

# Every page runs through this script: a link to a page that is a fresh server's first request
# makes Streamlit run the page file alone, and the page reruns through here (ui/routing.py).
PAGES = [
    st.Page("pages/discover.py", title="Discover", icon=":material/upload_file:", default=True),
    st.Page("pages/personas.py", title="Personas", icon=":material/group:"),
    st.Page("pages/map.py", title="Embedding map", icon=":material/scatter_plot:"),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/catalog.py", title="Catalog", icon=":material/video_library:"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/insights:"),
]
heap.install()
page = st.navigation(PAGES)
state.init()

fp = cache.catalog_fingerprint()
if not cache.service_loaded(fp):
    # First start of this process: build the sample catalog if needed (minutes, once), then fit.
    with st.status("Preparing the catalog…", expanded=True) as box:
        bar = st.progress(0.0, text="Checking the catalog")

        def progress(done: int, total: int, path: str) -> None:
            bar.progress(min(1.0, done / max(total, 1)), text=f"Analysing clip {done + 1} of {total}: {esc(path)}"
                         if done < total else "Catalog built")

        try:
            cache.prepare_catalog(progress=progress)
            service = cache.get_service(fp)
        except (RecsysError, OSError, ImportError, RuntimeError) as err:  # one line, never a traceback
            box.update(label="The catalog could not be loaded", state="error")
            st.error(esc(str(err)))
            st.stop()
        box.update(label=f"Catalog ready: {len(service.catalog)} items", state="complete", expanded=False)
try:
    service = cache.get_service(fp)
except (RecsysError, OSError, ImportError, RuntimeError) as err:
    st.error(esc(str(err)))
    st.stop()
cache.start_warmup(fp)

with st.sidebar:
    items = service.catalog.items
    n_audio = int((items["kind"] == "audio").sum())
    st.caption(f"Catalog: {len(items)} items ({n_audio} audio, {len(items) - n_audio} video). "
               f"Demo users are simulated from personas.")

page.run()
# Long-lived objects (models, caches) now exist: keep later full collections short.
heap.freeze_if_slow()
