"""Every clip in ../shared/media decodes and analyses; the robust checks hold (skipped when absent)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow
NATURE_THEMES = {"nature", "water", "weather", "animals", "birds"}


@pytest.fixture(scope="module")
def results(shared_media, shared_catalog):
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer, ClipMetadata

    analyzer = Analyzer(AnalysisConfig(use_filename_title=False, transcribe="never"))
    return {r.path: analyzer.analyze(shared_media / r.path, metadata=ClipMetadata())
            for r in shared_catalog.itertuples()}


def test_every_shared_clip_decodes_and_analyses(results, shared_catalog):
    assert len(results) == len(shared_catalog) == 76
    for r in shared_catalog.itertuples():
        a = results[r.path]
        assert a.kind == r.kind
        assert a.duration_s == pytest.approx(r.duration_s, abs=0.6)
        assert np.linalg.norm(a.embedding) == pytest.approx(1.0, abs=1e-4)
        u = a.understanding
        for facet in ("themes", "emotions", "styles"):  # a facet shows labels, or says why not
            assert u.facet(facet) or u.abstain.get(facet), (r.path, facet)
        assert "birds" not in {s.label for s in u.themes} or "bird" in r.labels, (r.path, u.themes)


def test_speech_clips_have_speech_on_top(results, shared_catalog):
    speech = [r.path for r in shared_catalog.itertuples() if "speech" in r.labels]
    assert len(speech) >= 4
    for path in speech:
        assert results[path].top_audio[0][0] == "Speech", (path, results[path].top_audio[:3])
        styles = results[path].understanding.styles
        assert not styles or styles[0].label == "spoken_word", (path, styles)


@pytest.mark.parametrize("name", ["rain.wav", "ocean.wav"])
def test_rain_and_ocean_get_a_nature_theme(results, name):
    path = f"audio/smstools/{name}"
    u = results[path].understanding
    top3 = {s.label for s in u.themes[:3]}
    assert top3 & NATURE_THEMES, (top3, u.abstain)
    assert u.themes[0].evidence, "the top theme names its evidence"


def test_bunny_is_animation_with_animals(results):
    u = results["video/blender/big_buck_bunny_0_30.webm"].understanding
    assert "animals" in {s.label for s in u.all_scores["themes"][:3]}
