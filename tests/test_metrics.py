"""Ranking metrics against answers computed by hand."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ConfigError
from recsys.evaluation.metrics import coverage, hit_rate_at_k, hits, intra_list_diversity, map_at_k, \
    mrr_at_k, ndcg_at_k, precision_at_k, ranking_metrics, recall_at_k

# User 0: top-3 [1, 2, 3], relevant {2, 5}  -> one hit at rank 2.
# User 1: top-3 [4, 0, -1], relevant {0, 1, 2, 4} -> hits at ranks 1 and 2, padding at 3.
# User 2: no relevant item -> left out of every mean.
RECOMMENDED = np.array([[1, 2, 3], [4, 0, -1], [0, 1, 2]])
RELEVANT = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 1],
                                   [1, 1, 1, 0, 1, 0],
                                   [0, 0, 0, 0, 0, 0]], np.float32))
L2 = 1 / np.log2(3)  # discount at rank 2


def test_hits():
    assert hits(RECOMMENDED, RELEVANT, 3).tolist() == [[False, True, False], [True, True, False],
                                                       [False, False, False]]


def test_each_metric_by_hand():
    assert precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert recall_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 2 + 2 / 4) / 2)
    ndcg0 = L2 / (1 + L2)  # ideal over min(3, 2) = 2 hits
    ndcg1 = (1 + L2) / (1 + L2 + 0.5)  # ideal over min(3, 4) = 3 hits
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((ndcg0 + ndcg1) / 2)
    assert mrr_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((1 / 2 + 1) / 2)
    assert hit_rate_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(1.0)
    assert map_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((0.5 / 2 + 2 / 3) / 2)


def test_k_truncates():
    result = ranking_metrics(RECOMMENDED, RELEVANT, 1)
    assert result["precision@1"] == pytest.approx(0.5)
    assert result["ndcg@1"] == pytest.approx(0.5)
    assert result["mrr@1"] == pytest.approx(0.5)


def test_perfect_ranking_scores_one():
    rec = np.array([[2, 5, 0]])
    rel = sp.csr_matrix(np.array([[0, 0, 1, 0, 0, 1]], np.float32))
    result = ranking_metrics(rec, rel, 3)
    assert result["ndcg@3"] == pytest.approx(1.0) and result["map@3"] == pytest.approx(1.0)
    assert result["recall@3"] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ConfigError):
        ranking_metrics(RECOMMENDED, RELEVANT, 4)
    with pytest.raises(ConfigError):
        ranking_metrics(RECOMMENDED[:2], RELEVANT, 3)
    with pytest.raises(ConfigError, match="no user"):
        ranking_metrics(RECOMMENDED, sp.csr_matrix((3, 6)), 3)


def test_coverage():
    assert coverage(RECOMMENDED, 6) == pytest.approx(5 / 6)  # items 0..4, padding ignored


def test_intra_list_diversity():
    features = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    # [0, 1, 2]: cosines 1, 0, 0 -> 1 - 1/3; [0, 2, -1]: cosine 0 -> 1; [3, -1, -1]: skipped.
    lists = np.array([[0, 1, 2], [0, 2, -1], [3, -1, -1]])
    assert intra_list_diversity(lists, features) == pytest.approx((2 / 3 + 1) / 2)
    assert np.isnan(intra_list_diversity(np.array([[1, -1]]), features))
