"""Catalog: a gallery of every item (picture, title, kind, top labels), filtered by kind and label
and searched on titles and descriptions; the table view is one click away. Open an item to play it
and see its analysis. Clips people added on Discover are listed with the others, marked "added by a user"."""
from __future__ import annotations

import streamlit as st

from recsys.catalog.browse import filter_rows, top_labels
from recsys.catalog.user_clips import USER_SOURCE
from recsys.understanding.label_scoring import label_names
from ui import cache, routing, state
from ui.components import analysis_panel, esc, gallery

routing.through_app()  # a link that is a fresh server's first request ran this file alone

PAGE_SIZE = 24

fp, service = state.service()
cat = service.catalog
items = cat.items
ss = st.session_state
st.title("Catalog")

tags = cache.item_tags(fp)
c1, c2, c3 = st.columns([1, 2, 2])
kinds = c1.segmented_control("Kind", ["audio", "video"], selection_mode="multi", default=["audio", "video"],
                             key="catalog_kind") or []
chosen = c2.multiselect("Labels (all must match)", sorted({t for ts in tags for t in ts}), key="catalog_tags")
search = c3.text_input("Search titles and descriptions", key="catalog_search", placeholder="e.g. rain")
added = set(cat.meta.get("user_clip_ids", ()))
only_added = bool(added) and st.toggle("Only clips added by users", key="catalog_added")
rows = filter_rows(items, kinds=kinds, item_labels=tags, labels=chosen, text=search,
                   only_ids=added if only_added else None)

linked = state.from_address("catalog", state.ITEM_PARAM, set(cat.item_ids))  # a reload or a shared link: ?item=<id>
if linked is not None:
    ss.catalog_item = linked
view = st.segmented_control("View", ["gallery", "table"], default="gallery", key="catalog_view") or "gallery"
n_added = f" ({len(added)} added by users)" if added else ""
st.caption(f"{len(rows)} of {len(items)} items{n_added}. "
           + ("Open a card to play it and see its analysis." if view == "gallery" else
              "Select a row to play it and see its analysis."))

if view == "gallery":
    n_pages = max(1, -(-len(rows) // PAGE_SIZE))
    if ss.get("catalog_page", 1) > n_pages:  # a narrower filter: back to its first page
        ss.catalog_page = 1
    page = st.number_input("Page", 1, n_pages, 1, key="catalog_page") if n_pages > 1 else 1
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    names = label_names()
    gallery([{"item_id": items["item_id"].iloc[r], "title": items["title"].iloc[r], "kind": items["kind"].iloc[r],
              "duration_s": float(items["duration_s"].iloc[r]),
              "labels": top_labels(cat.label_scores[r], names, k=3),
              "added": items["item_id"].iloc[r] in added} for r in shown],
            picture_of=lambda i: cache.item_picture(fp, i), on_open=lambda i: setattr(ss, "catalog_item", i),
            key="catalog")
else:
    table = items.iloc[rows][["item_id", "title", "kind", "duration_s", "license"]].assign(
        tags=[", ".join(tags[r][:6]) for r in rows],
        origin=[USER_SOURCE if iid in added else "catalog" for iid in items["item_id"].iloc[rows]])
    event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                         selection_mode="single-row", key="catalog_table",
                         column_config={"duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f")})
    selected = event.selection.rows if event is not None else []
    if selected:
        ss.catalog_item = table.iloc[selected[0]]["item_id"]

item_id = ss.get("catalog_item")
if item_id not in set(cat.item_ids):
    item_id = None
state.keep_address("catalog", **{state.ITEM_PARAM: item_id})
if item_id is None:
    st.info("Open a card (or select a row of the table) to see that item.")
    st.stop()
row = items.iloc[cat.index(item_id)]
st.header(esc(row["title"]))
st.caption(f"{esc(row['description'])}  \nLicence: {esc(row['license'] or 'unknown')} · "
           f"author: {esc(row['author'] or 'unknown')} · source: {esc(row['source'] or 'unknown')}")
if st.button("Recommend from this item (opens Discover)", key="catalog_open", type="primary"):
    ss.open_item = item_id
    st.switch_page("pages/discover.py", query_params={state.PROFILE_PARAM: state.profile()})
analysis_panel(cat.analysis(item_id), cache.item_display(fp, item_id), cache.item_preview(fp, item_id),
               va_others=items[["valence", "arousal"]].to_numpy())
