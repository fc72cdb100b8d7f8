"""recsys.catalog.catalog: manifests, save/load round trip, and a real build whose cache skips unchanged clips."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.factories import synthetic_catalog, tone, white_noise, write_wav
from recsys.catalog.catalog import Catalog, build_catalog, read_manifest
from recsys.errors import RecsysError, UnknownIdError


def test_save_load_round_trip(tmp_path):
    cat = synthetic_catalog(10)
    cat.save(tmp_path / "c")
    back = Catalog.load(tmp_path / "c")
    assert back.item_ids == cat.item_ids
    np.testing.assert_array_equal(back.embeddings, cat.embeddings)
    for b in cat.blocks:
        np.testing.assert_array_equal(back.blocks[b], cat.blocks[b])
    assert back.index("item-03") == 3
    with pytest.raises(UnknownIdError, match="unknown item id"):
        back.index("nope")
    np.testing.assert_allclose(np.linalg.norm(back.embeddings, axis=1), 1.0, atol=1e-5)


def test_missing_catalog_and_bad_manifest(tmp_path):
    with pytest.raises(RecsysError, match="no catalog"):
        Catalog.load(tmp_path)
    bad = tmp_path / "m.csv"
    bad.write_text("title\nx\n")
    with pytest.raises(RecsysError, match="no 'path' column"):
        read_manifest(tmp_path, bad)


def test_manifest_defaults_from_folder(tmp_path):
    write_wav(tmp_path / "Rain_on_Roof.wav", tone(200, seconds=0.5))
    (tmp_path / "notes.txt").write_text("not media")
    df = read_manifest(tmp_path, None)
    assert list(df["path"]) == ["Rain_on_Roof.wav"] and df["title"][0] == "Rain on Roof"
    assert df["item_id"][0] == "rain-on-roof"


@pytest.mark.slow
def test_real_build_reuses_cached_features(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache"))
    media = tmp_path / "media"
    media.mkdir()
    write_wav(media / "a.wav", tone(440, seconds=2.0))
    write_wav(media / "b.wav", white_noise(seconds=2.0))
    (media / "broken.mp3").write_bytes(b"garbage" * 50)
    manifest = media / "m.csv"
    pd.DataFrame({"path": ["a.wav", "b.wav", "broken.mp3"], "title": ["Tone", "Noise", "Broken"]}).to_csv(manifest, index=False)
    first = build_catalog(media, manifest=manifest, out_dir=tmp_path / "cat")
    assert first.meta["analysed"] == 2 and len(first) == 2 and len(first.meta["skipped"]) == 1
    again = build_catalog(media, manifest=manifest, out_dir=tmp_path / "cat")
    assert again.meta["analysed"] == 0 and again.meta["reused"] == 2
    np.testing.assert_allclose(again.embeddings, first.embeddings)
    write_wav(media / "b.wav", white_noise(seconds=2.0, seed=7))  # changed content
    third = build_catalog(media, manifest=manifest, out_dir=tmp_path / "cat")
    assert third.meta["analysed"] == 1
    assert Catalog.load(tmp_path / "cat").item_ids == ["a", "b"]


def test_vector_index_is_persisted_with_the_catalog_and_reused(tmp_path, monkeypatch):
    import recsys.catalog.index as index_mod

    cat = synthetic_catalog(30)
    folder = cat.save(tmp_path / "c")
    index = cat.vector_index()
    assert index.kind == "exact" and cat.vector_index() is index      # built once per object
    assert (folder / "index" / "index.json").is_file()
    # A fresh load reads the saved index instead of building one.
    monkeypatch.setattr(index_mod, "make_index", lambda *a, **k: pytest.fail("index rebuilt"))
    back = Catalog.load(folder)
    assert len(back.vector_index()) == 30


def test_stale_index_is_rebuilt(tmp_path):
    cat = synthetic_catalog(30)
    folder = cat.save(tmp_path / "c")
    cat.vector_index()
    bigger = synthetic_catalog(40)
    bigger.meta = dict(cat.meta)          # same build stamp, other items: the size check catches it
    bigger.save(folder)
    assert len(Catalog.load(folder).vector_index()) == 40


def test_similar_items_by_index(tmp_path):
    cat = synthetic_catalog(40)
    rows, sims = cat.similar(cat.embeddings[3], k=5, exclude={3})
    assert 3 not in rows and len(rows) == 5
    expected = [r for r in np.argsort(-(cat.embeddings @ cat.embeddings[3]), kind="stable") if r != 3][:5]
    assert list(rows) == expected
    assert np.all(np.diff(sims) <= 1e-6)


def test_similar_through_an_approximate_index(monkeypatch):
    import recsys.catalog.index as index_mod

    cat = synthetic_catalog(300, seed=3)
    real = index_mod.make_index
    monkeypatch.setattr(index_mod, "make_index", lambda x, **k: real(x, kind="hnsw", projection_dim=None))
    assert cat.vector_index().kind == "hnsw"
    exact = np.argsort(-(cat.embeddings @ cat.embeddings[7]), kind="stable")
    rows, _ = cat.similar(cat.embeddings[7], k=10, exclude={7})
    assert len(set(rows) & set(exact[1:11])) >= 9   # re-ranked with the full vectors
