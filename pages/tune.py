"""Tune: one slider per weight, presets, and a live re-rank (inside ``st.fragment``, so only this
part reruns) with how each item moved, beside Recall@10 / NDCG@10 on held-out simulated users."""
from __future__ import annotations

import contextlib

import streamlit as st

from recsys.errors import RecsysError
from recsys.serving.ranker import PRESETS
from recsys.users.personas import load_personas
from ui import cache, heap, routing, state
from ui.components import COMPONENT_LABELS, component_bar, component_legend, esc

routing.through_app()  # a link that is a fresh server's first request ran this file alone

fp, service = state.service()
ss = st.session_state
st.title("Tune")
st.caption("Move a weight and the ranking below is recomputed from cached component scores; the metrics "
           "on the right are Recall@10 and NDCG@10 of these weights, measured catalog-wide on held-out "
           "simulated users (not on the query you pick).")

options = state.sources(load_personas())
c1, c2 = st.columns([2, 1])
label = c1.selectbox("Recommend for", list(options), index=state.default_source_index(options), key="tune_source")
source = options[label]


CUSTOM = "custom"


def apply_preset() -> None:
    if ss.tune_preset == CUSTOM:  # keep the sliders where they are
        return
    preset = PRESETS[ss.tune_preset]
    for name in state.WEIGHT_NAMES:
        ss[f"w_{name}"] = float(preset.get(name, 0.0))


def name_preset() -> None:
    """Slider callback: the preset box names the preset the sliders now match, else "custom"."""
    now = {name: float(ss[f"w_{name}"]) for name in state.WEIGHT_NAMES}
    ss.tune_preset = next((p for p, w in PRESETS.items()
                           if all(abs(float(w.get(n, 0.0)) - v) < 1e-6 for n, v in now.items())), CUSTOM)


ss.setdefault("tune_preset", "balanced")
c2.selectbox("Preset", [*PRESETS, CUSTOM], key="tune_preset", on_change=apply_preset)
for name in state.WEIGHT_NAMES:  # sliders start from this session's weights
    ss.setdefault(f"w_{name}", float(ss.weights.get(name, 0.0)))

try:
    query, cs = state.scores_for(service, source)
except (RecsysError, LookupError) as err:
    st.error(esc(str(err)))
    st.stop()


def moves(ids: list[str], before: list[str] | None) -> dict[str, str]:
    if not before:
        return {}
    out = {}
    for new, item in enumerate(ids):
        if item not in before:
            out[item] = ":blue[new]"
        elif (old := before.index(item)) != new:
            out[item] = f":green[▲ {old - new}]" if old > new else f":red[▼ {new - old}]"
        else:
            out[item] = ":gray[=]"
    return out


@st.fragment
def tuner() -> None:
    sliders, ranking, quality = st.columns([1, 2, 1], gap="large")
    with sliders:
        st.markdown("**Weights**")
        for name in state.WEIGHT_NAMES:
            st.slider(COMPONENT_LABELS[name], 0.0, 1.0 if name == "diversity" else 2.0, step=0.05,
                      key=f"w_{name}", on_change=name_preset)
    weights = {name: float(ss[f"w_{name}"]) for name in state.WEIGHT_NAMES}
    ss.weights = weights
    recs = service.rank(query, cs, weights, k=10)
    ids = [r.item_id for r in recs]
    # "Moved" compares with the ranking before the last weight change, for the same query.
    key = (source, state.weights_key(weights))
    last = ss.get("tune_last")
    if last is None or last["source"] != source:
        ss.tune_last = last = {"source": source, "key": key, "ids": ids, "before": None, "prev_key": None}
    elif last["key"] != key:
        last.update(before=last["ids"], prev_key=last["key"], key=key, ids=ids)
    marks = moves(ids, last["before"])
    with ranking:
        st.markdown(f"**Ranking for {esc(query.label)}**")
        component_legend()
        with st.container(key="tune-ranking", gap="small"):
            scale = max([r.score for r in recs] + [1e-9])
            for i, r in enumerate(recs):
                mark = marks.get(r.item_id, "")
                st.markdown(f"**{i + 1}\\.** {esc(r.title)} :gray[· {r.kind} · {r.score:.2f}] {mark}")
                component_bar(r.components, scale)
        if not recs:
            st.info("Nothing to rank for this query.")
    with quality:
        st.markdown("**Held-out quality**")
        slow = weights.get("diversity", 0.0) > 0  # MMR is evaluated per user: seconds, not milliseconds
        busy = st.spinner("Scoring diversified lists for every validation user…", show_time=True) if slow \
            else contextlib.nullcontext()
        with busy:
            metrics = cache.validation_metrics(fp, state.weights_key(weights))
        if metrics is None:
            st.info("Validation metrics are not available in this version of the library.")
            return
        before = cache.validation_metrics(fp, last["prev_key"][1]) if last["prev_key"] else None
        for name, title in (("recall@10", "Recall@10"), ("ndcg@10", "NDCG@10")):
            delta = None if before is None else f"{metrics[name] - before[name]:+.3f}"
            st.metric(title, f"{metrics[name]:.3f}", delta=delta)
        st.caption(f"Catalog-wide, not for the query on the left: measured on {metrics.get('n_users', 0)} "
                   "simulated validation users, each with 25% of their items held out. Delta: against the "
                   "weights before the last change.")
    heap.freeze_if_slow()  # a fragment rerun does not reach the end of app.py


with st.spinner("Preparing held-out validation users (first time only)…"):
    cache.get_validator(fp)
tuner()
