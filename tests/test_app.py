"""The Streamlit app, page by page, with ``streamlit.testing.v1.AppTest`` (server-side, no browser).

Every test loads the shared service (catalog + hybrid fitted on simulated users, with the MiniLM
text encoder), so they are all marked slow. The service is cached per process: only the first
test pays for it. ``RECSYS_CATALOG_DIR`` picks another built catalog, as for the app.
``RECSYS_DATA_DIR`` points at a temporary folder, so ratings and added clips never reach the
developer's ``data/`` (the built sample catalog is copied there first).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from benchmarks.factories import moving_square_frames, tone, write_video
from ui.state import Source

pytestmark = pytest.mark.slow
TIMEOUT = 600


@pytest.fixture(autouse=True, scope="module")
def _no_warmup():
    """No background warm-up thread competing with these tests (it only saves time in a server)."""
    old = os.environ.get("RECSYS_APP_WARMUP")
    os.environ["RECSYS_APP_WARMUP"] = "0"
    yield
    if old is None:
        os.environ.pop("RECSYS_APP_WARMUP", None)
    else:
        os.environ["RECSYS_APP_WARMUP"] = old


def _copy_sample_catalog(data_dir: Path) -> None:
    """Put the built sample catalog (it lives in the data folder) into ``data_dir``."""
    if os.environ.get("RECSYS_CATALOG_DIR"):
        return
    from recsys.catalog.catalog import load_or_build_sample_catalog, sample_catalog_dir

    load_or_build_sample_catalog()  # with the real data folder: built once, then loaded
    shutil.copytree(sample_catalog_dir(), data_dir / "catalogs" / "sample")


@pytest.fixture(autouse=True, scope="module")
def _data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    _copy_sample_catalog(folder)
    old = os.environ.get("RECSYS_DATA_DIR")
    os.environ["RECSYS_DATA_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("RECSYS_DATA_DIR", None)
    else:
        os.environ["RECSYS_DATA_DIR"] = old


def _app(page: str | None = None, *, profile=None, **params):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    if profile is not None:  # what the browser's address bar holds: ?profile=...
        at.query_params["profile"] = profile
    at.query_params.update(params)  # ?persona=..., ?item=...
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _keys(at, prefix: str) -> list[str]:
    return [b.key for b in at.button if (b.key or "").startswith(prefix)]


def _text(at) -> str:
    return "\n".join(str(m.value) for m in (*at.markdown, *at.caption, *at.title, *at.header, *at.subheader))


def _all_markdown(at) -> list[str]:
    """Every markdown element, also those inside horizontal containers (the chips), which
    ``at.markdown`` does not reach."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None) or {}
        children = list(children.values()) if isinstance(children, dict) else list(children)
        out += [c.value for c in children if type(c).__name__ == "Markdown"]
        stack += children
    return out


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "square.mp4"
    write_video(path, moving_square_frames(n=40, size=(160, 96)), fps=10, audio=tone(440, seconds=4.0, sr=48000))
    return path.read_bytes()


# --- Discover ---------------------------------------------------------------------------------

def test_discover_starts_with_uploader_and_hint():
    at = _app()
    _ok(at)
    assert at.title[0].value == "Discover"
    assert len(at.get("file_uploader")) == 1
    assert any("Upload a clip" in i.value for i in at.info)


def test_upload_generated_clip_yields_recommendations(clip_bytes):
    at = _app()
    at.file_uploader[0].set_value(("square.mp4", clip_bytes, "video/mp4")).run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    likes = _keys(at, "discover-like-")
    assert len(likes) >= 5
    text = _text(at)
    for stage in ("decode", "frames", "sound", "text", "understanding", "ranking"):
        assert f"✓ {stage}" in text
    assert "**Themes**" in text and "**Emotions**" in text and "**Styles**" in text
    assert len(at.get("plotly_chart")) >= 2          # waveform/mel and valence/arousal
    assert at.session_state.clip.source.kind == "clip"

    # Like the first recommendation: it joins the clip's history and leaves the list.
    first = likes[0].removeprefix("discover-like-")
    at.button(key=likes[0]).click().run()
    _ok(at)
    assert first in at.session_state.feedback[at.session_state.clip.source.scope]["liked"]
    assert f"discover-like-{first}" not in _keys(at, "discover-like-")


def test_an_unsure_facet_says_so_with_its_reason():
    """A 0.5 s tone has a sound but no mood: the page says "no clear emotion" (the reason on hover)
    and that the clip is too short to be sure."""
    from benchmarks.factories import wav_bytes

    at = _app()
    at.file_uploader[0].set_value(("blip.wav", wav_bytes(tone(880, seconds=0.5)), "audio/wav")).run()
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    chips = _all_markdown(at)
    assert any("no clear emotion" in m for m in chips), chips
    assert "low confidence: the clip is only 0.5 s long" in _text(at).replace("\\", "")


def test_bad_upload_is_one_line_error_with_escaped_name():
    at = _app()
    name = "[click](javascript:alert(1)) **x**.mp4"
    at.file_uploader[0].set_value((name, b"definitely not a video" * 10, "video/mp4")).run()
    _ok(at)
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert "\\[click\\]" in at.error[0].value and "](javascript" not in at.error[0].value  # shown as text
    assert not _keys(at, "discover-like-")


def test_uploads_stay_in_their_session(clip_bytes):
    first = _app()
    first.file_uploader[0].set_value(("mine.mp4", clip_bytes, "video/mp4")).run()
    assert first.session_state.clip is not None
    other = _app()
    assert other.session_state.clip is None and not _keys(other, "discover-like-")


def test_pick_catalog_item():
    at = _app()
    picker = at.selectbox(key="pick_item")
    item = picker.value
    at.button(key="pick_go").click().run()
    _ok(at)
    assert at.session_state.clip.source == Source("item", item), "the clip is the item the picker shows"
    assert len(_keys(at, "discover-like-")) >= 5
    assert f"discover-like-{item}" not in _keys(at, "discover-like-"), "the picked item is not recommended to itself"


@pytest.mark.parametrize("name,data,words", [
    ("empty.mp4", b"", "empty"),
    ("notes.mp4", b"a text file renamed .mp4\n" * 40, "not an audio or video file"),
])
def test_a_failed_upload_clears_the_previous_result(clip_bytes, name, data, words):
    at = _app()
    at.file_uploader[0].set_value(("good.mp4", clip_bytes, "video/mp4")).run()
    assert at.session_state.clip is not None and _keys(at, "discover-like-")
    at.file_uploader[0].set_value((name, data, "video/mp4")).run()
    _ok(at)
    assert len(at.error) == 1 and words in at.error[0].value and "corrupt" not in at.error[0].value.lower()
    assert at.session_state.clip is None, "the previous clip's analysis must not stay under the error"
    assert not _keys(at, "discover-like-") and not at.get("plotly_chart")
    assert not any(h.value == "Recommendations" for h in at.subheader)
    assert any("Not analysed" in i.value for i in at.info)


def test_removing_the_file_clears_its_result(clip_bytes):
    at = _app()
    at.file_uploader[0].set_value(("good.mp4", clip_bytes, "video/mp4")).run()
    assert _keys(at, "discover-like-")
    at.file_uploader[0].set_value(None).run()
    _ok(at)
    assert at.session_state.clip is None and not _keys(at, "discover-like-") and not at.error
    assert any("Upload a clip" in i.value for i in at.info)


def test_a_catalog_file_uploaded_under_another_title_is_a_duplicate():
    from ui import cache

    cat = cache.get_service(cache.catalog_fingerprint()).catalog
    item = cat.item_ids[0]
    data = cat.media_path(item).read_bytes()
    at = _app()
    at.text_input(key="upload_title").set_value("Totally different title")
    at.file_uploader[0].set_value(("renamed" + cat.media_path(item).suffix, data, "audio/mpeg")).run()
    _ok(at)
    assert at.session_state.clip.same_as == item
    title = str(cat.items.iloc[0]["title"])
    assert any("Already in the catalog as" in i.value and title in i.value for i in at.info)
    assert "add_to_catalog" not in [b.key for b in at.button]
    assert _keys(at, "discover-like-") and f"discover-like-{item}" not in _keys(at, "discover-like-")


def _card_blocks(at, key: str) -> list:
    """The keyed card containers, in element-tree (= DOM, reading) order."""
    from streamlit.testing.v1.element_tree import Block

    return [n for n in at.main if isinstance(n, Block) and re.fullmatch(f"{key}-card-\\d+", n.key or "")]


def _cards(at, key: str) -> list:
    return sorted(_card_blocks(at, key), key=lambda b: int(b.key.rsplit("-", 1)[1]))


def test_cards_read_row_by_row_with_picture_match_and_a_plain_sentence(clip_bytes):
    at = _app()
    at.file_uploader[0].set_value(("square.mp4", clip_bytes, "video/mp4")).run()
    _ok(at)
    cards = _cards(at, "discover")
    assert len(cards) >= 5
    # Row-major: the element tree (= the DOM and reading order) holds card 0, 1, 2, ... in order.
    order = [b.key for b in _card_blocks(at, "discover")]
    assert order == [f"discover-card-{i}" for i in range(len(order))]
    for card in cards:
        assert len(card.get("image")) == 1, "every card has a picture (frame or spectrogram)"
        text = " ".join(str(m.value) for m in (*card.markdown, *card.caption))
        assert re.search(r"\*\*\d{1,3} % match\*\*", text) and not re.search(r"score \d", text)
    sentences = [m for c in cards for m in c.markdown if m.proto.help]
    assert sentences and all("%" not in m.value for m in sentences), "numbers go to the hover text"
    # An anonymous upload has no likes and no neighbours in taste: say what the evidence is.
    all_text = _text(at) + " ".join(m.proto.help for m in sentences)
    assert "which you liked" not in all_text and "users with similar taste" not in all_text
    assert any("% match" in c.value for c in at.caption) and any("share of the best possible score" in c.value for c in at.caption)


def test_empty_discover_offers_examples_and_details_are_tables_without_server_paths():
    at = _app()
    tries = [b for b in at.button if (b.key or "").startswith("discover-try-")]
    assert len(tries) >= 3 and len(at.get("image")) >= 3        # a picture per example
    helps = [b.proto.help for b in tries]
    assert any("audio" in h for h in helps) and any("video" in h for h in helps)   # different kinds
    item = tries[0].key.removeprefix("discover-try-")
    tries[0].click().run()
    _ok(at)
    assert at.session_state.clip.source.kind == "item" and at.session_state.clip.source.ident == item
    assert not at.json, "Details are tables, not JSON"
    shown = _text(at) + " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert str(Path(__file__).resolve().parent.parent) not in shown and "/sample_data/" not in shown
    ev = at.expander
    assert any("Evidence" in e.label for e in ev) and any("Details" in e.label for e in ev)


def test_warmup_exercises_the_analyzer():
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer
    from ui import cache

    analyzer = Analyzer(AnalysisConfig(transcribe="never"))
    cache._warm_analyzer(analyzer)
    assert analyzer._encoders is not None and {"image", "audio", "text", "space"} <= set(analyzer._encoders)


# --- Personas -----------------------------------------------------------------------------------

def test_personas_page_and_feedback_updates_profile():
    at = _app("pages/personas.py")
    _ok(at)
    assert at.title[0].value == "Personas"
    name = at.selectbox(key="persona_name").value
    assert len(at.get("plotly_chart")) >= 1                     # the taste profile
    assert "(seed)" in _text(at)                                 # the history
    likes = _keys(at, "persona-like-")
    assert len(likes) >= 5
    # Nobody has liked anything yet: the persona's seed clips are called seeds, not "you liked".
    hovers = " ".join(m.proto.help for c in _cards(at, "persona") for m in c.markdown if m.proto.help)
    assert "which you liked" not in hovers and "seed clip of this persona" in hovers
    assert "simulated users with this persona" in hovers or "collaborative" not in hovers
    before = _text(at)
    at.button(key=likes[0]).click().run()
    _ok(at)
    item = likes[0].removeprefix("persona-like-")
    assert item in at.session_state.feedback[f"persona:{name}"]["liked"]
    assert "(you liked)" in _text(at) and _text(at) != before


# --- Addresses: a reload or a shared link shows the same thing ------------------------------------

def test_the_persona_is_kept_in_the_address():
    from recsys.users.personas import load_personas

    names = [p.name for p in load_personas()]
    linked = names[-1]  # not the one the picker starts with
    at = _app("pages/personas.py", persona=linked)
    _ok(at)
    assert at.selectbox(key="persona_name").value == linked
    assert at.query_params["persona"] == linked
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", at.query_params["profile"]), "the profile stays in the address"
    # Choosing another persona writes it; the link never pulls the picker back.
    at.selectbox(key="persona_name").set_value(names[0]).run()
    _ok(at)
    assert at.selectbox(key="persona_name").value == names[0] and at.query_params["persona"] == names[0]
    at.run()
    assert at.selectbox(key="persona_name").value == names[0]

    # A name that is no persona is ignored (no error) and replaced by the one shown.
    odd = _app("pages/personas.py", persona="<b>nobody</b>")
    _ok(odd)
    assert odd.query_params["persona"] == odd.selectbox(key="persona_name").value in names


def test_an_opened_item_and_a_map_point_are_kept_in_the_address():
    from ui import cache
    from ui.components import esc

    cat = cache.get_service(cache.catalog_fingerprint()).catalog
    item, other = cat.item_ids[3], cat.item_ids[5]
    at = _app(item=item)  # Discover with ?item=<id>: that item is open
    _ok(at)
    assert at.session_state.clip.source == Source("item", item)
    assert at.header[0].value == esc(cat.items.iloc[3]["title"])
    at.selectbox(key="pick_item").set_value(other)
    at.button(key="pick_go").click().run()
    _ok(at)
    assert at.session_state.clip.source == Source("item", other) and at.query_params["item"] == other

    # The map's selected point: /map?item=<id> opens that point.
    at = _app(item=item)
    at.switch_page("pages/map.py").run()
    _ok(at)
    assert at.session_state.map_selected == item and at.header[0].value == esc(cat.items.iloc[3]["title"])
    assert at.query_params["item"] == item

    bad = _app(item="../../etc/passwd")
    _ok(bad)
    assert bad.session_state.clip is None and "item" not in bad.query_params


# --- Persistence: profiles and saved ratings ------------------------------------------------------

def _open_store():
    from recsys.catalog.store import DB_NAME, Store

    return Store(Path(os.environ["RECSYS_DATA_DIR"]) / DB_NAME)


def test_a_like_is_saved_under_the_profile_and_restored_in_a_new_session():
    at = _app("pages/personas.py")
    _ok(at)
    token = at.query_params["profile"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token), "a fresh random profile token is put in the URL"
    name = at.selectbox(key="persona_name").value
    item = _keys(at, "persona-like-")[0].removeprefix("persona-like-")
    at.button(key=f"persona-like-{item}").click().run()
    _ok(at)
    assert at.query_params["profile"] == token
    with _open_store() as store:  # written at once, by the click
        assert store.liked(f"profile:{token}", scope=f"persona:{name}") == [item]

    # A new session (a reload, a bookmark) with the same address gets the like back.
    again = _app("pages/personas.py", profile=token)
    _ok(again)
    assert again.session_state.profile == token and again.query_params["profile"] == token
    assert again.session_state.feedback[f"persona:{name}"]["liked"] == [item]
    assert "(you liked)" in _text(again) and f"persona-like-{item}" not in _keys(again, "persona-like-")
    assert f"persona-undo-{item}" in _keys(again, "persona-undo-")

    # Another profile never sees it.
    other = _app("pages/personas.py")
    _ok(other)
    assert other.query_params["profile"] != token
    assert not other.session_state.feedback.get(f"persona:{name}", {}).get("liked")
    assert "(you liked)" not in _text(other)

    # Undo is saved too: the next session with that profile starts without the like.
    again.button(key=f"persona-undo-{item}").click().run()
    _ok(again)
    with _open_store() as store:
        assert store.liked(f"profile:{token}", scope=f"persona:{name}") == []
    third = _app("pages/personas.py", profile=token)
    assert not third.session_state.feedback.get(f"persona:{name}", {}).get("liked")


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "../../etc/passwd", "a" * 5000, "",
                                     "A" * 31 + "=", ["x", "y"]])
def test_a_hostile_profile_gets_a_fresh_token_never_an_error(hostile):
    at = _app(profile=hostile)
    _ok(at)
    assert not at.error
    token = at.query_params["profile"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token) and token != hostile


def test_an_unreadable_store_keeps_ratings_in_the_session_with_a_one_line_warning(monkeypatch, tmp_path):
    data = tmp_path / "data"
    _copy_sample_catalog(data)
    (data / "recsys.sqlite3").write_bytes(b"not a database at all" * 100)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(data))
    at = _app()
    _ok(at)
    # (Checked on the first page: AppTest drops app.py's sidebar after a page switch; a browser keeps it.)
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 1 and "kept in this session only" in warnings[0] and "\n" not in warnings[0]
    assert "file is not a database" in warnings[0]
    at.switch_page("pages/personas.py").run()
    _ok(at)
    name = at.selectbox(key="persona_name").value
    item = _keys(at, "persona-like-")[0].removeprefix("persona-like-")
    at.button(key=f"persona-like-{item}").click().run()
    _ok(at)
    assert at.session_state.feedback[f"persona:{name}"]["liked"] == [item] and "(you liked)" in _text(at)


# --- Embedding map ------------------------------------------------------------------------------

def test_map_page_places_query_and_opens_item():
    at = _app("pages/map.py")
    _ok(at)
    assert at.title[0].value == "Embedding map"
    assert len(at.get("plotly_chart")) == 1
    for colour in ("theme", "kind", "cluster"):
        at.selectbox(key="map_color").set_value(colour).run()
        _ok(at)
    source = at.selectbox(key="map_source")
    assert any(o.startswith("Persona:") for o in source.options)
    # A click cannot be simulated server-side: set what the click handler stores.
    from ui import cache

    service = cache.get_service(cache.catalog_fingerprint())
    item_id = service.catalog.item_ids[0]
    at.session_state["map_selected"] = item_id
    at.run()
    _ok(at)
    from ui.components import esc

    assert at.header[0].value == esc(service.catalog.items.iloc[0]["title"])
    assert "Its neighbours" in _text(at)


def test_map_hover_says_kind_and_labels_and_the_legend_sits_below():
    from recsys.catalog.browse import top_labels
    from recsys.understanding.label_scoring import label_names
    from ui import cache

    at = _app("pages/map.py")
    _ok(at)
    cat = cache.get_service(cache.catalog_fingerprint()).catalog
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    legend = fig["layout"]["legend"]
    assert legend["orientation"] == "h" and legend["y"] < 0 and legend["yanchor"] == "top"
    item = cat.item_ids[0]
    trace = next(t for t in fig["data"] if item in (t.get("customdata") or []) and t.get("name") != "top-k")
    hover = trace["hovertext"][trace["customdata"].index(item)]
    labels = top_labels(cat.label_scores[0], label_names(), k=3)
    assert hover.startswith(cat.items.iloc[0]["kind"]) and labels and all(lb in hover for lb in labels)
    assert "%{hovertext}" in trace["hovertemplate"] and "%{text}" in trace["hovertemplate"]
    # A placed persona: the star is there, and the caption says its place is approximate.
    assert not any("approximate" in c.value for c in at.caption)
    source = at.selectbox(key="map_source")
    source.set_value(next(o for o in source.options if o.startswith("Persona:"))).run()
    _ok(at)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(t.get("name") == "query" for t in fig["data"])
    assert any("approximate" in c.value and "transform()" in c.value for c in at.caption)
    at.selectbox(key="map_source").set_value("(nothing)").run()
    _ok(at)
    assert not any("approximate" in c.value for c in at.caption)


# --- Tune -----------------------------------------------------------------------------------

def _ranking(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and "\\." in m.value[:8]]


def test_tune_slider_changes_ranking_and_metrics():
    at = _app("pages/tune.py")
    _ok(at)
    assert at.title[0].value == "Tune"
    assert {s.key for s in at.slider} >= {f"w_{n}" for n in ("visual", "audio", "music", "text", "semantic", "cf",
                                                              "matcher", "popularity", "diversity")}
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Recall@10", "NDCG@10"}
    before = _ranking(at)
    assert len(before) == 10
    at.slider(key="w_cf").set_value(2.0).run()
    at.slider(key="w_semantic").set_value(0.0).run()
    _ok(at)
    after = _ranking(at)
    assert len(after) == 10 and after != before      # the order or the scores moved
    assert at.session_state.weights["cf"] == 2.0


def test_tune_preset_sets_sliders():
    at = _app("pages/tune.py")
    at.selectbox(key="tune_preset").set_value("content only").run()
    _ok(at)
    assert at.slider(key="w_cf").value == 0.0 and at.slider(key="w_visual").value == 1.0


# --- Catalog ------------------------------------------------------------------------------------

def test_tune_preset_box_says_custom_once_a_slider_moves():
    at = _app("pages/tune.py")
    assert at.selectbox(key="tune_preset").value == "balanced"
    at.slider(key="w_audio").set_value(1.55).run()
    _ok(at)
    assert at.selectbox(key="tune_preset").value == "custom"
    assert at.slider(key="w_audio").value == 1.55
    assert any("Catalog-wide" in c.value and "simulated" in c.value for c in at.caption)
    at.selectbox(key="tune_preset").set_value("content only").run()
    assert at.slider(key="w_audio").value == 1.0 and at.selectbox(key="tune_preset").value == "content only"


def _gallery(at) -> list[str]:
    """The item ids of the gallery's cards, in reading order."""
    return [k.removeprefix("catalog-open-") for k in _keys(at, "catalog-open-")]


def _shown(at) -> int:
    """N of "N of M items" in the Catalog's caption."""
    return next(int(m.group(1)) for c in at.caption if (m := re.match(r"(\d+) of \d+ items", c.value)))


def test_catalog_gallery_filters_searches_and_opens():
    from recsys.understanding.label_scoring import label_names
    from ui import cache
    from ui.components import esc

    at = _app("pages/catalog.py")
    _ok(at)
    assert at.title[0].value == "Catalog"
    cat = cache.get_service(cache.catalog_fingerprint()).catalog
    kinds = dict(zip(cat.item_ids, cat.items["kind"]))
    cards = _gallery(at)
    assert _shown(at) == len(cat) and len(cards) == min(len(cat), 24) and not at.dataframe
    assert cards == list(cat.item_ids[:len(cards)]), "catalog order, row by row"
    # Each card: the full title, its kind and its top labels.
    first = cat.items.iloc[0]
    text = _text(at)
    assert f"**{esc(first['title'])}**" in text
    from recsys.catalog.browse import top_labels

    assert any(c.value == esc(", ".join(top_labels(cat.label_scores[0], label_names()))) for c in at.caption)

    n_pages = -(-len(cat) // 24)
    if n_pages > 1:  # the last page holds the rest, in order
        at.number_input(key="catalog_page").set_value(n_pages).run()
        _ok(at)
        assert _gallery(at) == list(cat.item_ids[(n_pages - 1) * 24:])
    at.segmented_control(key="catalog_kind").set_value(["audio"]).run()
    _ok(at)
    audio = _gallery(at)
    assert 0 < _shown(at) < len(cat) and audio and {kinds[i] for i in audio} == {"audio"}

    # The search reads titles and descriptions.
    at.segmented_control(key="catalog_kind").set_value(["audio", "video"]).run()
    r = next(r for r, d in enumerate(cat.items["description"].fillna("")) if len(str(d).split()) >= 3)
    word = max(str(cat.items.iloc[r]["description"]).split(), key=len).strip(".,;:!?()\"'")
    at.text_input(key="catalog_search").set_value(word).run()
    _ok(at)
    hits = _gallery(at) if _shown(at) <= 24 else []
    assert _shown(at) < len(cat) and (cat.item_ids[r] in hits or _shown(at) > 24)
    assert all(word.lower() in (t + " " + d).lower() for t, d in
               cat.items.set_index("item_id").loc[hits, ["title", "description"]].itertuples(index=False))
    at.text_input(key="catalog_search").set_value("zzz-no-such-title").run()
    assert _gallery(at) == [] and any("No item matches" in i.value for i in at.info)

    # The table is one click away, with the same filters.
    at.text_input(key="catalog_search").set_value("").run()
    at.segmented_control(key="catalog_kind").set_value(["audio"]).run()
    at.segmented_control(key="catalog_view").set_value("table").run()
    _ok(at)
    assert len(at.dataframe) == 1 and set(at.dataframe[0].value["item_id"]) == set(
        i for i in cat.item_ids if kinds[i] == "audio")

    # Opening a card shows the item, puts it in the address, and offers Discover.
    at.segmented_control(key="catalog_view").set_value("gallery").run()
    item = _gallery(at)[1]
    at.button(key=f"catalog-open-{item}").click().run()
    _ok(at)
    assert at.header[0].value == esc(cat.items.iloc[cat.index(item)]["title"])
    assert at.query_params["item"] == item and "catalog_open" in [b.key for b in at.button]
    at.button(key="catalog_open").click().run()
    _ok(at)
    assert at.title[0].value == "Discover" and at.session_state.clip.source == Source("item", item)


def test_a_clip_added_on_discover_joins_the_catalog_for_everyone(clip_bytes, monkeypatch, tmp_path):
    from recsys.catalog.user_clips import USER_SOURCE
    from ui import cache

    data = tmp_path / "data"  # its own store: the other tests keep the built catalog only
    _copy_sample_catalog(data)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(data))
    at = _app()
    n_before = len(cache.get_service(cache.catalog_fingerprint()).catalog)
    title = "My [square](javascript:x) *clip*"
    at.text_input(key="upload_title").set_value(title)
    at.file_uploader[0].set_value(("../../evil name.mp4", clip_bytes, "video/mp4")).run()
    _ok(at)
    at.button(key="add_to_catalog").click().run()
    _ok(at)
    assert any("Added to the catalog" in s.value for s in at.success), [e.value for e in at.error]
    print("\n" + at.success[0].value)
    assert "add_to_catalog" not in [b.key for b in at.button], "it is in the catalog now"
    assert at.header[0].value == "My \\[square\\]\\(javascript\\:x\\) \\*clip\\*"
    with _open_store() as store:
        [clip] = store.clips()
    stored = Path(clip["path"])
    assert clip["title"] == title and stored.read_bytes() == clip_bytes
    assert stored.parent == (data / "clips").resolve() and "evil" not in stored.name
    service = cache.get_service(cache.catalog_fingerprint())
    assert len(service.catalog) == n_before + 1 and service.catalog.item_ids[-1] == clip["clip_id"]
    assert service.catalog.meta["user_clips_analysed"] == 0, "the upload's analysis was reused"
    # The clip now in the catalog is not recommended for itself.
    assert f"discover-like-{clip['clip_id']}" not in _keys(at, "discover-like-")

    # Another session, after a restart (fresh caches, a new Store on the same file): the Catalog
    # page lists it, marked, and the filters apply to it.
    old = cache.get_store(str(cache.store_path()))
    cache.get_service.clear()
    cache.get_store.clear()
    cache._loaded.clear()
    old.close()
    other = _app("pages/catalog.py")
    _ok(other)
    other.segmented_control(key="catalog_view").set_value("table").run()
    table = other.dataframe[0].value
    assert len(table) == n_before + 1
    row = table[table["item_id"] == clip["clip_id"]].iloc[0]
    assert row["title"] == title and row["origin"] == USER_SOURCE and row["kind"] == "video"
    assert any("1 added by users" in c.value for c in other.caption)
    assert cache.get_service(cache.catalog_fingerprint()).catalog.meta["user_clips_analysed"] == 0, \
        "a restart loads the clip's features from the cache"
    other.text_input(key="catalog_search").set_value("square").run()
    assert list(other.dataframe[0].value["item_id"]) == [clip["clip_id"]]
    other.text_input(key="catalog_search").set_value("").run()
    other.segmented_control(key="catalog_kind").set_value(["audio"]).run()
    assert clip["clip_id"] not in set(other.dataframe[0].value["item_id"])
    other.segmented_control(key="catalog_kind").set_value(["audio", "video"]).run()
    other.toggle(key="catalog_added").set_value(True).run()
    _ok(other)
    assert list(other.dataframe[0].value["item_id"]) == [clip["clip_id"]]

    # The same bytes under another title: "already in the catalog", not offered again, not
    # recommended to itself; and a second add through the store returns the existing clip.
    third = _app()
    third.text_input(key="upload_title").set_value("Another title")
    third.file_uploader[0].set_value(("copy.mp4", clip_bytes, "video/mp4")).run()
    _ok(third)
    assert any("Already in the catalog as" in i.value for i in third.info)
    assert "add_to_catalog" not in [b.key for b in third.button]
    assert f"discover-like-{clip['clip_id']}" not in _keys(third, "discover-like-")
    with _open_store() as store:
        assert store.clip_with_content(clip_bytes)["clip_id"] == clip["clip_id"]
        assert store.add_clip(clip_bytes, title="Another title") == clip["clip_id"]
        assert len(store.clips()) == 1


# --- Upload limit -------------------------------------------------------------------------------

def test_the_upload_limit_matches_the_server_config():
    from ui import cache

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert cache.UPLOAD_MAX_MB == config["server"]["maxUploadSize"] == 200
    from recsys.media.decode import DEFAULT_LIMITS

    assert cache.upload_limits(DEFAULT_LIMITS).max_bytes == 200 * 2**20 < DEFAULT_LIMITS.max_bytes
    at = _app()
    assert at.file_uploader[0].proto.max_upload_size_mb == 200


def test_a_file_over_the_upload_limit_is_a_one_line_typed_error():
    at = _app()
    big = b"\0" * (200 * 2**20 + 1)
    at.file_uploader[0].set_value(("big.mp4", big, "video/mp4")).run()
    _ok(at)
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert "over the 200 MB limit" in at.error[0].value
    assert not _keys(at, "discover-like-")


# --- Evaluation ---------------------------------------------------------------------------------

def test_evaluation_without_report_says_how(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path))
    at = _app("pages/evaluation.py")
    _ok(at)
    assert any("No evaluation report" in i.value for i in at.info)
    assert any("recsys evaluate" in c.value for c in at.code)
    text = _text(at)
    assert "simulated" in text and "Apache-2.0" in str([d.value for d in at.dataframe])
    assert "Device in use" in text


def test_evaluation_shows_last_report(monkeypatch, tmp_path):
    from recsys.evaluation.evaluate import write_report

    metrics = {f"{m}@10": v for m, v in (("ndcg", 0.3), ("recall", 0.4), ("precision", 0.1), ("map", 0.2),
                                         ("mrr", 0.3), ("hit_rate", 0.6), ("coverage", 0.5), ("diversity", 0.4))}
    result = {"dataset": "toy", "protocol": "leave-one-out", "k": 10, "seed": 0,
              "data": {"n_users": 5, "n_items": 9, "n_interactions": 30, "n_train": 25, "n_test": 5,
                       "n_test_users": 5},
              "models": {"popularity": {"metrics": metrics, "fit_s": 0.01, "score_s": 0.01},
                         "score_fusion": {"metrics": metrics, "fit_s": 0.1, "score_s": 0.1, "weights": {"popularity": 1.0},
                                    "tuned_on": "validation"}}}
    paths = write_report(result, tmp_path)
    assert json.loads(paths["json"].read_text())["dataset"] == "toy"
    monkeypatch.setenv("RECSYS_REPORTS_DIR", str(tmp_path))
    at = _app("pages/evaluation.py")
    _ok(at)
    assert not any("No evaluation report" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert {"popularity", "score_fusion"} <= set(table.index) and "ndcg@10" in table.columns
