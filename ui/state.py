"""Per-session state: the profile, weights, feedback, the current clip, and cached component scores.

Everything here lives in ``st.session_state`` and so belongs to one browser session: an upload
and its analysis are never visible to another session. Component scores (the expensive part of a
recommendation) are kept per query, so moving a weight slider only re-ranks.

Likes and dislikes also go to the shared :class:`~recsys.catalog.store.Store` the moment they are made,
under the session's *profile*: a random token (no login) kept in the URL as ``?profile=<token>``,
so a reload or a bookmark brings the same ratings back. Store user id: ``profile:<token>``;
store scope: the same scope strings as here ("persona:<name>", "clip:<digest>", "item:<id>").

What a page shows is kept in the URL too (``?persona=<name>`` on Personas, ``?item=<id>`` for the
item open on Discover or Catalog and the selected point on the Map): :func:`from_address` and
:func:`keep_address` are the only readers and writers, so a reload or a shared link shows it again.
"""
from __future__ import annotations

import dataclasses
import re
import secrets
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

import streamlit as st

from recsys.errors import RecsysError
from recsys.serving.ranker import COMPONENTS, DEFAULT_WEIGHTS

WEIGHT_NAMES = (*COMPONENTS, "diversity")


@dataclass(frozen=True)
class Source:
    """What a page recommends for: an uploaded clip (``ident`` = digest of its bytes and text),
    a catalog item (its id) or a persona (its name). Hashable: it keys caches."""

    kind: Literal["clip", "item", "persona"]
    ident: str

    @property
    def scope(self) -> str:
        """The feedback scope string, shared with the store ("persona:<name>", "clip:<digest>", ...)."""
        return f"{self.kind}:{self.ident}"


@dataclass
class ClipSession:
    """The clip open on Discover (an upload or a catalog item) and what was computed for it.

    analysis : ``ClipAnalysis.to_dict(include_embedding=False)`` (or a catalog item's stored one)
    display : :func:`recsys.media.display.display_arrays` of the clip
    preview : ``(bytes, mime)`` playable in a browser, or ``(None, reason)``
    query : the :class:`~recsys.serving.query.Query` it recommends for
    timings : stage -> milliseconds
    analysed : an upload's ``ClipAnalysis`` without its decoded media, to rebuild the query and to
        cache its features when it is added to the catalog; None for catalog items
    sha256 : an upload's content hash (its bytes only, not its title)
    same_as : the catalog item holding the same bytes (under whatever title), or None
    """

    source: Source
    title: str
    analysis: dict
    display: dict
    preview: Any
    query: Any
    timings: dict[str, float] = field(default_factory=dict)
    description: str = ""
    analysed: Any = None
    sha256: str = ""
    same_as: str | None = None
MAX_SCORE_CACHE = 12
PROFILE_PARAM = "profile"
PROFILE_BYTES = 24                                # secrets.token_urlsafe(24): 32 URL-safe characters
_PROFILE_RE = re.compile(r"[A-Za-z0-9_-]{32}")   # exactly what token_urlsafe(PROFILE_BYTES) yields
_VALUES = {"liked": 1, "disliked": -1, "clear": 0}


def ready() -> bool:
    """Whether :func:`init` has set this session up (``app.py`` runs it before any page)."""
    return "feedback" in st.session_state


def init() -> None:
    ss = st.session_state
    ss.setdefault("weights", dict(DEFAULT_WEIGHTS))
    ss.setdefault("feedback", {})          # scope -> {"liked": [item ids], "disliked": [...]}
    ss.setdefault("score_cache", OrderedDict())
    ss.setdefault("clip", None)            # ClipSession | None: the clip open on Discover
    ss.setdefault("focus", None)           # Source | None: what Map/Tune show
    ss.setdefault("open_item", None)       # item id to open on Discover / Catalog
    ss.setdefault("catalog_fp", None)      # the catalog fingerprint the cached scores belong to
    _init_profile()
    if ss.get("store_error"):
        from ui.components import esc

        st.sidebar.warning(f"Ratings are kept in this session only: {esc(ss.store_error)}", icon=":material/warning:")


# --- the profile: who this browser is, without a login ------------------------------------------

def new_profile() -> str:
    return secrets.token_urlsafe(PROFILE_BYTES)


def valid_profile(value) -> bool:
    """Only tokens this app makes are accepted; anything else (too long, odd characters, a list)
    gets a fresh profile instead of an error."""
    return isinstance(value, str) and _PROFILE_RE.fullmatch(value) is not None


def profile() -> str:
    return st.session_state.profile


def user_id() -> str:
    """The store's user id of this session's profile."""
    return f"profile:{st.session_state.profile}"


def _init_profile() -> None:
    ss = st.session_state
    if ss.get("profile") is None:  # the session's first run: adopt the URL's profile or make one
        raw = st.query_params.get(PROFILE_PARAM)
        ss.profile = raw if valid_profile(raw) else new_profile()
        ss.feedback = _load_feedback()
    # Page switches drop query parameters: put the profile back so the URL always bookmarks it.
    if st.query_params.get(PROFILE_PARAM) != ss.profile:
        st.query_params[PROFILE_PARAM] = ss.profile


# --- addresses: what a page shows, kept in the URL so a reload or a shared link shows it again ---

PERSONA_PARAM = "persona"   # Personas: the persona's name
ITEM_PARAM = "item"         # Discover / Catalog: the opened item; Map: the selected point


def from_address(page: str, name: str, allowed) -> str | None:
    """The URL's ``?name=`` value when it is one of ``allowed`` and ``page`` (the calling page's
    name) has not adopted it yet in this session, else None. Adopted once: afterwards the page's
    widgets own the value (and write it back with :func:`keep_address`), so the URL never
    overrides a choice made on the page. Anything else in the URL (unknown names, lists, hostile
    strings) is ignored."""
    raw = st.query_params.get(name)
    seen = st.session_state.setdefault("address_seen", {})
    key = (page, name)
    if not isinstance(raw, str) or raw == seen.get(key) or raw not in allowed:
        return None
    seen[key] = raw
    return raw


def keep_address(page: str, **values: str | None) -> None:
    """Write what the page shows into the URL (``None`` removes that parameter). Only the given
    parameters are touched: the profile stays, and page switches drop the other pages' ones."""
    seen = st.session_state.setdefault("address_seen", {})
    for name, value in values.items():
        seen[(page, name)] = value
        if value is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != value:
            st.query_params[name] = value


def _load_feedback() -> dict[str, dict[str, list[str]]]:
    store = _store()
    if store is None:
        return {}
    try:
        scopes = store.feedback_scopes(user_id())
    except (RecsysError, sqlite3.Error) as err:
        st.session_state.store_error = " ".join(str(err).split())
        return {}
    return {scope: {"liked": [i for i, v in items.items() if v > 0],
                    "disliked": [i for i, v in items.items() if v < 0]} for scope, items in scopes.items()}


def _store():
    from ui import cache

    store, error = cache.open_store()
    st.session_state.store_error = error
    return store


def _persist(write) -> None:
    """Run ``write(store)`` now; on failure keep the session's copy and say why (one line)."""
    store = _store()
    if store is None:
        return
    try:
        write(store)
    except (RecsysError, sqlite3.Error, OSError) as err:
        st.session_state.store_error = " ".join(str(err).split())


# --- the catalog this session works on ------------------------------------------------------------

def service():
    """``(fingerprint, service)`` for pages (app.py has loaded it before any page runs), and
    this session's state switched to that catalog (see :func:`use_catalog`)."""
    from ui import cache

    fp = cache.catalog_fingerprint()
    svc = cache.get_service(fp)
    use_catalog(fp, svc)
    return fp, svc


def use_catalog(fp: str, service) -> None:
    """Called with every page's service: when the catalog changed (a clip was added), drop the
    cached scores (their arrays have one entry per old item) and rebuild the open clip's query
    against the new catalog (a clip now in the catalog must not recommend itself)."""
    ss = st.session_state
    if ss.get("catalog_fp") == fp:
        return
    first = ss.get("catalog_fp") is None
    ss.catalog_fp = fp
    ss.score_cache = OrderedDict()
    clip = ss.get("clip")
    if first or clip is None:
        return
    try:
        if clip.source.kind == "item":
            clip.query = service.item_query(clip.source.ident)
        elif clip.analysed is not None:
            same = clip.same_as if clip.same_as in set(service.catalog.item_ids) else None
            clip.query = service.clip_query(clip.analysed, same_content=same)
    except RecsysError:  # the item left the catalog: nothing open any more
        ss.clip = None


def clear_clip(*, uploads_only: bool = False) -> None:
    """Nothing open on Discover any more (a failed or removed upload): no stale analysis or
    recommendations stay on screen, and Map/Tune stop showing it. ``uploads_only`` keeps a
    catalog item that was opened after the upload."""
    ss = st.session_state
    clip = ss.get("clip")
    if clip is None or (uploads_only and clip.source.kind != "clip"):
        return
    ss.clip = None
    if ss.get("focus") == clip.source:
        ss.focus = None


def weights() -> dict[str, float]:
    return dict(st.session_state.weights)


def weights_key(w: dict[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((k, round(float(w.get(k, 0.0)), 4)) for k in WEIGHT_NAMES)


# --- feedback ---------------------------------------------------------------------------------

def feedback(scope: str) -> dict[str, list[str]]:
    return st.session_state.feedback.setdefault(scope, {"liked": [], "disliked": []})


def set_feedback(scope: str, item_id: str, verdict: str) -> None:
    """Button callback: ``verdict`` "liked" | "disliked" | "clear" for one item, written to the
    store at once."""
    _persist(lambda store: store.record_feedback(user_id(), item_id, _VALUES[verdict], scope=scope))
    fb = feedback(scope)
    for v in ("liked", "disliked"):
        if item_id in fb[v]:
            fb[v].remove(item_id)
    if verdict in ("liked", "disliked"):
        fb[verdict].append(item_id)


def clear_feedback(scope: str) -> None:
    _persist(lambda store: store.clear_scope(user_id(), scope=scope))
    st.session_state.feedback.pop(scope, None)


# --- queries and their scores -----------------------------------------------------------------

def sources(personas) -> dict[str, Source]:
    """Label -> source for pickers: the current clip (if any), then every persona."""
    out = {}
    clip = st.session_state.clip
    if clip is not None:
        out[f"Clip: {clip.title}"] = clip.source
    out.update({f"Persona: {p.name}": Source("persona", p.name) for p in personas})
    return out


def default_source_index(options: dict[str, Source]) -> int:
    focus = st.session_state.focus
    values = list(options.values())
    return values.index(focus) if focus in values else 0


def query_for(service, source: Source):
    """The :class:`~recsys.serving.query.Query` of a source, with this session's feedback applied."""
    kind, ident = source.kind, source.ident
    fb = feedback(source.scope)
    # Ratings restored from the store may name items this catalog lacks (another catalog folder).
    known = set(service.catalog.item_ids)
    fb = {v: [i for i in fb[v] if i in known] for v in ("liked", "disliked")}
    if kind == "persona":
        return service.persona_query(ident, liked=list(fb["liked"]), disliked=list(fb["disliked"]))
    if kind == "item":
        base = service.item_query(ident)
    else:
        clip = st.session_state.clip
        if clip is None or clip.source != source:
            raise LookupError("that clip is no longer loaded; analyse it again on Discover")
        base = clip.query
    if not fb["liked"] and not fb["disliked"]:
        return base
    # Likes become the query's history (CF and the matcher score against it); both are excluded.
    liked = [service.catalog.index(i) for i in fb["liked"]]
    disliked = [service.catalog.index(i) for i in fb["disliked"]]
    return dataclasses.replace(base, liked=liked, disliked=disliked,
                               exclude=set(base.exclude) | set(liked) | set(disliked))


def scores_for(service, source: Source, kind: str | None = None):
    """``(query, ComponentScores)`` for a source, computed once per (source, feedback, kind)."""
    fb = feedback(source.scope)
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


def put_scores(source: Source, kind: str | None, query, cs) -> None:
    """Store scores computed elsewhere (Discover times them inside its status box)."""
    fb = feedback(source.scope)
    st.session_state.score_cache[(source, tuple(fb["liked"]), tuple(fb["disliked"]), kind)] = (query, cs)
