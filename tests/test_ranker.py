"""recsys.serving.ranker: weight parsing, per-query normalisation, fusion, MMR, filters."""
from __future__ import annotations

import numpy as np
import pytest

from recsys.errors import ConfigError
from recsys.serving.ranker import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    ComponentScores,
    normalise,
    parse_weights,
    rank,
)


def test_parse_weights():
    w = parse_weights("visual=0.5, cf=2,semantic_tags=0.1,diversity=0.3")
    assert w["visual"] == 0.5 and w["cf"] == 2.0 and w["semantic"] == 0.1 and w["diversity"] == 0.3
    assert w["audio"] == DEFAULT_WEIGHTS["audio"]
    for bad in ("visual", "colour=1", "visual=abc", "visual=-1", "diversity=2"):
        with pytest.raises(ConfigError):
            parse_weights(bad)


def test_normalise_per_query_and_constant():
    x = np.array([2.0, 4.0, 6.0, 100.0])
    valid = np.array([True, True, True, False])
    np.testing.assert_allclose(normalise(x, valid)[:3], [0.0, 0.5, 1.0])
    assert normalise(x, valid)[3] == 1.0  # clipped
    assert not np.any(normalise(np.ones(4)))


def _cs(n=6):
    raw = {c: np.zeros(n) for c in COMPONENTS}
    raw["audio"] = np.arange(n, dtype=float)          # favours the last items
    raw["visual"] = np.arange(n, dtype=float)[::-1]   # favours the first items
    return ComponentScores.build(raw, np.ones(n, bool))


def test_weights_decide_the_order_and_components_sum_to_score():
    cs = _cs()
    by_audio = rank(cs, {"audio": 1.0, "visual": 0.1}, k=3)
    by_visual = rank(cs, {"audio": 0.1, "visual": 1.0}, k=3)
    assert [r.row for r in by_audio] == [5, 4, 3]
    assert [r.row for r in by_visual] == [0, 1, 2]
    for r in by_audio:
        assert sum(r.components.values()) == pytest.approx(r.score)


def test_excluded_and_masked_items_never_appear():
    cs = _cs()
    cs.candidates[5] = False
    mask = np.array([True, False, True, False, True, True])
    rows = [r.row for r in rank(cs, {"audio": 1.0}, k=6, mask=mask)]
    assert rows == [4, 2, 0]


def test_mmr_diversity_trades_relevance_for_spread():
    n = 6
    emb = np.zeros((n, 2), np.float32)
    emb[:3] = [1, 0]   # three near-duplicates, most relevant
    emb[3:] = [0, 1]
    raw = {c: np.zeros(n) for c in COMPONENTS}
    raw["audio"] = np.array([1.0, 0.99, 0.98, 0.6, 0.5, 0.4])
    cs = ComponentScores.build(raw, np.ones(n, bool))
    plain = [r.row for r in rank(cs, {"audio": 1.0}, k=2, embeddings=emb)]
    diverse = [r.row for r in rank(cs, {"audio": 1.0, "diversity": 0.6}, k=2, embeddings=emb)]
    assert plain == [0, 1] and diverse == [0, 3]


def test_k_must_be_positive():
    with pytest.raises(ConfigError):
        rank(_cs(), {"audio": 1.0}, k=0)


def test_kind_share_calibrates_the_mix_and_keeps_score_order():
    """Quotas: 10 items at 60/40 audio/video even when every top item by score is audio."""
    n = 40
    kinds = np.array(["audio"] * 30 + ["video"] * 10)
    raw = {c: np.zeros(n) for c in COMPONENTS}
    raw["visual"] = np.linspace(1.0, 0.0, n)   # audio rows 0-29 score highest
    cs = ComponentScores.build(raw, np.ones(n, bool))
    plain = rank(cs, {"visual": 1.0}, k=10)
    assert all(kinds[r.row] == "audio" for r in plain)
    ranked = rank(cs, {"visual": 1.0}, k=10, kinds=kinds, kind_share={"audio": 0.6, "video": 0.4})
    rows = [r.row for r in ranked]
    assert sum(kinds[rows] == "video") == 4 and sum(kinds[rows] == "audio") == 6
    assert rows == sorted(rows), "best first"
    assert rows[:6] == list(range(6)) and rows[6:] == [30, 31, 32, 33], "each kind's best items"


def test_kind_share_gives_unfillable_places_to_the_other_kind():
    n = 12
    kinds = np.array(["audio"] * 10 + ["video"] * 2)
    raw = {c: np.zeros(n) for c in COMPONENTS}
    raw["visual"] = np.linspace(1.0, 0.0, n)
    cs = ComponentScores.build(raw, np.ones(n, bool))
    rows = [r.row for r in rank(cs, {"visual": 1.0}, k=6, kinds=kinds, kind_share={"audio": 0.2, "video": 0.8})]
    assert len(rows) == 6 and {10, 11} <= set(rows)
