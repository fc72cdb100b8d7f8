"""One object that the command line and the app share: catalog + fitted hybrid + personas.

``load_service()`` loads (or builds) the sample catalog, simulates demo users from the
personas, fits the hybrid, and returns a :class:`RecsysService` whose methods answer the three
kinds of request: a clip, a persona (optionally with extra likes/dislikes), a known user.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.analysis.item_vector import BLOCK_NAMES
from recsys.catalog.catalog import Catalog, Progress, load_or_build_sample_catalog
from recsys.errors import UnknownIdError
from recsys.serving.explain import Explanation, explain
from recsys.serving.hybrid import HybridRecommender
from recsys.serving.query import Query, query_from_analysis, query_from_history
from recsys.serving.ranker import DEFAULT_WEIGHTS, ComponentScores, RankedItem, rank
from recsys.users.personas import (
    Persona,
    get_persona,
    load_personas,
    persona_seed_items,
    simulate_interactions,
)


@dataclass
class Recommendation:
    item_id: str
    title: str
    kind: str
    score: float
    components: dict[str, float]
    explanation: Explanation
    row: int
    match: float = 0.0   # score / best possible score with these weights, in [0, 1] (see MATCH_MEANING)

    def to_dict(self) -> dict:
        return {"item_id": self.item_id, "title": self.title, "kind": self.kind, "score": round(self.score, 4),
                "match": round(self.match, 4),
                "components": {k: round(v, 4) for k, v in self.components.items()},
                "explanation": self.explanation.text, "why": self.explanation.to_dict()}


MATCH_MEANING = ("Match = the item's score as a share of the best possible score with these weights: "
                 "100 % means it is the closest item in the catalog on every signal you weight.")


def best_possible_score(weights: dict[str, float]) -> float:
    """Each component is scaled to [0, 1] over the candidates, so the best possible fused score
    is the sum of the positive component weights (diversity is not a component)."""
    from recsys.serving.ranker import COMPONENTS

    return float(sum(max(0.0, float(weights.get(c, 0.0))) for c in COMPONENTS))


class RecsysService:
    def __init__(self, catalog: Catalog, hybrid: HybridRecommender, interactions: pd.DataFrame,
                 user_text: dict[str, np.ndarray], analyzer=None):
        self.catalog = catalog
        self.user_text = user_text
        self.hybrid = hybrid
        self.interactions = interactions
        self._analyzer = analyzer
        self._content_lock = threading.Lock()
        self._sizes: dict[int, list[int]] | None = None   # file size -> catalog rows
        self._sha: dict[int, str] = {}                       # row -> sha256 of its media file

    @property
    def analyzer(self):
        if self._analyzer is None:
            from recsys.analysis.analyzer import Analyzer

            self._analyzer = Analyzer()
        return self._analyzer

    # -- queries -------------------------------------------------------------------------------
    def clip_query(self, analysis, *, same_content: str | None = None) -> Query:
        """A query for an analysed clip. A clip that is itself in the catalog does not recommend
        itself: neither items with the same vector nor ``same_content`` (the item id with the same
        bytes, see :meth:`item_with_content`, whatever its title)."""
        exclude = self._duplicates(analysis.embedding)
        if same_content is not None:
            exclude.add(self.catalog.index(same_content))
        return query_from_analysis(analysis, exclude=exclude)

    def item_with_content(self, sha256: str, size: int) -> str | None:
        """The id of a catalog item whose media file holds exactly the bytes with this sha256 hex
        digest and length (``hashlib.sha256(data).hexdigest(), len(data)``), or None.

        Compares sizes first (one ``stat`` per item, once per service), then hashes only the
        files of the same size (each once); a missing file is skipped."""
        with self._content_lock:
            if self._sizes is None:
                sizes: dict[int, list[int]] = {}
                for row in range(len(self.catalog)):
                    try:
                        sizes.setdefault(self.catalog.media_path(row).stat().st_size, []).append(row)
                    except (OSError, ValueError):
                        continue
                self._sizes = sizes
            for row in self._sizes.get(int(size), []):
                if row not in self._sha:
                    from recsys.catalog.feature_cache import file_hash

                    try:
                        self._sha[row] = file_hash(self.catalog.media_path(row))
                    except OSError:
                        self._sha[row] = ""
                if self._sha[row] == sha256:
                    return self.catalog.item_ids[row]
        return None

    def persona_query(self, persona: Persona | str, *, liked: list[str] = (), disliked: list[str] = ()) -> Query:
        p = get_persona(persona) if isinstance(persona, str) else persona
        seeds = self.persona_seeds(p)
        liked_rows = [self.catalog.index(i) for i in (*seeds, *liked) if i not in disliked]
        disliked_rows = [self.catalog.index(i) for i in disliked]
        q = query_from_history(self.catalog, liked_rows, disliked_rows, label=p.name,
                               user_text=self.persona_text_vector(p), taste=p.taste(),
                               kind_share=dict(p.kind_preference))
        q.seeds = [self.catalog.index(i) for i in seeds if i not in disliked and i not in liked]
        return q

    def user_query(self, user_id: str) -> Query:
        if user_id not in self.hybrid.user_ids_:
            raise UnknownIdError(f"unknown user {user_id!r} (try `python -m recsys personas` for demo users)")
        return self.hybrid.user_query(user_id)

    def item_query(self, item_id: str) -> Query:
        """A query for a catalog item from its stored vectors (no model call); the item and its
        exact duplicates are excluded from the results."""
        cat, r = self.catalog, self.catalog.index(item_id)
        same = self._duplicates(cat.embeddings[r]) | {r}
        return Query(label=str(cat.items.iloc[r]["title"]), content={b: cat.blocks[b][r] for b in BLOCK_NAMES},
                     user_text=cat.blocks["semantic"][r], embedding=cat.embeddings[r],
                     label_scores=cat.label_scores[r], exclude=same)

    def _duplicates(self, vector: np.ndarray, *, limit: int = 16) -> set[int]:
        """Catalog rows whose item vector equals ``vector`` (D,) (cosine > 0.9999), found through
        the catalog's index so it scales with the catalog; at most ``limit``."""
        rows, sims = self.catalog.similar(vector, k=limit)
        return set(rows[sims > 0.9999].tolist())

    def persona_seeds(self, p: Persona) -> list[str]:
        """The item ids a persona's recommendations start from (see :func:`persona_seed_items`)."""
        return persona_seed_items(p, self.catalog, text_vec=self.persona_text_vector(p))

    def persona_text_vector(self, p: Persona) -> np.ndarray:
        from recsys.encoders.text import get_text_encoder

        return get_text_encoder().encode_cached([p.text()], tag="persona")[0]

    def validator(self):
        """The held-out validator on this catalog's users (fitted once, a few seconds)."""
        if getattr(self, "_validator", None) is None:
            from recsys.evaluation.tuning import HoldoutValidator

            self._validator = HoldoutValidator(self.catalog, self.interactions, self.user_text)
        return self._validator

    # -- ranking -------------------------------------------------------------------------------
    def scores(self, q: Query, *, kind: str | None = None) -> ComponentScores:
        return self.hybrid.component_scores(q, kind=kind)

    def rank(self, q: Query, cs: ComponentScores, weights: dict[str, float] | None = None, *, k: int = 10
             ) -> list[Recommendation]:
        weights = weights or DEFAULT_WEIGHTS
        ranked = rank(cs, weights, k=k, embeddings=self.catalog.embeddings,
                      kinds=self.catalog.items["kind"].to_numpy(), kind_share=q.kind_share)
        best = best_possible_score(weights)
        return [self._recommendation(q, r, best) for r in ranked]

    def recommend(self, q: Query, weights: dict[str, float] | None = None, *, k: int = 10,
                  kind: str | None = None) -> list[Recommendation]:
        return self.rank(q, self.scores(q, kind=kind), weights, k=k)

    def _recommendation(self, q: Query, r: RankedItem, best: float) -> Recommendation:
        row = self.catalog.items.iloc[r.row]
        return Recommendation(item_id=row["item_id"], title=row["title"], kind=row["kind"], score=r.score,
                              components=r.components, explanation=explain(self.catalog, q, r), row=r.row,
                              match=min(1.0, r.score / best) if best > 0 else 0.0)


def persona_user_text(catalog: Catalog) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Simulated interactions and each simulated user's persona text vector."""
    from recsys.encoders.text import get_text_encoder

    inter = simulate_interactions(catalog)
    personas = {p.name: p for p in load_personas()}
    enc = get_text_encoder()
    vecs = {name: enc.encode_cached([p.text()], tag="persona")[0] for name, p in personas.items()}
    user_text = {u: vecs[p] for u, p in inter.groupby("user_id")["persona"].first().items()}
    return inter, user_text


def load_service(*, catalog_dir: str | Path | None = None, progress: Progress | None = None,
                 analyzer=None, seed: int = 0, store=None) -> RecsysService:
    """Load a catalog (default: the embedded sample, built on first use), add the clips people
    added to ``store`` (a :class:`~recsys.catalog.store.Store`; see :mod:`recsys.catalog.user_clips`), simulate
    demo users, fit the hybrid. Costs a few seconds after the catalog exists.

    Demo users are simulated on the built catalog alone, so adding a clip leaves every simulated
    history as it was; ``catalog.meta["user_clip_ids"]`` lists the added clips."""
    t0 = time.perf_counter()
    # RECSYS_CATALOG_DIR points the app and the command line at another built catalog.
    catalog_dir = catalog_dir or os.environ.get("RECSYS_CATALOG_DIR") or None
    base = (Catalog.load(catalog_dir) if catalog_dir else
            load_or_build_sample_catalog(progress=progress, analyzer=analyzer))
    catalog = base
    if store is not None:
        from recsys.catalog.user_clips import with_user_clips

        catalog = with_user_clips(base, store.clips(), analyzer=analyzer)
    inter, user_text = persona_user_text(base)
    hybrid = HybridRecommender(catalog, seed=seed).fit(inter, user_text=user_text)
    service = RecsysService(catalog, hybrid, inter, user_text, analyzer=analyzer)
    service.load_seconds = time.perf_counter() - t0
    return service
