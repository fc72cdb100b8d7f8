"""Catalog: browse, filter by kind and tag, search titles, play, and open an item's analysis.
Clips people added on Discover are listed with the others, marked "added by a user"."""
from __future__ import annotations

import numpy as np
import streamlit as st

from recsys.catalog.user_clips import USER_SOURCE
from ui import cache, state
from ui.components import analysis_panel, esc

fp, service = state.service()
cat = service.catalog
items = cat.items
ss = st.session_state
st.title("Catalog")


tags = cache.item_tags(fp)
c1, c2, c3 = st.columns([1, 2, 2])
kinds = c1.segmented_control("Kind", ["audio", "video"], selection_mode="multi", default=["audio", "video"],
                             key="catalog_kind") or []
chosen = c2.multiselect("Tags (all must match)", sorted({t for ts in tags for t in ts}), key="catalog_tags")
search = c3.text_input("Search titles", key="catalog_search", placeholder="e.g. rain")

mask = items["kind"].isin(kinds).to_numpy(copy=True)
if chosen:
    mask = mask & np.array([set(chosen) <= set(ts) for ts in tags], bool)
if search.strip():
    mask = mask & items["title"].str.contains(search.strip(), case=False, regex=False).to_numpy()
added = set(cat.meta.get("user_clip_ids", ()))
if added and st.toggle("Only clips added by users", key="catalog_added"):
    mask = mask & items["item_id"].isin(added).to_numpy()
rows = np.flatnonzero(mask)
table = items.iloc[rows][["item_id", "title", "kind", "duration_s", "license"]].assign(
    tags=[", ".join(tags[r][:6]) for r in rows],
    origin=[USER_SOURCE if iid in added else "catalog" for iid in items["item_id"].iloc[rows]])
n_added = f" ({len(added)} added by users)" if added else ""
st.caption(f"{len(rows)} of {len(items)} items{n_added}. Select a row to play it and see its analysis.")
event = st.dataframe(table, hide_index=True, width="stretch", height=320, on_select="rerun",
                     selection_mode="single-row", key="catalog_table",
                     column_config={"duration_s": st.column_config.NumberColumn("duration (s)", format="%.1f")})

selected = event.selection.rows if event is not None else []
if not selected:
    st.info("Select a row to open that item.")
    st.stop()
item_id = table.iloc[selected[0]]["item_id"]
st.header(esc(table.iloc[selected[0]]["title"]))
row = items.iloc[cat.index(item_id)]
st.caption(f"{esc(row['description'])}  \nLicence: {esc(row['license'] or 'unknown')} · "
           f"author: {esc(row['author'] or 'unknown')} · source: {esc(row['source'] or 'unknown')}")
if st.button("Recommend from this item (opens Discover)", key="catalog_open", type="primary"):
    ss.open_item = item_id
    st.switch_page("pages/discover.py", query_params={state.PROFILE_PARAM: state.profile()})
analysis_panel(cat.analysis(item_id), cache.item_display(fp, item_id), cache.item_preview(fp, item_id),
               va_others=items[["valence", "arousal"]].to_numpy())
