"""Keep Python's full garbage collections out of the interactive path.

The app process holds about 750 thousand GC-tracked objects once torch, librosa, numba, UMAP
and the fitted recommender are loaded. A full (generation 2) collection walks all of them: on
this project's 2-core machine each one took 0.38-0.52 s (measured with a ``gc.callbacks``
probe while pressing Tune sliders), and CPython starts one whenever a quarter as many objects
again have survived into the old generation -- so every few slider moves stalled the server
for half a second, more than the whole rest of a re-rank.

The fix is :func:`gc.freeze`: objects alive after a full collection are moved to a permanent
generation that later collections skip. They are the loaded models, modules and caches, which
live as long as the process anyway. :func:`install` registers a callback that notices a slow
full collection; :func:`freeze_if_slow` (called at the end of a script run, when the heap holds
only what outlives it) then freezes everything alive. Objects frozen this way are still freed
by reference counting; only cycles among them wait for the process to end, and a freeze
happens only after a full collection longer than :data:`SLOW_S`, a handful of times per
process.
"""
from __future__ import annotations

import gc
import threading
import time

SLOW_S = 0.05  # a full collection longer than this (seconds) triggers a freeze

_lock = threading.Lock()
_state = {"installed": False, "started": 0.0, "slow": False, "freezes": 0}


def _on_gc(phase: str, info: dict) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _state["started"] = time.perf_counter()
    elif time.perf_counter() - _state["started"] > SLOW_S:
        _state["slow"] = True


def install() -> None:
    """Watch full collections (idempotent; once per process)."""
    with _lock:
        if not _state["installed"]:
            gc.callbacks.append(_on_gc)
            _state["installed"] = True


def freeze_if_slow(*, force: bool = False) -> bool:
    """Move every object alive now to the permanent generation if a full collection was slow
    since the last freeze (or ``force``). Returns True when it froze."""
    with _lock:
        if not (force or _state["slow"]):
            return False
        _state["slow"] = False
        gc.freeze()
        _state["freezes"] += 1
        return True


def stats() -> dict:
    """Freezes so far and objects in the permanent generation (for tests and diagnostics)."""
    return {"freezes": _state["freezes"], "frozen_objects": gc.get_freeze_count()}
