"""Held-out evaluation and weight tuning of the hybrid on a catalog's (simulated) users.

Protocol: every user keeps a random 75% of their items for training and holds out 25%
(at least one). The hybrid is fitted on the training part only. Users are split in two halves,
*validation* (for tuning weights and for the app's live metrics) and *test* (reported once).
For each held-out user the component scores are computed once from their training history
(plus persona text); any weight vector is then scored by fusing cached arrays, so one
``metrics(weights)`` call costs milliseconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.catalog.catalog import Catalog
from recsys.evaluation.metrics import coverage, ranking_metrics
from recsys.serving.hybrid import HybridRecommender, query_from_history
from recsys.serving.ranker import COMPONENTS, PRESETS, rank


class HoldoutValidator:
    def __init__(self, catalog: Catalog, interactions: pd.DataFrame, user_text: dict[str, np.ndarray],
                 *, holdout: float = 0.25, seed: int = 0, k: int = 10):
        rng = np.random.default_rng(seed)
        self.catalog, self.k = catalog, k
        train_rows, held = [], {}
        for uid, g in interactions.groupby("user_id", sort=True):
            idx = rng.permutation(len(g))
            n_out = max(1, int(round(holdout * len(g)))) if len(g) >= 2 else 0
            held[uid] = [catalog.index(i) for i in g["item_id"].iloc[idx[:n_out]]]
            train_rows.append(g.iloc[idx[n_out:]])
        train = pd.concat(train_rows)
        self.hybrid = HybridRecommender(catalog, seed=seed).fit(train, user_text=user_text)
        users = [u for u in sorted(held) if held[u]]
        order = rng.permutation(len(users))
        half = len(users) // 2
        self.splits = {"val": [users[i] for i in order[:half]], "test": [users[i] for i in order[half:]]}
        n = len(catalog)
        self.components: dict[str, dict[str, np.ndarray]] = {}
        self.candidates: dict[str, np.ndarray] = {}
        self.truth: dict[str, sp.csr_matrix] = {}
        train_hist = train.groupby("user_id")["item_id"].apply(list).to_dict()
        for name, us in self.splits.items():
            comps = {c: np.zeros((len(us), n), np.float32) for c in COMPONENTS}
            cand = np.ones((len(us), n), bool)
            rows, cols = [], []
            for r, u in enumerate(us):
                liked = [catalog.index(i) for i in train_hist.get(u, [])]
                q = query_from_history(catalog, liked, label=u, user_text=user_text.get(u))
                cs = self.hybrid.component_scores(q)
                for c in COMPONENTS:
                    comps[c][r] = cs.scores[c]
                cand[r] = cs.candidates
                rows += [r] * len(held[u])
                cols += held[u]
            self.components[name], self.candidates[name] = comps, cand
            self.truth[name] = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(us), n))

    def recommend(self, weights: dict[str, float], split: str = "val") -> np.ndarray:
        """(n_users, k) catalog rows recommended to the split's users under ``weights``."""
        comps, cand = self.components[split], self.candidates[split]
        if weights.get("diversity", 0.0) > 0:  # MMR is per user; catalogs here are small
            from recsys.serving.ranker import ComponentScores

            out = []
            for r in range(cand.shape[0]):
                cs = ComponentScores({c: comps[c][r] for c in COMPONENTS}, cand[r])
                out.append([x.row for x in rank(cs, weights, k=self.k, embeddings=self.catalog.embeddings)])
            return np.asarray(out)
        total = sum(weights.get(c, 0.0) * comps[c] for c in COMPONENTS)
        total = np.where(cand, total, -np.inf)
        return np.argsort(-total, axis=1, kind="stable")[:, : self.k]

    def metrics(self, weights: dict[str, float], split: str = "val") -> dict[str, float]:
        """Recall, NDCG, ... at k for ``weights`` on the split's held-out users."""
        recs = self.recommend(weights, split)
        out = ranking_metrics(recs, self.truth[split], self.k)
        out["coverage"] = coverage(recs, len(self.catalog))
        out["n_users"] = int(self.truth[split].shape[0])
        return out

    def tune(self, *, n_trials: int = 300, seed: int = 0, metric: str = "ndcg") -> tuple[dict[str, float], float]:
        """Random search over weights in [0, 1] (plus the presets) maximising ``metric@k`` on
        the validation users. Returns (best weights, best validation value)."""
        rng = np.random.default_rng(seed)
        key = f"{metric}@{self.k}"
        trials = [dict(p, diversity=0.0) for p in PRESETS.values()]
        trials += [dict(zip(COMPONENTS, rng.uniform(0, 1, len(COMPONENTS)) * (rng.uniform(size=len(COMPONENTS)) > 0.3)),
                        diversity=0.0) for _ in range(n_trials)]
        best, best_val = trials[0], -1.0
        for w in trials:
            if not any(w[c] > 0 for c in COMPONENTS):
                continue
            v = self.metrics(w, "val")[key]
            if v > best_val:
                best, best_val = w, v
        return best, best_val

    def report(self, *, n_trials: int = 300, seed: int = 0) -> dict:
        """Tuned hybrid vs every single component, on the test users (never used for tuning)."""
        best, val = self.tune(n_trials=n_trials, seed=seed)
        rows = {"hybrid (tuned)": self.metrics(best, "test")}
        for c in COMPONENTS:
            rows[f"{c} only"] = self.metrics({c: 1.0}, "test")
        rows["balanced preset"] = self.metrics(PRESETS["balanced"], "test")
        return {"weights": best, "val_ndcg": val, "test": rows,
                "n_val_users": len(self.splits["val"]), "n_test_users": len(self.splits["test"])}
