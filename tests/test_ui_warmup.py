"""The app's warm-up yields to uploads (``ui.cache.analysing``), and the browser code that
Discover preloads is found in the installed Streamlit."""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("streamlit")

from ui import cache, components  # noqa: E402


def test_warmup_waits_while_an_upload_is_analysed(monkeypatch):
    monkeypatch.setattr(cache, "QUIET_S", 0.05)
    passed = threading.Event()

    def warmup_step():
        cache._wait_until_quiet()
        passed.set()

    with cache.analysing():
        with cache.analysing():  # two sessions analysing at once
            thread = threading.Thread(target=warmup_step, daemon=True)
            thread.start()
            assert not passed.wait(0.3), "the warm-up went on during an analysis"
        assert not passed.wait(0.2), "the warm-up went on while one analysis was still running"
    assert passed.wait(10), "the warm-up did not resume after the analyses"
    thread.join(10)


def test_failed_analysis_still_releases_the_warmup(monkeypatch):
    monkeypatch.setattr(cache, "QUIET_S", 0.0)
    with pytest.raises(RuntimeError), cache.analysing():
        raise RuntimeError("decode failed")
    done = threading.Event()
    threading.Thread(target=lambda: (cache._wait_until_quiet(), done.set()), daemon=True).start()
    assert done.wait(10)


def test_result_components_are_found_in_the_installed_streamlit():
    chunks = components._component_chunks(components.RESULT_COMPONENTS)
    assert [c.split(".")[0] for c in chunks] == list(components.RESULT_COMPONENTS), (
        "Streamlit's browser code moved: preload_components would preload nothing")
