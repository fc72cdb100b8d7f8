"""recsys.catalog: manifests, save/load round trip, and a real build whose cache skips unchanged clips."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import synthetic_catalog, tone, white_noise, write_wav
from recsys.catalog import Catalog, build_catalog, read_manifest
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
