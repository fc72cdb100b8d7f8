"""recsys.catalog.user_clips: the store's clips joined to a built catalog -- rows appended in order, the
feature cache reused across restarts, bad clips skipped, and an added clip nobody has interacted
with still fitted and ranked by the hybrid."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.factories import synthetic_catalog, tone, write_wav
from recsys.catalog.catalog import BLOCKS
from recsys.errors import MediaError
from recsys.catalog.store import Store
from recsys.catalog.feature_cache import FeatureRecord
from recsys.catalog.user_clips import USER_SOURCE, clip_manifest_row, prime_features, with_user_clips


class NoAnalysis:
    """An analyzer that must not be called: the clip's features come from the cache."""

    def analyze(self, *args, **kwargs):
        raise AssertionError("the clip was analysed again instead of loaded from the feature cache")


class FailingAnalysis:
    def analyze(self, path, **kwargs):
        raise MediaError(f"{path}: cannot be decoded (test)")


@pytest.fixture
def base():
    return synthetic_catalog(40)


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data" / "recsys.sqlite3")
    yield s
    s.close()


@pytest.fixture
def feat_dir(tmp_path):
    return tmp_path / "features"


def _record(base, rows, *, kind="audio") -> FeatureRecord:
    """A feature record whose blocks are the normalised mean of ``rows`` of ``base``."""
    blocks = {}
    for b in BLOCKS:
        v = base.blocks[b][rows].mean(0)
        blocks[b] = (v / np.linalg.norm(v)).astype(np.float32)
    labels = base.label_scores[rows].mean(0).astype(np.float32)
    return FeatureRecord(blocks=blocks, label_scores=labels,
                         analysis={"kind": kind, "duration_s": 3.0, "valence": 0.25, "arousal": -0.5, "path": "upload"})


def _add(store, tmp_path, base, feat_dir, *, title, freq, rows, description=""):
    data = write_wav(tmp_path / f"{freq}.wav", tone(freq, seconds=1.0)).read_bytes()
    cid = store.add_clip(data, title=title, metadata={"description": description}, suffix=".wav")
    clip = store.clip(cid)
    prime_features(_record(base, rows), sha256=clip["sha256"], title=clip["title"], description=description,
                   feat_dir=feat_dir)
    return cid


def test_no_clips_returns_the_base_catalog(base, feat_dir):
    assert with_user_clips(base, [], analyzer=NoAnalysis(), feat_dir=feat_dir) is base


def test_added_clips_are_appended_in_order_and_loaded_from_the_cache(tmp_path, base, store, feat_dir):
    c1 = _add(store, tmp_path, base, feat_dir, title="My *forest* [walk](x)", freq=300, rows=[0, 1, 2],
              description="birds")
    c2 = _add(store, tmp_path, base, feat_dir, title="Neon night", freq=500, rows=[30, 31])
    cat = with_user_clips(base, store.clips(), analyzer=NoAnalysis(), feat_dir=feat_dir)
    n = len(base)
    assert len(cat) == n + 2 and cat.item_ids[:n] == base.item_ids, "built items keep their rows"
    assert cat.item_ids[n:] == [c1, c2] and cat.meta["user_clip_ids"] == [c1, c2]
    assert cat.meta["user_clips_skipped"] == [] and cat.meta["user_clips_analysed"] == 0
    row = cat.item(c1)
    assert row["title"] == "My *forest* [walk](x)" and row["source"] == USER_SOURCE and row["description"] == "birds"
    assert row["kind"] == "audio" and row["duration_s"] == 3.0 and row["valence"] == 0.25
    assert str(cat.media_path(c1)) == store.clip(c1)["path"] and cat.media_path(c1).is_file()
    assert cat.media_path(c1).parent == store.clips_dir, "the bytes live under a random name in the store"
    # Arrays stay row-aligned: the added rows hold the cached blocks, normalised embeddings.
    want = _record(base, [0, 1, 2])
    for b in BLOCKS:
        assert cat.blocks[b].shape == (n + 2, base.blocks[b].shape[1])
        np.testing.assert_allclose(cat.blocks[b][n], want.blocks[b], atol=1e-6)
    np.testing.assert_allclose(cat.blocks["visual"][:n], base.blocks["visual"])
    assert cat.embeddings.shape == (n + 2, base.embeddings.shape[1])
    np.testing.assert_allclose(np.linalg.norm(cat.embeddings, axis=1), 1.0, atol=1e-5)
    assert cat.label_scores.shape == (n + 2, base.label_scores.shape[1])
    assert json.loads(cat.items.iloc[n]["analysis"])["kind"] == "audio"
    assert len(base) == n, "the base catalog is not modified"


def test_a_restart_reads_the_same_catalog_without_analysing(tmp_path, base, store, feat_dir):
    cid = _add(store, tmp_path, base, feat_dir, title="Kept", freq=300, rows=[3, 4])
    first = with_user_clips(base, store.clips(), analyzer=NoAnalysis(), feat_dir=feat_dir)
    store.close()
    with Store(store.path) as again:  # a new process: the same database and feature cache
        second = with_user_clips(base, again.clips(), analyzer=NoAnalysis(), feat_dir=feat_dir)
    assert second.item_ids == first.item_ids and second.item_ids[-1] == cid
    np.testing.assert_array_equal(second.embeddings, first.embeddings)


def test_clips_that_cannot_be_used_are_skipped_not_fatal(tmp_path, base, store, feat_dir):
    good = _add(store, tmp_path, base, feat_dir, title="Good", freq=300, rows=[5])
    gone = _add(store, tmp_path, base, feat_dir, title="Gone", freq=400, rows=[6])
    Path(store.clip(gone)["path"]).unlink()             # its file disappeared from the data folder
    unanalysed = store.add_clip(b"not media at all" * 10, title="Junk", metadata={}, suffix=".mp3")  # not cached
    clips = store.clips() + [{**store.clip(good), "clip_id": base.item_ids[0]}]  # an id the base already has
    cat = with_user_clips(base, clips, analyzer=FailingAnalysis(), feat_dir=feat_dir)
    assert cat.item_ids == base.item_ids + [good]
    skipped = " | ".join(cat.meta["user_clips_skipped"])
    assert gone in skipped and unanalysed in skipped and "already has this id" in skipped
    assert "cannot be decoded" in skipped


def test_manifest_row_never_uses_the_uploaded_name(store):
    cid = store.add_clip(b"bytes" * 20, title="../../etc/passwd", metadata={"description": "d", "name": "x.mp4"},
                         suffix=".mp4")
    row = clip_manifest_row(store.clip(cid))
    assert row["path"] == str(store.clip(cid)["path"]) and "passwd" not in row["path"]
    assert row["title"] == "../../etc/passwd" and row["item_id"] == cid and row["source"] == USER_SOURCE


def test_an_added_clip_nobody_has_seen_is_fitted_and_recommended(tmp_path, base, store, feat_dir):
    """Demo users are simulated on the built catalog; the hybrid is fitted on the extended one."""
    from recsys.serving.hybrid import HybridRecommender
    from recsys.serving.query import query_from_history
    from recsys.serving.ranker import DEFAULT_WEIGHTS, rank
    from recsys.users.personas import simulate_interactions

    forest = list(range(0, 20, 2))  # cluster 0 (Nature Lover's side), audio rows
    cid = _add(store, tmp_path, base, feat_dir, title="Forest dawn", freq=300, rows=forest)
    cat = with_user_clips(base, store.clips(), analyzer=NoAnalysis(), feat_dir=feat_dir)
    inter = simulate_interactions(base)
    assert cid not in set(inter["item_id"])
    hybrid = HybridRecommender(cat, seed=0, bpr_epochs=10, matcher_epochs=5).fit(inter)
    assert hybrid.user_items_.shape[1] == len(cat) and hybrid.user_items_[:, cat.index(cid)].nnz == 0
    q = query_from_history(cat, forest[:3], label="forest fan")
    cs = hybrid.component_scores(q)
    r = cat.index(cid)
    for name, values in cs.raw.items():
        assert values.shape == (len(cat),) and np.all(np.isfinite(values)), name
    assert cs.raw["popularity"][r] == 0.0, "no simulated user has seen it"
    top = [x.row for x in rank(cs, DEFAULT_WEIGHTS, k=10, embeddings=cat.embeddings)]
    assert r in top, "content and matcher carry an item with no interactions into the top 10"
    # A query of the clip itself: its duplicate in the catalog is what it resembles most.
    own = hybrid.component_scores(query_from_history(cat, [r], label="the clip"))
    assert int(np.argmax(own.raw["visual"])) == r


@pytest.mark.slow
def test_a_clip_without_cached_features_is_analysed_once(tmp_path, base, store, feat_dir):
    """The real pipeline: the first join analyses the stored file, the second loads the cache."""
    from recsys.analysis.analyzer import Analyzer

    data = write_wav(tmp_path / "tone.wav", tone(440, seconds=2.0)).read_bytes()
    cid = store.add_clip(data, title="A plain tone", metadata={}, suffix=".wav")
    first = with_user_clips(base, store.clips(), analyzer=Analyzer(), feat_dir=feat_dir)
    assert first.item_ids[-1] == cid and first.meta["user_clips_analysed"] == 1
    assert len(list(feat_dir.glob("*.npz"))) == 1
    assert first.item(cid)["kind"] == "audio" and abs(first.item(cid)["duration_s"] - 2.0) < 0.1
    second = with_user_clips(base, store.clips(), analyzer=NoAnalysis(), feat_dir=feat_dir)
    assert second.meta["user_clips_analysed"] == 0
    np.testing.assert_allclose(second.embeddings[-1], first.embeddings[-1], atol=1e-6)
