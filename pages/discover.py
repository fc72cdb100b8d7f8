"""Discover: upload a clip (or pick one from the catalog), see how it is understood and what it
recommends. The upload stays in this session (bytes in memory; its name is only a label) unless
the person adds it to the catalog, which every session then sees."""
from __future__ import annotations

import dataclasses
import hashlib
import time

import streamlit as st

from recsys.analysis.analyzer import STAGES as ANALYSIS_STAGES
from recsys.analysis.analyzer import ClipMetadata, title_from_filename
from recsys.catalog.user_clips import add_analysed_clip
from recsys.errors import RecsysError, plain_message
from recsys.media.decode import MEDIA_EXTENSIONS
from recsys.media.display import display_arrays
from recsys.media.preview import browser_safe
from ui import cache, routing, state
from ui.components import (
    analysis_panel,
    esc,
    examples,
    failure_box,
    feedback_summary,
    preload_components,
    rec_cards,
)
from ui.state import ClipSession, Source

routing.through_app()  # a link that is a fresh server's first request ran this file alone

STAGES = (*ANALYSIS_STAGES, "ranking")

fp, service = state.service()
cat = service.catalog
ss = st.session_state
st.title("Discover")
st.caption("Upload an audio or video clip, or pick one from the catalog: the app decodes it, runs the frame, "
           "sound and text encoders, infers themes, emotions and styles, and ranks the catalog.")


STAGE_NOTES = {"load_models": "loading the models (first upload after a start)", "decode": "reading the file",
               "frames": "encoding the pictures", "sound": "encoding the sound", "music": "the music tagger", "text": "encoding the title and words",
               "understanding": "themes, emotions, styles"}


def analyse_upload(data: bytes, name: str, title: str, description: str, digest: str) -> None:
    an = service.analyzer
    sha = hashlib.sha256(data).hexdigest()
    same_as = service.item_with_content(sha, len(data))  # these bytes are in the catalog already
    with st.status(f"Analysing {esc(name)}…", expanded=True) as box, cache.analysing():
        meta = ClipMetadata(title=title.strip() or title_from_filename(name), description=description.strip())
        try:
            a = an.analyze(data, metadata=meta, name=name, limits=cache.upload_limits(an.config.limits),
                           on_stage=lambda stage, ms: st.write(f"✓ {stage}: {STAGE_NOTES.get(stage, stage)} ({ms:.0f} ms)"))
            t0 = time.perf_counter()
            query = service.clip_query(a, same_content=same_as)
            cs = service.scores(query)
            timings = {**a.timings_ms, "ranking": 1000 * (time.perf_counter() - t0)}
            st.write(f"✓ ranking: the catalog ({timings['ranking']:.0f} ms)")
            try:
                preview = browser_safe(data, name=name)
            except RecsysError as err:
                preview = (None, str(err))
            display = display_arrays(a.media)
        except RecsysError as err:
            box.update(label=f"Could not analyse {esc(name)}", state="error", expanded=False)
            ss.upload_error = (digest, *plain_message(err), str(err))
            state.clear_clip()  # the previous clip's results must not stay under the error
            return
        except (ImportError, OSError, RuntimeError) as err:  # the pretrained models did not load
            box.update(label="The pretrained models are not available", state="error", expanded=False)
            ss.upload_error = (digest, "Uploads cannot be analysed: the models did not load.",
                               "Catalog items still work: pick one on the other tab.",
                               f"{type(err).__name__}: {err}")
            state.clear_clip()
            return
        total = sum(v for k, v in timings.items() if k in STAGES)
        box.update(label=f"Analysed {esc(name)} in {total / 1000:.1f} s", state="complete", expanded=False)
    source = Source("clip", digest)
    ss.clip = ClipSession(source=source, title=meta.title, analysis=a.to_dict(include_embedding=False),
                          display=display, preview=preview, query=query, timings=timings,
                          description=meta.description, analysed=dataclasses.replace(a, media=None),
                          sha256=sha, same_as=same_as)
    state.put_scores(source, None, query, cs)
    ss.focus = source


def add_to_catalog(data: bytes, name: str, clip: ClipSession) -> None:
    """Store the upload (bytes and analysis) for every session, refit, rerun."""
    store, error = cache.open_store()
    if store is None:
        st.error(esc(f"Clips cannot be added: {error}"))
        return
    prior = store.clip_with_content(data)  # another session added these bytes meanwhile
    if prior is not None:
        clip.same_as = prior["clip_id"]
        ss.added_note = (clip.source, f"Not added: this file is already in the catalog as “{esc(prior['title'])}”.")
        st.rerun()
    try:
        clip.same_as = add_analysed_clip(
            store, data, clip.analysed, title=clip.title, description=clip.description, name=name,
            max_bytes=cache.upload_limits(service.analyzer.config.limits).max_bytes)
    except (RecsysError, OSError) as err:
        st.error(esc(str(err)))
        return
    t0 = time.perf_counter()
    with st.spinner("Adding the clip to the catalog and refitting the recommender…"):
        new = cache.get_service(cache.catalog_fingerprint())
    ss.added_note = (clip.source, f"Added to the catalog ({len(new.catalog)} items); the recommender was "
                                     f"refitted in {time.perf_counter() - t0:.1f} s.")
    st.rerun()


def open_item(item_id: str) -> None:
    with st.spinner("Loading the item's stored analysis…"):
        t0 = time.perf_counter()
        query = service.item_query(item_id)
        cs = service.scores(query)
        ranking_ms = 1000 * (time.perf_counter() - t0)
        analysis = cat.analysis(item_id)
    timings = {k: v for k, v in (analysis.get("timings_ms") or {}).items() if k in STAGES}
    timings["ranking"] = ranking_ms
    source = Source("item", item_id)
    ss.clip = ClipSession(source=source, title=str(cat.items.iloc[cat.index(item_id)]["title"]), analysis=analysis,
                          display=cache.item_display(fp, item_id), preview=cache.item_preview(fp, item_id),
                          query=query, timings=timings)
    state.put_scores(source, None, query, cs)
    ss.focus = source


linked = state.from_address("discover", state.ITEM_PARAM, set(cat.item_ids))  # a reload or a shared link: ?item=<id>
if linked is not None:
    ss.open_item = ss.pick_item = linked

up_tab, pick_tab = st.tabs(["Upload a clip", "Pick from the catalog"])
with up_tab:
    upload = st.file_uploader("Audio or video clip", type=sorted(e.lstrip(".") for e in MEDIA_EXTENSIONS),
                              key="upload", max_upload_size=cache.UPLOAD_MAX_MB,
                              help="Stays in this browser session; nothing is written to disk unless you add "
                                   "it to the catalog.")
    with st.expander("Title and description (optional: they feed the text match)"):
        title = st.text_input("Title", key="upload_title", max_chars=200)
        description = st.text_area("Description", key="upload_description", max_chars=2000, height=80)
with pick_tab:
    ids = cat.item_ids
    labels = {i: f"{t} ({k})" for i, t, k in zip(ids, cat.items["title"], cat.items["kind"])}
    pick = st.selectbox("Catalog item", ids, format_func=labels.get, key="pick_item")
    if st.button("Analyse this item", key="pick_go", type="primary"):
        ss.open_item = pick

failed = False
if upload is None:
    if ss.get("last_upload") is not None:  # the file was removed with ×: its results go with it
        ss.last_upload = ss.upload_error = None
        state.clear_clip(uploads_only=True)
else:
    data = upload.getvalue()
    digest = hashlib.sha256(data + b"\0" + title.encode() + b"\0" + description.encode()).hexdigest()[:16]
    if ss.get("last_upload") != digest:
        ss.last_upload, ss.upload_error = digest, None
        analyse_upload(data, upload.name, title, description, digest)
    error = ss.get("upload_error")
    if error and error[0] == digest:  # shown for as long as that file stays in the uploader
        failure_box(upload.name, *error[1:])
        failed = ss.clip is None
if ss.open_item:
    item, ss.open_item = ss.open_item, None
    try:
        open_item(item)
    except RecsysError as err:
        st.error(esc(str(err)))

clip = ss.clip
opened = clip.source.ident if clip is not None and clip.source.kind == "item" else None
state.keep_address("discover", **{state.ITEM_PARAM: opened})
if clip is None:
    if failed:
        st.info("Not analysed: nothing is shown for this file. Upload another file, or pick a clip from the "
                "catalog.", icon=":material/block:")
    else:
        st.info("Upload a clip or pick one from the catalog to see its analysis and recommendations.")
    examples(cat.items, picture_of=lambda i: cache.item_picture(fp, i),
             on_pick=lambda i: setattr(ss, "open_item", i), key="discover")
    preload_components()  # the results' charts, tables and players load while a file is chosen
    st.stop()

st.header(esc(clip.title))
analysis_panel(clip.analysis, clip.display, clip.preview,
               va_others=cat.items[["valence", "arousal"]].to_numpy())
with st.expander("Processing steps and timings"):
    st.dataframe([{"step": k, "ms": round(v, 1)} for k, v in clip.timings.items()], hide_index=True)

source = clip.source
note = ss.get("added_note")
if note and note[0] == source:
    (st.info if note[1].startswith("Not added") else st.success)(note[1])
elif source.kind == "clip" and clip.same_as is not None and clip.same_as in set(ids):
    same_title = cat.items.iloc[cat.index(clip.same_as)]["title"]
    st.info(f"Already in the catalog as “{esc(same_title)}”: it is left out of its own recommendations.",
            icon=":material/content_copy:")
elif source.kind == "clip" and upload is not None and ss.get("last_upload") == source.ident:
    if clip.query.exclude:  # an item with the same content and text is already there
        st.caption("This clip is already in the catalog.")
    elif st.button("Add to catalog", key="add_to_catalog", icon=":material/library_add:",
                   help="Every visitor will find it on the Catalog page and in recommendations."):
        add_to_catalog(upload.getvalue(), upload.name, clip)

st.subheader("Recommendations")
scope = source.scope
kind = st.segmented_control("Show", ["all", "audio", "video"], default="all", key="discover_kind") or "all"
feedback_summary(state.feedback(scope), dict(zip(ids, cat.items["title"])), scope=scope,
                 on_feedback=state.set_feedback, key="discover")
try:
    query, cs = state.scores_for(service, source, None if kind == "all" else kind)
except (RecsysError, LookupError) as err:
    st.error(esc(str(err)))
    st.stop()
recs = service.rank(query, cs, state.weights(), k=10)
st.caption("Weights come from the Tune page. Like adds an item to this clip's history (the collaborative and "
           "matcher scores then use it); Dislike removes it from the list.")
rec_cards(recs, preview_of=lambda i: cache.item_preview(fp, i), picture_of=lambda i: cache.item_picture(fp, i),
          scope=scope, on_feedback=state.set_feedback, key="discover")
