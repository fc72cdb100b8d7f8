"""The Ray build path on a local Ray instance with two workers equals the single-process build."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.factories import click_track, tone, white_noise, write_wav

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")


def test_ray_build_equals_single_process_build(tmp_path, monkeypatch):
    from recsys.catalog.catalog import Catalog, build_catalog
    from recsys.catalog.distributed import build_catalog_ray

    media = tmp_path / "media"
    media.mkdir()
    write_wav(media / "tone.wav", tone(440, seconds=2.0))
    write_wav(media / "noise.wav", white_noise(seconds=2.0))
    write_wav(media / "clicks.wav", click_track(120, seconds=3.0))
    (media / "broken.ogg").write_bytes(b"\x00" * 300)
    pd.DataFrame({"path": ["tone.wav", "noise.wav", "clicks.wav", "broken.ogg"],
                  "title": ["Tone", "Noise", "Clicks", "Broken"]}).to_csv(media / "m.csv", index=False)

    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache-single"))
    single = build_catalog(media, manifest=media / "m.csv", out_dir=tmp_path / "single")
    # A separate cache: the Ray workers must analyse every clip themselves.
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache-ray"))
    dist = build_catalog_ray(media, manifest=media / "m.csv", out_dir=tmp_path / "ray", workers=2, batch_size=1)
    assert dist.meta["analysed"] == 3 and dist.meta["shards"] >= 1 and len(dist.meta["skipped"]) == 1
    assert dist.item_ids == single.item_ids == ["tone", "noise", "clicks"]
    np.testing.assert_allclose(dist.embeddings, single.embeddings, atol=1e-5)
    np.testing.assert_allclose(dist.label_scores, single.label_scores, atol=1e-5)
    pd.testing.assert_frame_equal(dist.items.drop(columns=["analysis"]), single.items.drop(columns=["analysis"]))
    loaded = Catalog.load(tmp_path / "ray")
    np.testing.assert_array_equal(loaded.embeddings, dist.embeddings)
