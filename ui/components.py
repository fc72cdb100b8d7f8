"""Shared rendering: players, chips, the analysis panel, recommendation cards, charts.

Text that comes from users or from media metadata (titles, descriptions, file names,
explanations quoting titles) goes through :func:`esc` before any Markdown call, and no HTML is
ever built from it: the only ``unsafe_allow_html`` use is the score-component bar, made of fixed
component names and numbers, and the one script, :func:`preload_components`, is made of the
file names of the installed Streamlit's own browser code.
"""
from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from recsys.serving.ranker import COMPONENTS
from recsys.understanding.label_key import LabelKey

COMPONENT_COLORS = {"visual": "#4C78A8", "audio": "#F58518", "music": "#EECA3B", "text": "#54A24B", "semantic": "#B279A2",
                    "cf": "#E45756", "matcher": "#72B7B2", "popularity": "#9D755D"}
COMPONENT_LABELS = {"visual": "visual", "audio": "audio", "music": "music (genre, mood)", "text": "text", "semantic": "semantic tags",
                    "cf": "collaborative", "matcher": "matcher", "popularity": "popularity",
                    "diversity": "diversity"}
FACET_COLORS = {"themes": "blue", "emotions": "orange", "styles": "violet"}
FACET_HEX = {"themes": "#1f77b4", "emotions": "#ff7f0e", "styles": "#9467bd"}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def esc(text) -> str:
    """Escape Markdown (and Streamlit's ``:color[...]`` directives) in untrusted text."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


# --- browser code ---------------------------------------------------------------------------------

# The browser code of the elements a clip's results show (the sound and valence charts, the
# tables, the players): Streamlit fetches each one the first time the session shows one.
RESULT_COMPONENTS = ("PlotlyChart", "DataFrame", "Video", "Audio")


@functools.cache
def _component_chunks(names: tuple[str, ...]) -> tuple[str, ...]:
    """The file names of the installed Streamlit's code for the elements ``names``
    (``PlotlyChart.<hash>.js``, ...); those not found exactly once are left out."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = [sorted(folder.glob(f"{name}.*.js")) for name in names]
    return tuple(f[0].name for f in found if len(f) == 1)


def preload_components(names: tuple[str, ...] = RESULT_COMPONENTS) -> None:
    """Load the browser code of the elements a result page needs while the visitor is still
    choosing a file, when the browser is idle. Streamlit loads an element's code the first time
    a session shows one; Plotly's is 4.7 MB of JavaScript, several seconds to load and compile on
    a busy 2-core machine, and the session's first recommendation cards (their players) waited
    for it. Imports the same module files Streamlit would import later, once per page load; does
    nothing when this Streamlit's files are not where they are looked for."""
    chunks = _component_chunks(tuple(names))
    if not chunks:
        return
    script = """<script>(() => {
  if (window.__recsysPreloaded) return;
  const main = [...document.querySelectorAll("script[type=module][src]")].find(s => /\\/static\\/js\\/index\\.[^/]+\\.js$/.test(s.src));
  if (!main) return;
  window.__recsysPreloaded = true;
  const base = main.src.slice(0, main.src.lastIndexOf("/") + 1);
  const load = () => CHUNKS.reduce((done, chunk) => done.then(() => import(base + chunk)).catch(() => {}), Promise.resolve());
  (window.requestIdleCallback || (f => setTimeout(f, 300)))(load, {timeout: 500});
})();</script>""".replace("CHUNKS", json.dumps(list(chunks)))
    st.html(script, unsafe_allow_javascript=True)


# --- players -------------------------------------------------------------------------------------

def player(preview: tuple[bytes | None, str]) -> None:
    """An ``st.video``/``st.audio`` element for ``(data, mime)``, or a note why there is none."""
    data, mime = preview
    if data is None:
        st.caption(f"No preview: {esc(mime)}")
    elif mime.startswith("video"):
        st.video(data, format=mime)
    else:
        st.audio(data, format=mime)


def failure_box(name: str, problem: str, advice: str, detail: str) -> None:
    """An upload that could not be analysed: what is wrong and what to try in plain words (see
    :func:`recsys.errors.plain_message`), the library's one-line reason after them. One line."""
    st.error(f"**{esc(problem)}** {esc(advice)} :gray[({esc(name)}: {esc(_strip_label(detail, name))})]",
             icon=":material/error:")


def _strip_label(detail: str, name: str) -> str:
    return detail[len(name) + 2:] if detail.startswith(f"{name}: ") else detail


def example_items(items, n: int = 4) -> list[str]:
    """``n`` catalog item ids of different kinds and sources for one-click examples: the kinds
    alternate (audio, video, ...), each the first item of a source prefix not used yet."""
    by_kind: dict[str, list[str]] = {}
    seen: set[str] = set()
    for item_id, kind in zip(items["item_id"], items["kind"]):
        prefix = str(item_id).split("_")[0]
        if prefix not in seen:
            seen.add(prefix)
            by_kind.setdefault(str(kind), []).append(str(item_id))
    out: list[str] = []
    while len(out) < n and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(out) < n:
                out.append(by_kind[kind].pop(0))
    return out


def examples(items, *, picture_of, on_pick, key: str) -> None:
    """One-click examples: a picture and a button per item; ``on_pick(item_id)`` on click."""
    ids = example_items(items)
    if not ids:
        return
    st.markdown("**Or try one of these:**")
    titles = dict(zip(items["item_id"], items["title"]))
    kinds = dict(zip(items["item_id"], items["kind"]))
    cols = st.columns(len(ids), gap="small")
    for col, item_id in zip(cols, ids):
        with col.container(border=True, key=f"{key}-example-{item_id}"):
            picture = picture_of(item_id)
            if picture is not None:
                st.image(picture, width="stretch")
            st.button(esc(titles[item_id]), key=f"{key}-try-{item_id}", on_click=on_pick, args=(item_id,),
                      help=f"Analyse this {kinds[item_id]} clip from the catalog", width="stretch")


# --- analysis panel ------------------------------------------------------------------------------

def sound_figure(display: dict) -> go.Figure | None:
    """Waveform (top) and log-mel spectrogram (bottom) of the analysed audio."""
    if display.get("env") is None:
        return None
    from plotly.subplots import make_subplots

    t, lo, hi = display["env"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.35, 0.65], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line=dict(width=0.5, color="#4C78A8"), hoverinfo="skip",
                             showlegend=False), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", fill="tonexty", line=dict(width=0.5, color="#4C78A8"),
                             hoverinfo="skip", showlegend=False), row=1, col=1)
    mel, dt = display["mel"]
    # Viridis, not Magma/Inferno: Streamlit's chart frontend repaints near-black colours (the floor).
    fig.add_trace(go.Heatmap(z=np.round(mel).astype(np.int16), x=np.arange(mel.shape[1]) * dt,
                             colorscale="Viridis", showscale=False, zmin=-80, zmax=0,
                             hovertemplate="%{x:.1f} s, mel band %{y}: %{z:.0f} dB<extra></extra>"), row=2, col=1)
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=40))
    fig.update_yaxes(showticklabels=False)
    fig.update_xaxes(title_text="analysed audio (s)", row=2, col=1)
    return fig


def va_figure(valence: float, arousal: float, *, label: str = "this clip", others=None) -> go.Figure:
    """The clip on the valence/arousal plane, with the catalog faint behind it."""
    fig = go.Figure()
    if others is not None and len(others):
        fig.add_trace(go.Scatter(x=others[:, 0], y=others[:, 1], mode="markers", name="catalog",
                                 marker=dict(size=5, color="lightgray"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[valence], y=[arousal], mode="markers", name=html.escape(label),
                             marker=dict(size=16, color="#E45756", line=dict(width=1, color="black")),
                             hovertemplate="valence %{x:+.2f}<br>arousal %{y:+.2f}<extra></extra>"))
    for x, y, text in ((0.6, 0.9, "excited, happy"), (-0.6, 0.9, "tense, angry"), (-0.6, -0.9, "sad, gloomy"),
                       (0.6, -0.9, "calm, content")):
        fig.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(color="gray", size=11))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                      xaxis=dict(range=[-1.05, 1.05], title="valence", zeroline=True),
                      yaxis=dict(range=[-1.05, 1.05], title="arousal", zeroline=True))
    return fig


ABSTAIN_CHIP = {"themes": "no clear theme", "emotions": "no clear emotion", "styles": "no clear style"}


def chips(analysis: dict, *, top: int = 5, min_score: float = 0.0) -> None:
    """Theme, emotion and style chips with scores; the evidence shows on hover. A facet with no
    label sure enough says so ("no clear theme"), with the reason on hover, and the analysis'
    low-confidence notes follow the chips."""
    for facet in ("themes", "emotions", "styles"):
        labels = [x for x in analysis.get(facet, [])[:top] if x["score"] >= min_score]
        row = st.container(horizontal=True, gap="small")
        row.markdown(f"**{facet.capitalize()}**")
        for x in labels:
            row.badge(f"{x['label'].replace('_', ' ')} {x['score']:.2f}", color=FACET_COLORS[facet],
                      help=esc(x.get("evidence") or "no evidence recorded"))
        if not labels:
            reason = (analysis.get("abstain") or {}).get(facet) or "no label passed its calibrated threshold"
            row.badge(ABSTAIN_CHIP[facet], color="gray", icon=":material/help:", help=esc(reason))
    for note in analysis.get("understanding_notes") or []:
        st.caption(f":material/info: {esc(note)}")


def evidence_table(analysis: dict) -> None:
    rows = [{"facet": f, "label": x["label"], "score": x["score"], "evidence": x.get("evidence", "")}
            for f in ("themes", "emotions", "styles") for x in analysis.get(f, [])]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0,
                                                                         format="%.2f"),
                                "evidence": st.column_config.TextColumn("evidence", width="large")})


def analysis_panel(analysis: dict, display: dict, preview: tuple[bytes | None, str], *, va_others=None) -> None:
    """Player, frames, sound, understanding chips with evidence, valence/arousal."""
    left, right = st.columns([1, 1], gap="medium")
    with left:
        player(preview)
        if display.get("strip") is not None:
            times = ", ".join(f"{t:.1f}" for t in display["strip_times"])
            st.image(display["strip"], caption=f"sampled frames at {times} s", width="stretch")
        if display.get("error"):
            st.caption(f"Frames and sound unavailable: {esc(display['error'])}")
        chips(analysis)
    with right:
        fig = sound_figure(display)
        if fig is not None:  # theme=None: Streamlit's theme would replace the spectrogram's colour scale
            st.plotly_chart(fig, width="stretch", theme=None, config={"displayModeBar": False})
        elif not display.get("error"):
            st.caption("No sound track.")
        st.plotly_chart(va_figure(analysis.get("valence", 0.0), analysis.get("arousal", 0.0), others=va_others),
                        width="stretch", config={"displayModeBar": False})
        evidence = analysis.get("valence_arousal_evidence") or []
        if evidence:
            st.caption("Valence/arousal from: " + esc("; ".join(evidence)))
    with st.expander("Evidence for every label (full width)"):
        evidence_table(analysis)
    if analysis.get("warnings"):
        st.caption("Notes from the analysis: " + esc("; ".join(analysis["warnings"])))
    with st.expander("Details: top classes, descriptors, timings"):
        details_tables(analysis)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _pairs(d: dict) -> list[dict]:
    """Name/value rows of a flat dict; file paths (server-side) are never shown."""
    return [{"what": str(k).replace("_", " "), "value": _cell(v)} for k, v in d.items()
            if "path" not in str(k) and v not in (None, "", [], {})]


def details_tables(analysis: dict) -> None:
    """The analysis's numbers as readable tables (not JSON): the clip, its top classes per model,
    its sound and picture descriptors, and the time each step took."""
    clip = {"kind": analysis.get("kind"), "duration (s)": analysis.get("duration_s"),
            "speech fraction": analysis.get("speech_fraction"), "transcript": analysis.get("transcript"),
            **{k: v for k, v in (analysis.get("media") or {}).items()}}
    st.markdown("**Clip**")
    st.dataframe(_pairs(clip), hide_index=True, width="stretch")
    tops = analysis.get("top_classes") or {}
    rows = [{"model": m.replace("_", " "), "class": x.get("label"), "score": x.get("score")}
            for m, xs in tops.items() for x in (xs or [])]
    if rows:
        st.markdown("**Top classes per model**")
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0,
                                                                             format="%.2f")})
    for name, key in (("Sound descriptors", "audio"), ("Picture descriptors", "visual")):
        if analysis.get(key):
            st.markdown(f"**{name}**")
            st.dataframe(_pairs(analysis[key]), hide_index=True, width="stretch")
    if analysis.get("timings_ms"):
        st.markdown("**Time per step (ms)**")
        st.dataframe([{"step": k, "ms": round(float(v), 1)} for k, v in analysis["timings_ms"].items()],
                     hide_index=True, width="stretch")


# --- recommendations -----------------------------------------------------------------------------

def component_legend() -> None:
    parts = " ".join(f'<span style="display:inline-block;width:10px;height:10px;background:{c};'
                     f'margin:0 3px 0 10px"></span>{COMPONENT_LABELS[n]}' for n, c in COMPONENT_COLORS.items())
    st.markdown(f'<div style="font-size:0.8em;color:gray">score parts: {parts}</div>', unsafe_allow_html=True)


def component_bar(components: dict[str, float], scale: float) -> None:
    """A stacked bar of the weighted score parts (fixed names and numbers only)."""
    scale = max(scale, 1e-9)
    segs = "".join(f'<div title="{COMPONENT_LABELS[n]}: {v:.2f}" style="width:{100 * v / scale:.2f}%;'
                   f'background:{COMPONENT_COLORS[n]}"></div>'
                   for n in COMPONENTS if (v := float(components.get(n, 0.0))) > 0)
    st.markdown(f'<div data-testid="rsComponentBar" style="display:flex;height:10px;border-radius:3px;'
                f'overflow:hidden;background:#eee;margin:2px 0 6px 0">{segs}</div>', unsafe_allow_html=True)


CARD_CSS = """<style>
/* Cards in one row share its height: the row's columns stretch to the tallest, and every box
   between a column and its bordered card (however deep Streamlit nests them) fills its parent. */
div[data-testid="stHorizontalBlock"]:has(div[class*="-card-"]) { align-items: stretch; }
div[data-testid="stColumn"]:has(div[class*="-card-"]) { display: flex; flex-direction: column; }
div[data-testid="stColumn"]:has(div[class*="-card-"]) div:has(div[class*="-card-"]) { height: 100%; flex: 1 1 auto; }
div[class*="-card-"][data-testid="stVerticalBlock"] { height: 100%; flex: 1 1 auto; }
</style>"""


def card_styles() -> None:
    """Fixed CSS (no user text) that gives cards in a row one height."""
    st.html(CARD_CSS)


def rec_cards(recs, *, preview_of, scope: str | None, feedback=None, on_feedback=None, key: str,
              n_cols: int = 2, moves: dict[str, str] | None = None, picture_of=None) -> None:
    """Ranked recommendation cards, row by row (1 2 / 3 4 / ...: the reading order on a phone or a
    screen reader), each: picture, title, kind and match %, one plain sentence (the numbers on
    hover), component bar, player, buttons.

    ``preview_of(item_id) -> (data, mime)``; ``picture_of(item_id) -> (H, W, 3) uint8 | None``;
    ``on_feedback(scope, item_id, verdict)`` is the like/dislike callback (no buttons when None);
    ``moves`` maps item ids to a marker string.
    """
    from recsys.serving.service import MATCH_MEANING

    if not recs:
        st.info("No recommendation: every item is filtered out or already rated.")
        return
    card_styles()
    component_legend()
    st.caption(esc(MATCH_MEANING))
    scale = max(r.score for r in recs)
    for start in range(0, len(recs), n_cols):
        cols = st.columns(n_cols, gap="medium")
        for j, rec in enumerate(recs[start:start + n_cols]):
            i = start + j
            with cols[j].container(border=True, key=f"{key}-card-{i}"):
                picture = picture_of(rec.item_id) if picture_of is not None else None
                if picture is not None:
                    st.image(picture, width="stretch")
                move = f" {moves[rec.item_id]}" if moves and rec.item_id in moves else ""
                st.markdown(f"**{i + 1}\\. {esc(rec.title)}**{move}")
                st.caption(f"{rec.kind} · **{100 * rec.match:.0f} % match**",
                           help=esc(f"score {rec.score:.2f} of {rec.score / max(rec.match, 1e-9):.2f} possible. "
                                    + MATCH_MEANING))
                st.markdown(esc(rec.explanation.sentence or rec.explanation.text),
                            help=esc(rec.explanation.text))
                component_bar(rec.components, scale)
                player(preview_of(rec.item_id))
                if on_feedback is not None:
                    row = st.container(horizontal=True, gap="small")
                    row.button("Like", icon=":material/thumb_up:", key=f"{key}-like-{rec.item_id}",
                               on_click=on_feedback, args=(scope, rec.item_id, "liked"))
                    row.button("Dislike", icon=":material/thumb_down:", key=f"{key}-dislike-{rec.item_id}",
                               on_click=on_feedback, args=(scope, rec.item_id, "disliked"))


def gallery(cards: list[dict], *, picture_of, on_open, key: str, n_cols: int = 4) -> None:
    """Catalog cards in a grid, row by row (1 2 3 4 / 5 6 ...), one height per row, each: picture,
    full title, kind and duration, top labels, an Open button calling ``on_open(item_id)``.

    ``cards``: dicts with ``item_id``, ``title``, ``kind``, ``duration_s``, ``labels`` (display
    names, best first) and ``added`` (a clip a user added); ``picture_of(item_id) -> (H, W, 3) | None``.
    """
    if not cards:
        st.info("No item matches these filters.")
        return
    card_styles()
    for start in range(0, len(cards), n_cols):
        cols = st.columns(n_cols, gap="small")
        for col, card in zip(cols, cards[start:start + n_cols]):
            item_id = card["item_id"]
            with col.container(border=True, key=f"{key}-card-{item_id}"):
                picture = picture_of(item_id)
                if picture is not None:
                    st.image(picture, width="stretch")
                st.markdown(f"**{esc(card['title'])}**")
                origin = " · added by a user" if card.get("added") else ""
                st.caption(f"{card['kind']} · {card['duration_s']:.0f} s{origin}")
                if card["labels"]:
                    st.caption(esc(", ".join(card["labels"])))
                st.button("Open", key=f"{key}-open-{item_id}", on_click=on_open, args=(item_id,),
                          icon=":material/open_in_full:", width="stretch")


def feedback_summary(fb: dict[str, list[str]], titles: dict[str, str], *, scope: str, on_feedback, key: str) -> None:
    """This session's likes and dislikes, each with an undo button."""
    items = [(i, "liked") for i in fb["liked"]] + [(i, "disliked") for i in fb["disliked"]]
    if not items:
        return
    row = st.container(horizontal=True, gap="small")
    row.markdown("**Your feedback:**")
    for item_id, verdict in items:
        icon = ":material/thumb_up:" if verdict == "liked" else ":material/thumb_down:"
        row.button(esc(titles.get(item_id, item_id)), icon=icon, key=f"{key}-undo-{item_id}",
                   on_click=on_feedback, args=(scope, item_id, "clear"), help="Undo this rating")


# --- charts --------------------------------------------------------------------------------------

def taste_figure(label_scores: np.ndarray, names: list[str], *, top: int = 15) -> go.Figure:
    """Horizontal bars of the strongest labels of a profile, coloured by facet."""
    order = np.argsort(-label_scores)[:top][::-1]
    keys = [LabelKey.parse(names[i]) for i in order]
    facets = [k.facet for k in keys]
    fig = go.Figure(go.Bar(x=label_scores[order], y=[k.display for k in keys],
                           orientation="h", marker_color=[FACET_HEX[f] for f in facets],
                           customdata=facets, hovertemplate="%{customdata}: %{y} %{x:.2f}<extra></extra>"))
    fig.update_layout(height=28 * len(order) + 40, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="weight in profile", range=[0, max(1.0, float(label_scores.max()))]))
    return fig


def components_figure(recs) -> go.Figure:
    """Stacked horizontal bars of each recommendation's weighted score parts."""
    titles = [f"{i + 1}. {html.escape(r.title[:40])}" for i, r in enumerate(recs)][::-1]
    fig = go.Figure()
    for c in COMPONENTS:
        vals = [r.components.get(c, 0.0) for r in recs][::-1]
        if any(v > 0 for v in vals):
            fig.add_trace(go.Bar(name=COMPONENT_LABELS[c], x=vals, y=titles, orientation="h",
                                 marker_color=COMPONENT_COLORS[c]))
    fig.update_layout(barmode="stack", height=30 * len(recs) + 80, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.02, x=0, yanchor="bottom"), xaxis_title="score")
    return fig


def map_figure(coords: np.ndarray, groups: list[str], titles: list[str], item_ids: list[str], *,
               query_xy=None, query_label: str = "", top_rows=(), selected_row: int | None = None,
               details: list[str] | None = None) -> go.Figure:
    """The catalog map: one trace per colour group (points carry their item id), the query as a
    star joined to its top-k, the top-k ringed, the selected item marked. ``details``: per item,
    a line for its hover (kind and top labels). The legend sits below the plot (a phone's width
    stays for the points)."""
    fig = go.Figure()
    groups_arr = np.asarray(groups, dtype=object)
    safe_titles = [html.escape(t) for t in titles]
    safe_details = [html.escape(d) for d in details] if details is not None else [""] * len(titles)
    from plotly.colors import qualitative

    palette = qualitative.Dark24 + qualitative.Light24  # enough distinct colours for every label
    for i, g in enumerate(sorted(set(groups))):
        rows = np.flatnonzero(groups_arr == g)
        fig.add_trace(go.Scatter(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=html.escape(str(g)),
            marker=dict(size=9, opacity=0.85, color=palette[i % len(palette)], line=dict(width=0.5, color="white")),
            customdata=[item_ids[r] for r in rows], text=[safe_titles[r] for r in rows],
            hovertext=[safe_details[r] for r in rows],
            hovertemplate="<b>%{text}</b><br>%{hovertext}<br>" + html.escape(str(g)) + "<extra></extra>"))
    top_rows = list(top_rows)
    if query_xy is not None:
        qx, qy = float(query_xy[0]), float(query_xy[1])
        lx, ly = [], []
        for r in top_rows:
            lx += [qx, float(coords[r, 0]), None]
            ly += [qy, float(coords[r, 1]), None]
        fig.add_trace(go.Scatter(x=lx, y=ly, mode="lines", line=dict(color="rgba(228,87,86,0.5)", width=1),
                                 hoverinfo="skip", showlegend=False))
    if top_rows:
        fig.add_trace(go.Scatter(x=coords[top_rows, 0], y=coords[top_rows, 1], mode="markers", name="top-k",
                                 marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(width=2, color="#E45756")),
                                 customdata=[item_ids[r] for r in top_rows],
                                 text=[f"#{i + 1} {safe_titles[r]}" for i, r in enumerate(top_rows)],
                                 hovertext=[safe_details[r] for r in top_rows],
                                 hovertemplate="<b>%{text}</b><br>%{hovertext}<extra></extra>"))
    if query_xy is not None:
        fig.add_trace(go.Scatter(x=[query_xy[0]], y=[query_xy[1]], mode="markers", name="query",
                                 marker=dict(size=20, symbol="star", color="#E45756", line=dict(width=1, color="black")),
                                 text=[html.escape(query_label)], hovertemplate="%{text}<extra>query</extra>"))
    if selected_row is not None:
        fig.add_trace(go.Scatter(x=[coords[selected_row, 0]], y=[coords[selected_row, 1]], mode="markers",
                                 name="selected", hoverinfo="skip",
                                 marker=dict(size=22, color="rgba(0,0,0,0)", line=dict(width=3, color="black"))))
    fig.update_layout(height=560, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select",
                      legend=dict(itemsizing="constant", orientation="h", x=0, xanchor="left", y=-0.02,
                                  yanchor="top"), xaxis=dict(showticklabels=False, title=""),
                      yaxis=dict(showticklabels=False, title=""))
    return fig
