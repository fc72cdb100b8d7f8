"""Evaluation: the last ``python -m recsys evaluate`` report, the training curves of the fitted
models, held-out metrics of the presets, and a model card (data, licences, models, device)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from recsys.paths import SAMPLE_DATA_DIR
from recsys.serving.ranker import PRESETS
from ui import cache, routing, state
from ui.components import esc

routing.through_app()  # a link that is a fresh server's first request ran this file alone

fp, service = state.service()
cat = service.catalog
st.title("Evaluation")

st.subheader("Last offline evaluation")
path = cache.latest_report_path()
report = cache.read_report(str(path), path.stat().st_mtime_ns) if path else None
if report is None:
    st.info("No evaluation report yet. Run one (it writes JSON and Markdown under `reports/`):")
    st.code("python -m recsys evaluate --dataset movielens data/movielens-100k --protocol stratified-75-25 "
            "--report reports", language="bash")
else:
    data = report.get("data") or {}
    st.caption(esc(f"{path.name}: data set {report.get('dataset', '?')}, protocol {report.get('protocol', '?')}, "
                   f"k={report.get('k')}; {data.get('n_users', '?')} users, {data.get('n_items', '?')} items, "
                   f"{data.get('n_interactions', '?')} interactions, {data.get('n_test_users', '?')} test users."))
    rows = {name: {**entry.get("metrics", {}), "fit s": entry.get("fit_s"), "score s": entry.get("score_s")}
            for name, entry in report.get("models", {}).items()}
    table = pd.DataFrame(rows).T
    st.dataframe(table, width="stretch")
    k = report.get("k", 10)
    cols = [c for c in (f"ndcg@{k}", f"recall@{k}", f"hit_rate@{k}") if c in table.columns]
    if cols:
        fig = go.Figure([go.Bar(name=c, x=list(table.index), y=table[c].astype(float)) for c in cols])
        fig.update_layout(barmode="group", height=320, margin=dict(l=10, r=10, t=30, b=10))
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key="eval_report_chart")

st.subheader("Held-out quality of the presets on this catalog")
validator = cache.get_validator(fp)
if validator is None:
    st.info("Validation metrics are not available in this version of the library.")
else:
    rows = []
    for name, w in PRESETS.items():
        m = cache.validation_metrics(fp, state.weights_key(w))
        rows.append({"weights": name, "recall@10": m["recall@10"], "ndcg@10": m["ndcg@10"]})
    current = cache.validation_metrics(fp, state.weights_key(state.weights()))
    rows.append({"weights": "this session (Tune)", "recall@10": current["recall@10"], "ndcg@10": current["ndcg@10"]})
    st.dataframe(pd.DataFrame(rows).round(4), hide_index=True, width="stretch")
    st.caption(f"{current.get('n_users', 0)} validation users; their interactions are simulated.")

st.subheader("Training curves")
curves = {"BPR matrix factorisation": getattr(service.hybrid.bpr_, "history_", None),
          "Matching network M(p_u, f_v)": getattr(service.hybrid.matcher_, "history_", None)}
cols = st.columns(2)
for col, (title, history) in zip(cols, curves.items()):
    with col:
        st.markdown(f"**{title}**")
        series = {k: v for k, v in (history or {}).items() if isinstance(v, (list, tuple)) and len(v)}
        if not series:
            st.caption("No training history recorded.")
            continue
        fig = go.Figure([go.Scatter(y=list(v), name=k, mode="lines", yaxis="y2" if "loss" not in k else "y")
                         for k, v in series.items()])
        if any("loss" not in k for k in series):  # ranking quality on its own axis, right
            fig.update_layout(yaxis2=dict(overlaying="y", side="right", title="validation"))
        if isinstance((history or {}).get("best_epoch"), int):
            fig.add_vline(x=history["best_epoch"], line_dash="dot", annotation_text="best epoch")
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="epoch", yaxis_title="loss",
                          legend=dict(orientation="h", y=1.02, yanchor="bottom"))
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False}, key=f"curve_{title[:3]}")

st.subheader("Model card")
items = cat.items
st.markdown("**Data.** " + esc(f"{len(items)} clips ({(items['kind'] == 'audio').sum()} audio, "
                               f"{(items['kind'] == 'video').sum()} video) from the "
                               f"{'sample' if cat.media_dir.resolve() == SAMPLE_DATA_DIR.resolve() else 'configured'} "
                               f"media folder “{cat.media_dir.name}”.") +
            " Demo users and their interactions are **simulated** from the personas (taste plus noise; see "
            "`recsys/users/personas.py`); every metric on this page that uses them measures agreement with the "
            "simulator, not real people.")
licences = items["license"].replace("", "unknown").value_counts().rename_axis("licence").reset_index(name="clips")
st.dataframe(licences, hide_index=True)
attribution = SAMPLE_DATA_DIR / "ATTRIBUTION.md"
if attribution.is_file():
    with st.expander("Attribution of the sample clips (sample_data/ATTRIBUTION.md)"):
        st.markdown(cache.read_text(str(attribution), attribution.stat().st_mtime_ns) or "")
st.markdown("**Models.**")
st.dataframe(pd.DataFrame([
    ("frames", "EfficientNet-Lite0", "ImageNet-1k", "Apache-2.0"),
    ("sound", "YAMNet", "AudioSet", "Apache-2.0"),
    ("text", "all-MiniLM-L6-v2", "sentence pairs (1B+)", "Apache-2.0"),
    ("speech", "Whisper tiny.en", "680k h of speech", "MIT"),
    ("collaborative", "BPR matrix factorisation", "simulated demo users", "fitted here"),
    ("matching", "MLP M(concat[p_u, f_v]) (Adam)", "simulated demo users", "fitted here"),
], columns=["role", "model", "trained on", "licence"]), hide_index=True, width="stretch")
from recsys.device import get_device  # noqa: E402  (imports torch; already loaded by the service)

st.markdown(f"**Device in use:** `{get_device()}`")
