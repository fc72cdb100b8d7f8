"""The app's hybrid (``HybridRecommender`` + ``ranker``) measured on held-out users, and its
weights tuned on validation users.

For each evaluated user the component scores are computed once from their training history
(plus persona text) into a :class:`ScoreTable`; any weight vector is then scored by fusing
cached arrays, so one ``metrics(weights)`` call costs milliseconds.

Two users of it:

* :class:`HoldoutValidator` (the Tune page's live metrics): the catalog's simulated users split
  per user with :func:`recsys.evaluation.splits.stratified_split` (75 % train), the held-out users
  halved into *validation* (tuning, live metrics) and *test* (reported once);
* :func:`evaluate_app_hybrid` (``python -m recsys evaluate``): a protocol's train/test split,
  weights tuned on a validation split carved from the training part only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.catalog.catalog import Catalog
from recsys.evaluation.metrics import coverage, ranking_metrics
from recsys.evaluation.splits import stratified_split
from recsys.serving.hybrid import HybridRecommender
from recsys.serving.query import query_from_history
from recsys.serving.ranker import COMPONENTS, PRESETS, ComponentScores, rank
from recsys.users.interactions import Interactions


@dataclass
class ScoreTable:
    """Cached component scores of a set of users.

    components : name -> (n_users, n_items) float32, as :meth:`HybridRecommender.component_scores`
    candidates : (n_users, n_items) bool, rankable items (training history excluded)
    truth : (n_users, n_items) csr, the held-out items
    """

    users: list[str]
    components: dict[str, np.ndarray]
    candidates: np.ndarray
    truth: sp.csr_matrix


def score_table(hybrid: HybridRecommender, catalog: Catalog, histories: dict[str, list[int]],
                held: dict[str, list[int]], user_text: dict[str, np.ndarray], users: list[str]) -> ScoreTable:
    """Component scores of ``users`` from their ``histories`` (catalog rows), truth = ``held``."""
    n = len(catalog)
    comps = {c: np.zeros((len(users), n), np.float32) for c in COMPONENTS}
    cand = np.ones((len(users), n), bool)
    rows, cols = [], []
    queries = [query_from_history(catalog, histories.get(u, []), label=u, user_text=user_text.get(u)) for u in users]
    for r, (u, cs) in enumerate(zip(users, hybrid.component_scores_many(queries))):
        for c in COMPONENTS:
            comps[c][r] = cs.scores[c]
        cand[r] = cs.candidates
        rows += [r] * len(held[u])
        cols += held[u]
    truth = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), n))
    return ScoreTable(users, comps, cand, truth)


def rank_table(table: ScoreTable, weights: dict[str, float], k: int, embeddings: np.ndarray) -> np.ndarray:
    """(n_users, k) catalog rows ranked under ``weights``, as the app's ranker would."""
    comps, cand = table.components, table.candidates
    if weights.get("diversity", 0.0) > 0:  # MMR is per user; catalogs here are small
        out = []
        for r in range(cand.shape[0]):
            cs = ComponentScores({c: comps[c][r] for c in COMPONENTS}, cand[r])
            out.append([x.row for x in rank(cs, weights, k=k, embeddings=embeddings)])
        return np.asarray(out)
    total = sum(weights.get(c, 0.0) * comps[c] for c in COMPONENTS)
    total = np.where(cand, total, -np.inf)
    return np.argsort(-total, axis=1, kind="stable")[:, :k]


def table_metrics(table: ScoreTable, weights: dict[str, float], k: int, embeddings: np.ndarray) -> dict[str, float]:
    """Recall, NDCG, ... at k (and catalog coverage, number of users) for ``weights``."""
    recs = rank_table(table, weights, k, embeddings)
    out = ranking_metrics(recs, table.truth, k)
    out["coverage"] = coverage(recs, embeddings.shape[0])
    out["n_users"] = int(table.truth.shape[0])
    return out


def tune_weights(table: ScoreTable, k: int, embeddings: np.ndarray, *, n_trials: int = 300, seed: int = 0,
                 metric: str = "ndcg") -> tuple[dict[str, float], float]:
    """Random search over weights in [0, 1] (plus the presets) maximising ``metric@k`` on
    ``table``. Returns (best weights, best value).

    A component whose scores are the same for every item of every user (a text-only catalog's
    visual and audio blocks) cannot change a ranking: its weight is reported as 0, not as the
    arbitrary value the search happened to draw."""
    rng = np.random.default_rng(seed)
    inert = inert_components(table)
    key = f"{metric}@{k}"
    trials = [dict(p, diversity=0.0) for p in PRESETS.values()]
    trials += [dict(zip(COMPONENTS, rng.uniform(0, 1, len(COMPONENTS)) * (rng.uniform(size=len(COMPONENTS)) > 0.3)),
                    diversity=0.0) for _ in range(n_trials)]
    best, best_val = trials[0], -1.0
    for w in trials:
        w = {c: (0.0 if c in inert else x) for c, x in w.items()}
        if not any(w[c] > 0 for c in COMPONENTS):
            continue
        v = table_metrics(table, w, k, embeddings)[key]
        if v > best_val:
            best, best_val = w, v
    return best, best_val


def inert_components(table: ScoreTable) -> set[str]:
    """Components whose (n_users, n_items) scores have zero spread along every user's row."""
    return {c for c, m in table.components.items() if m.size == 0 or float(np.ptp(m, axis=1).max()) == 0.0}


def _rows_by_user(df: pd.DataFrame, catalog: Catalog) -> dict[str, list[int]]:
    return {u: [catalog.index(i) for i in g] for u, g in df.groupby("user_id", sort=True)["item_id"]}


def _split_frame(df: pd.DataFrame, catalog: Catalog, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user 75/25 split of an events frame (the project's one stratified hold-out)."""
    inter = Interactions.from_frame(df, "user_id", "item_id", item_ids=catalog.item_ids)
    parts = stratified_split(inter, ratio=0.75, seed=seed)
    return parts.train.to_frame(), parts.test.to_frame()


class HoldoutValidator:
    """The Tune page's quality figures: the hybrid fitted on 75 % of each simulated user's items,
    metrics on the other 25 %, users halved into validation and test."""

    def __init__(self, catalog: Catalog, interactions: pd.DataFrame, user_text: dict[str, np.ndarray],
                 *, seed: int = 0, k: int = 10):
        self.catalog, self.k = catalog, k
        train, held_df = _split_frame(interactions, catalog, seed)
        self.hybrid = HybridRecommender(catalog, seed=seed).fit(train, user_text=user_text)
        held = _rows_by_user(held_df, catalog)
        users = [u for u in sorted(held) if held[u]]
        order = np.random.default_rng(seed).permutation(len(users))
        half = len(users) // 2
        self.splits = {"val": [users[i] for i in order[:half]], "test": [users[i] for i in order[half:]]}
        histories = _rows_by_user(train, catalog)
        self.tables = {name: score_table(self.hybrid, catalog, histories, held, user_text, us)
                       for name, us in self.splits.items()}

    def ranked_rows(self, weights: dict[str, float], split: str = "val") -> np.ndarray:
        """(n_users, k) catalog rows recommended to the split's users under ``weights``."""
        return rank_table(self.tables[split], weights, self.k, self.catalog.embeddings)

    def metrics(self, weights: dict[str, float], split: str = "val") -> dict[str, float]:
        """Recall, NDCG, ... at k for ``weights`` on the split's held-out users."""
        return table_metrics(self.tables[split], weights, self.k, self.catalog.embeddings)

    def tune(self, *, n_trials: int = 300, seed: int = 0, metric: str = "ndcg") -> tuple[dict[str, float], float]:
        """Weights maximising ``metric@k`` on the validation users (see :func:`tune_weights`)."""
        return tune_weights(self.tables["val"], self.k, self.catalog.embeddings, n_trials=n_trials, seed=seed,
                            metric=metric)

    def report(self, *, n_trials: int = 300, seed: int = 0) -> dict:
        """Tuned hybrid vs every single component, on the test users (never used for tuning)."""
        best, val = self.tune(n_trials=n_trials, seed=seed)
        rows = {"hybrid (tuned)": self.metrics(best, "test")}
        for c in COMPONENTS:
            rows[f"{c} only"] = self.metrics({c: 1.0}, "test")
        rows["balanced preset"] = self.metrics(PRESETS["balanced"], "test")
        return {"weights": best, "val_ndcg": val, "test": rows,
                "n_val_users": len(self.splits["val"]), "n_test_users": len(self.splits["test"])}


def evaluate_app_hybrid(catalog: Catalog, train: pd.DataFrame, test: pd.DataFrame,
                        user_text: dict[str, np.ndarray], *, k: int = 10, seed: int = 0,
                        n_trials: int = 300) -> dict:
    """The app's hybrid on a protocol's split: weights tuned on a 75/25 split of ``train``
    (validation never sees ``test``), then the hybrid refitted on all of ``train`` and ranked
    for the test users. ``train``/``test``: frames with user_id, item_id (catalog ids).

    Returns ``{"ranked": (n_users, k) rows, "truth": csr, "weights", "tuned_on", "fit_s",
    "score_s"}``.
    """
    t0 = time.perf_counter()
    fit_part, val_part = _split_frame(train, catalog, seed + 1)
    inner = HybridRecommender(catalog, seed=seed).fit(fit_part, user_text=user_text)
    val_held = _rows_by_user(val_part, catalog)
    val_users = [u for u in sorted(val_held) if val_held[u]]
    val_table = score_table(inner, catalog, _rows_by_user(fit_part, catalog), val_held, user_text, val_users)
    weights, _ = tune_weights(val_table, k, catalog.embeddings, n_trials=n_trials, seed=seed)
    hybrid = HybridRecommender(catalog, seed=seed).fit(train, user_text=user_text)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    held = _rows_by_user(test, catalog)
    users = [u for u in sorted(held) if held[u]]
    table = score_table(hybrid, catalog, _rows_by_user(train, catalog), held, user_text, users)
    ranked = rank_table(table, weights, k, catalog.embeddings)
    return {"ranked": ranked, "truth": table.truth, "weights": weights, "tuned_on": "validation (from train)",
            "fit_s": fit_s, "score_s": time.perf_counter() - t0}
