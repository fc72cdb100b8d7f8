"""The hybrid recommender over a catalog: builds queries and their component scores.

Fitted parts (on the catalog's interactions, real or simulated):
  cf          BPR matrix factorisation; a brand-new clip gets CF scores through the content-to-CF
              projection (ridge regression from content to BPR item factors)
  matcher     the learned matching network M(concat[p_u, f_v]) -> score
  popularity  interaction counts
Content components (visual, audio, text, semantic) are cosines between the query's profile and
each item's block, needing no fit. Item features for the learned parts are the PCA of the item
embeddings (``n_features`` dims), so a new clip is projected the same way.

Large catalogs (``retrieval_min_items`` items or more, by default the size at which the catalog's
vector index turns approximate) are scored in two stages: candidates are retrieved first -- the
query's nearest items from the catalog's index, plus the best items by CF and by popularity
(``retrieval_pool`` from each source) -- and only they get content and matcher scores; every
other item is left out of the ranking. Smaller catalogs score every item.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.catalog.catalog import Catalog
from recsys.catalog.index import DEFAULT_THRESHOLD
from recsys.encoders.text import DIM as TEXT_DIM
from recsys.errors import RecsysError, UnknownIdError
from recsys.pca import fit_pca_basis
from recsys.serving.query import Query, query_from_history
from recsys.serving.ranker import ComponentScores


class HybridRecommender:
    """Component scores for any query over one catalog. Thread-safe after ``fit`` (read-only)."""

    def __init__(self, catalog: Catalog, *, n_features: int = 64, factors: int = 32, seed: int = 0,
                 bpr_epochs: int = 60, matcher_epochs: int = 40, retrieval_min_items: int = DEFAULT_THRESHOLD,
                 retrieval_pool: int = 2000):
        self.catalog = catalog
        self.retrieval_min_items = retrieval_min_items
        self.retrieval_pool = retrieval_pool
        self.n_features = n_features
        self.factors = factors
        self.seed = seed
        self.bpr_epochs = bpr_epochs
        self.matcher_epochs = matcher_epochs
        self.fitted_ = False

    # -- fitting -------------------------------------------------------------------------------
    def item_features(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, n_features) PCA coordinates of item vectors (n, D) in the catalog's PCA basis."""
        return self.pca_.transform(embeddings)

    def fit(self, interactions: pd.DataFrame, *, user_text: dict[str, np.ndarray] | None = None) -> HybridRecommender:
        """Fit CF, matcher, projection and popularity on (user_id, item_id, weight) rows.

        ``user_text`` maps user ids to (384,) text vectors (e.g. their persona's description);
        users without one get zeros.
        """
        from recsys.models.bpr import BPR
        from recsys.models.matcher import Matcher
        from recsys.models.popularity import Popularity
        from recsys.models.projection import ContentToCF

        t0 = time.perf_counter()
        cat = self.catalog
        emb = cat.embeddings
        self.pca_ = fit_pca_basis(emb, self.n_features)
        self.item_feats_ = self.item_features(emb)
        self.user_ids_ = list(dict.fromkeys(interactions["user_id"]))
        urow = {u: i for i, u in enumerate(self.user_ids_)}
        rows = interactions["user_id"].map(urow).to_numpy()
        cols = np.array([cat.index(i) for i in interactions["item_id"]])
        weights = interactions["weight"].to_numpy(np.float32) if "weight" in interactions else np.ones(len(rows), np.float32)
        self.user_items_ = sp.csr_matrix((weights, (rows, cols)), shape=(len(self.user_ids_), len(cat)))
        self.user_items_.sum_duplicates()
        self.user_items_.data[:] = 1.0
        text = np.zeros((len(self.user_ids_), TEXT_DIM), np.float32)
        for u, vec in (user_text or {}).items():
            if u in urow:
                text[urow[u]] = vec
        self.user_text_ = text
        self.bpr_ = BPR(factors=self.factors, epochs=self.bpr_epochs, random_state=self.seed).fit(self.user_items_)
        self.projection_ = ContentToCF().fit_from(self.bpr_, self.item_feats_)
        self.matcher_ = Matcher(epochs=self.matcher_epochs, random_state=self.seed).fit(
            self.user_items_, item_features=self.item_feats_, user_features=self.user_text_)
        self.popularity_ = Popularity().fit(self.user_items_)
        self.fit_seconds_ = time.perf_counter() - t0
        self.fitted_ = True
        return self

    # -- scoring -------------------------------------------------------------------------------
    def component_scores(self, q: Query, *, kind: str | None = None) -> ComponentScores:
        """Raw and normalised scores of every component for query ``q``; ``kind`` filters items.

        Arrays are (n_items,); in a large catalog only the retrieved candidates (see the module
        docstring) carry content and matcher scores, and only they are rankable.
        """
        return self._component_scores(q, kind, self._dense_learned_scores(q) if self.fitted_ else {})

    def component_scores_many(self, queries: list[Query], *, kind: str | None = None) -> list[ComponentScores]:
        """:meth:`component_scores` of every query in ``queries``, the same as one call per query,
        with the CF fold-ins of all their histories solved in one batch (one optimisation for
        all the users of an evaluation instead of one per user)."""
        if not self.fitted_:
            return [self._component_scores(q, kind, {}) for q in queries]
        learned = self._dense_learned_scores_many(queries)
        # A small catalog scores every item: the matcher runs once for all queries as well.
        matcher = (self._matcher_scores_many(queries) if len(self.catalog) < self.retrieval_min_items
                   else [None] * len(queries))
        return [self._component_scores(q, kind, lr, m) for q, lr, m in zip(queries, learned, matcher)]

    def _component_scores(self, q: Query, kind: str | None, learned: dict[str, np.ndarray],
                          matcher: np.ndarray | None = None) -> ComponentScores:
        cat = self.catalog
        n = len(cat)
        rows = self.retrieve(q, learned)
        raw: dict[str, np.ndarray] = {}
        for b in ("visual", "audio", "music", "text"):
            raw[b] = self._cosines(b, q.content[b], rows) if np.any(q.content[b]) else np.zeros(n, np.float32)
        raw["semantic"] = 0.5 * (self._cosines("semantic", q.content["semantic"], rows)
                                 + self._cosines("tags", q.content["tags"], rows))
        if self.fitted_:
            raw.update(learned)
            raw["matcher"] = matcher if matcher is not None else self._matcher_scores(q, rows)
        if rows is None:
            candidates = np.ones(n, bool)
        else:
            candidates = np.zeros(n, bool)
            candidates[rows] = True
        candidates[list(q.exclude)] = False
        if kind in ("audio", "video"):
            candidates &= (cat.items["kind"] == kind).to_numpy()
        return ComponentScores.build(raw, candidates)

    def retrieve(self, q: Query, learned: dict[str, np.ndarray] | None = None) -> np.ndarray | None:
        """Candidate rows (sorted, unique int64) for a large catalog, None for a small one.

        Sources, ``retrieval_pool`` each: the catalog index's nearest items to the query's item
        vector (a clip's own, or the mean of the liked items'), then the top CF and popularity
        scores in ``learned`` (as from :meth:`_dense_learned_scores`).
        """
        cat = self.catalog
        if len(cat) < self.retrieval_min_items:
            return None
        pool = min(self.retrieval_pool, len(cat))
        parts = []
        vec = q.vector(cat.embeddings)
        if vec is not None:
            ids, _ = cat.vector_index().search(np.asarray(vec, np.float32)[None, :], pool)
            parts.append(ids[0][ids[0] >= 0])
        for name in ("cf", "popularity"):
            if learned and name in learned and np.ptp(learned[name]) > 0:
                parts.append(np.argpartition(-learned[name], pool - 1)[:pool])
        if not parts:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def _cosines(self, block: str, profile: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """(n_items,) cosines of ``profile`` with every item's block, or only at ``rows``."""
        mat = self.catalog.blocks[block]
        if rows is None:
            return (mat @ profile).astype(np.float32)
        out = np.zeros(len(mat), np.float32)
        out[rows] = mat[rows] @ profile
        return out

    def _history(self, q: Query) -> sp.csr_matrix:
        n = len(self.catalog)
        return sp.csr_matrix((np.ones(len(q.liked), np.float32), (np.zeros(len(q.liked), int), q.liked)),
                             shape=(1, n))

    def _user_text(self, q: Query) -> np.ndarray:
        return (q.user_text if q.user_text is not None else np.zeros(TEXT_DIM, np.float32))[None, :]

    def _dense_learned_scores(self, q: Query) -> dict[str, np.ndarray]:
        """CF and popularity for every item (a factor product and a count, after a history's
        fold-in: see :meth:`_dense_learned_scores_many`)."""
        return self._dense_learned_scores_many([q])[0]

    def _dense_learned_scores_many(self, queries: list[Query]) -> list[dict[str, np.ndarray]]:
        """Per query, CF and popularity for every item. Queries with a history are folded into
        BPR together (one batched solve); a clip's CF goes through the content projection."""
        n = len(self.catalog)
        cf = np.zeros((len(queries), n), np.float32)
        with_history = [r for r, q in enumerate(queries) if q.liked]
        if with_history:
            history = sp.vstack([self._history(queries[r]) for r in with_history], format="csr")
            cf[with_history] = self.bpr_.score(np.full(len(with_history), -1), user_items=history)
        for r, q in enumerate(queries):
            if not q.liked and q.embedding is not None:
                f = self.item_features(q.embedding[None, :])
                # Item-item CF through the projection: the clip's predicted factors against items'.
                cf[r] = (self.projection_.predict_item_factors(f)[:, :-1] @ self.bpr_.item_factors_[:, :-1].T)[0]
        pop = self.popularity_.score(np.array([0]))[0]
        return [{"cf": cf[r], "popularity": pop.copy()} for r in range(len(queries))]

    def _matcher_scores(self, q: Query, rows: np.ndarray | None) -> np.ndarray:
        """The matcher's (n_items,) scores, computed only at ``rows`` when given (zeros elsewhere)."""
        n = len(self.catalog)
        if q.liked:
            got = self.matcher_.score(np.array([-1]), user_items=self._history(q), user_features=self._user_text(q),
                                      items=rows)[0]
        elif q.embedding is not None:
            got = self.matcher_.score_profiles(self.item_features(q.embedding[None, :]),
                                               user_features=self._user_text(q), items=rows)[0]
        else:
            return np.zeros(n, np.float32)
        if rows is None:
            return got.astype(np.float32)
        out = np.zeros(n, np.float32)
        out[rows] = got
        return out

    def _matcher_scores_many(self, queries: list[Query]) -> list[np.ndarray]:
        """The matcher's (n_items,) scores of every item for each query, in one batch per kind of
        query (a history, a clip, neither)."""
        n = len(self.catalog)
        out = np.zeros((len(queries), n), np.float32)
        liked = [r for r, q in enumerate(queries) if q.liked]
        if liked:
            history = sp.vstack([self._history(queries[r]) for r in liked], format="csr")
            text = np.vstack([self._user_text(queries[r]) for r in liked])
            out[liked] = self.matcher_.score(np.full(len(liked), -1), user_items=history, user_features=text)
        clips = [r for r, q in enumerate(queries) if not q.liked and q.embedding is not None]
        if clips:
            feats = self.item_features(np.vstack([queries[r].embedding[None, :] for r in clips]))
            text = np.vstack([self._user_text(queries[r]) for r in clips])
            out[clips] = self.matcher_.score_profiles(feats, user_features=text)
        return list(out)

    def user_query(self, user_id: str, label: str | None = None) -> Query:
        if not self.fitted_:
            raise RecsysError("the hybrid has not been fitted on any users")
        if user_id not in self.user_ids_:
            raise UnknownIdError(f"unknown user {user_id!r}")
        r = self.user_ids_.index(user_id)
        liked = list(self.user_items_[r].indices)
        return query_from_history(self.catalog, liked, label=label or user_id, user_text=self.user_text_[r])
