"""Embedding map: the catalog's UMAP layout (PCA until UMAP is ready), the current query placed
with ``transform()`` and joined to its top-k; click a point to open that item."""
from __future__ import annotations

import numpy as np
import streamlit as st

from recsys.errors import RecsysError
from recsys.understanding.label_key import LabelKey
from recsys.understanding.label_scoring import FACETS, label_names
from recsys.users.personas import load_personas
from ui import cache, routing, state
from ui.components import analysis_panel, esc, map_figure, rec_cards

routing.through_app()  # a link that is a fresh server's first request ran this file alone

fp, service = state.service()
cat = service.catalog
ss = st.session_state
st.title("Embedding map")

bmap = cache.get_map(fp)
emap = bmap.current()
if emap.method == "umap":
    st.caption(f"UMAP of the {len(cat)} item vectors (cosine).")
else:
    note = bmap.error or "UMAP is being computed in the background; showing PCA meanwhile."
    c1, c2 = st.columns([4, 1])
    c1.info(esc(note))
    c2.button("Refresh", key="map_refresh")

names = label_names()
COLOR_BY = ("theme", "emotion", "style", "kind", "cluster")
c1, c2, c3 = st.columns([1, 2, 1])
color_by = c1.selectbox("Colour by", COLOR_BY, key="map_color")
options = {"(nothing)": None, **state.sources(load_personas())}
values = list(options.values())
place = c2.selectbox("Place on the map", list(options), key="map_source",
                     index=values.index(ss.focus) if ss.focus in values else min(1, len(values) - 1))
k = c3.slider("Top-k", 1, 20, 10, key="map_k")

if color_by in ("theme", "emotion", "style"):
    facet = FACETS[("theme", "emotion", "style").index(color_by)]
    cols = [j for j, n in enumerate(names) if LabelKey.parse(n).facet == facet]
    best = np.asarray(cols)[cat.label_scores[:, cols].argmax(1)]
    groups = [LabelKey.parse(names[j]).display for j in best]
elif color_by == "kind":
    groups = list(cat.items["kind"])
else:
    groups = [f"cluster {c}" for c in cache.clusters(fp)]

source = options[place]
query_xy, top_rows, query_label = None, [], ""
if source is not None:
    try:
        query, cs = state.scores_for(service, source)
        recs = service.rank(query, cs, state.weights(), k=k)
        top_rows = [r.row for r in recs]
        vec = query.vector(cat.embeddings)
        if vec is not None:
            query_xy = emap.transform(vec[None, :])[0]
            query_label = query.label
    except (RecsysError, LookupError) as err:
        st.warning(esc(str(err)))

linked = state.from_address("map", state.ITEM_PARAM, set(cat.item_ids))  # a reload or a shared link: ?item=<id>
if linked is not None:
    ss.map_selected = linked
selected = ss.get("map_selected")
sel_row = cat.index(selected) if selected in cat.item_ids else None
fig = map_figure(emap.coords, groups, list(cat.items["title"]), cat.item_ids, query_xy=query_xy,
                 query_label=query_label, top_rows=top_rows, selected_row=sel_row,
                 details=cache.item_summaries(fp))
if query_xy is not None:
    st.caption(f"The star is the query, projected into this {emap.method.upper()} layout with `transform()`: its "
               "position is approximate. The lines join it to its actual top-k (ringed), which the ranking chose "
               "on the full vectors, not on distances in this picture.")
event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="map_plot", width="stretch",
                        config={"displayModeBar": False})
points = (event or {}).get("selection", {}).get("points", [])  # PlotlyState reads as a dict
clicked = [p.get("customdata") for p in points if isinstance(p.get("customdata"), str)]
if clicked and clicked[0] != selected:
    ss.map_selected = selected = clicked[0]
    st.rerun()

state.keep_address("map", **{state.ITEM_PARAM: selected if selected in cat.item_ids else None})
if selected not in cat.item_ids:
    st.info("Click a point to open that item: its player, analysis and nearest neighbours.")
    st.stop()
st.header(esc(cat.items.iloc[cat.index(selected)]["title"]))
analysis_panel(cat.analysis(selected), cache.item_display(fp, selected), cache.item_preview(fp, selected))
st.subheader("Its neighbours")
q, cs = state.scores_for(service, state.Source("item", selected))
rec_cards(service.rank(q, cs, state.weights(), k=6), preview_of=lambda i: cache.item_preview(fp, i),
          picture_of=lambda i: cache.item_picture(fp, i), scope=None, key="map", n_cols=3)
