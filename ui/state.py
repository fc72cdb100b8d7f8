"""Per-session state: weights, feedback, the current clip, and cached component scores.

Everything here lives in ``st.session_state`` and so belongs to one browser session: an upload
and its analysis are never visible to another session. Component scores (the expensive part of a
recommendation) are kept per query, so moving a weight slider only re-ranks.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict

import streamlit as st

from recsys.ranker import COMPONENTS, DEFAULT_WEIGHTS

WEIGHT_NAMES = (*COMPONENTS, "diversity")
MAX_SCORE_CACHE = 12


def init() -> None:
    ss = st.session_state
    ss.setdefault("weights", dict(DEFAULT_WEIGHTS))
    ss.setdefault("feedback", {})          # scope -> {"liked": [item ids], "disliked": [...]}
    ss.setdefault("score_cache", OrderedDict())
    ss.setdefault("clip", None)            # the clip analysed on Discover (see pages/discover.py)
    ss.setdefault("focus", None)           # ("clip", id) | ("persona", name): what Map/Tune show
    ss.setdefault("open_item", None)       # item id to open on Discover / Catalog


def weights() -> dict[str, float]:
    return dict(st.session_state.weights)


def weights_key(w: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((k, round(float(w.get(k, 0.0)), 4)) for k in WEIGHT_NAMES)


# --- feedback ---------------------------------------------------------------------------------

def feedback(scope: str) -> dict[str, list[str]]:
    return st.session_state.feedback.setdefault(scope, {"liked": [], "disliked": []})


def set_feedback(scope: str, item_id: str, verdict: str) -> None:
    """Button callback: ``verdict`` "liked" | "disliked" | "clear" for one item."""
    fb = feedback(scope)
    for v in ("liked", "disliked"):
        if item_id in fb[v]:
            fb[v].remove(item_id)
    if verdict in ("liked", "disliked"):
        fb[verdict].append(item_id)


def clear_feedback(scope: str) -> None:
    st.session_state.feedback.pop(scope, None)


# --- queries and their scores -----------------------------------------------------------------

def sources(personas) -> dict[str, tuple[str, str]]:
    """Label -> source for pickers: the current clip (if any), then every persona."""
    out = {}
    clip = st.session_state.clip
    if clip is not None:
        out[f"Clip: {clip['title']}"] = clip["source"]
    out.update({f"Persona: {p.name}": ("persona", p.name) for p in personas})
    return out


def default_source_index(options: dict[str, tuple[str, str]]) -> int:
    focus = st.session_state.focus
    values = list(options.values())
    return values.index(focus) if focus in values else 0


def query_for(service, source: tuple[str, str]):
    """The :class:`~recsys.hybrid.Query` of a source, with this session's feedback applied."""
    kind, ident = source
    fb = feedback(f"{kind}:{ident}")
    if kind == "persona":
        return service.persona_query(ident, liked=list(fb["liked"]), disliked=list(fb["disliked"]))
    if kind == "item":
        base = service.item_query(ident)
    else:
        clip = st.session_state.clip
        if clip is None or clip["source"] != source:
            raise LookupError("that clip is no longer loaded; analyse it again on Discover")
        base = clip["query"]
    if not fb["liked"] and not fb["disliked"]:
        return base
    # Likes become the query's history (CF and the matcher score against it); both are excluded.
    liked = [service.catalog.index(i) for i in fb["liked"]]
    disliked = [service.catalog.index(i) for i in fb["disliked"]]
    return dataclasses.replace(base, liked=liked, disliked=disliked,
                               exclude=set(base.exclude) | set(liked) | set(disliked))


def scores_for(service, source: tuple[str, str], kind: str | None = None):
    """``(query, ComponentScores)`` for a source, computed once per (source, feedback, kind)."""
    fb = feedback(f"{source[0]}:{source[1]}")
    key = (source, tuple(fb["liked"]), tuple(fb["disliked"]), kind)
    cache: OrderedDict = st.session_state.score_cache
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    q = query_for(service, source)
    value = (q, service.scores(q, kind=kind))
    cache[key] = value
    while len(cache) > MAX_SCORE_CACHE:
        cache.popitem(last=False)
    return value


def put_scores(source: tuple[str, str], kind: str | None, query, cs) -> None:
    """Store scores computed elsewhere (Discover times them inside its status box)."""
    fb = feedback(f"{source[0]}:{source[1]}")
    st.session_state.score_cache[(source, tuple(fb["liked"]), tuple(fb["disliked"]), kind)] = (query, cs)
