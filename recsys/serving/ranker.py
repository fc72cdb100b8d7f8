"""Weighted fusion of per-query component scores into a ranked list, with an MMR diversity option.

Components (each an (n_items,) array for one query, normalised to [0, 1] per query so weights
are comparable): visual, audio, music (the music tagger's genre/mood features), text, semantic
(semantic vector + label scores), cf, matcher, popularity. ``score = sum_c weight_c * component_c``. Changing weights only re-runs
:func:`rank` on the cached :class:`ComponentScores` (no model call).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recsys.errors import ConfigError

COMPONENTS = ("visual", "audio", "music", "text", "semantic", "cf", "matcher", "popularity")
PRESETS: dict[str, dict[str, float]] = {
    "balanced": {"visual": 0.5, "audio": 0.8, "music": 0.8, "text": 0.6, "semantic": 1.0, "cf": 0.6, "matcher": 0.8,
                 "popularity": 0.1, "diversity": 0.0},
    "content only": {"visual": 1.0, "audio": 1.0, "music": 1.0, "text": 1.0, "semantic": 1.0, "cf": 0.0, "matcher": 0.0,
                     "popularity": 0.0, "diversity": 0.0},
    "collaborative": {"visual": 0.0, "audio": 0.0, "music": 0.0, "text": 0.0, "semantic": 0.2, "cf": 1.0, "matcher": 0.6,
                      "popularity": 0.2, "diversity": 0.0},
    "sounds like": {"visual": 0.0, "audio": 1.0, "music": 1.0, "text": 0.2, "semantic": 0.4, "cf": 0.0, "matcher": 0.2,
                    "popularity": 0.0, "diversity": 0.0},
    "looks like": {"visual": 1.0, "audio": 0.0, "music": 0.0, "text": 0.2, "semantic": 0.4, "cf": 0.0, "matcher": 0.2,
                   "popularity": 0.0, "diversity": 0.0},
    "discovery": {"visual": 0.5, "audio": 0.8, "music": 0.8, "text": 0.6, "semantic": 1.0, "cf": 0.3, "matcher": 0.5,
                  "popularity": 0.0, "diversity": 0.5},
}
DEFAULT_WEIGHTS = PRESETS["balanced"]


def parse_weights(spec: str | None, base: dict[str, float] | None = None) -> dict[str, float]:
    """``"visual=0.5,cf=1"`` -> full weight dict (unnamed weights keep ``base``'s values)."""
    out = dict(base or DEFAULT_WEIGHTS)
    if not spec:
        return out
    for part in spec.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().replace("semantic_tags", "semantic").replace("collaborative", "cf")
        if not sep or name not in (*COMPONENTS, "diversity"):
            raise ConfigError(f"bad weight {part!r}: use name=value with name in "
                              f"{', '.join((*COMPONENTS, 'diversity'))}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"bad weight value in {part!r}") from None
        if out[name] < 0 or (name == "diversity" and out[name] > 1):
            raise ConfigError(f"weight {name} must be >= 0 (diversity within [0, 1]), got {out[name]}")
    return out


def normalise(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Min-max to [0, 1] over the ``valid`` items (bool mask); constant or empty -> zeros."""
    x = np.asarray(x, np.float32)
    ref = x[valid] if valid is not None else x
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        return np.zeros_like(x)
    lo, hi = float(ref.min()), float(ref.max())
    if hi - lo < 1e-9:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


@dataclass
class ComponentScores:
    """One query's normalised component scores, cached for re-ranking."""

    scores: dict[str, np.ndarray]            # name -> (n_items,) in [0, 1]
    candidates: np.ndarray                   # (n_items,) bool: rankable (not excluded, kind filter)
    raw: dict[str, np.ndarray] = field(default_factory=dict)  # before normalisation, for display

    @classmethod
    def build(cls, raw: dict[str, np.ndarray], candidates: np.ndarray) -> ComponentScores:
        return cls(scores={k: normalise(v, candidates) for k, v in raw.items()}, candidates=candidates, raw=raw)


@dataclass(frozen=True)
class RankedItem:
    row: int                          # catalog row
    score: float
    components: dict[str, float]      # weight x normalised component, summing to ``score``


def rank(cs: ComponentScores, weights: dict[str, float], *, k: int = 10, embeddings: np.ndarray | None = None,
         mask: np.ndarray | None = None, pool: int = 200, kinds: np.ndarray | None = None,
         kind_share: dict[str, float] | None = None) -> list[RankedItem]:
    """Top-``k`` items by weighted component sum.

    ``weights["diversity"]`` in [0, 1] turns on MMR (Carbonell & Goldstein 1998) over the best
    ``pool`` items: each pick maximises ``(1 - d) * relevance - d * max cosine to picks so far``,
    using ``embeddings`` (n_items, D). ``mask`` (bool, n_items) further restricts candidates
    (e.g. audio only). ``kinds`` (n_items,) of str with ``kind_share`` ({"audio": 0.6, "video":
    0.4}) calibrates the list's kind mix to those shares (Steck 2018, by quotas): each kind gets
    ``round(k * share)`` of its best items, a kind short of candidates leaves its places to the
    others, and the list is ordered by score.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    n = cs.candidates.size
    total = np.zeros(n, np.float32)
    used = {c: float(weights.get(c, 0.0)) for c in cs.scores if weights.get(c, 0.0) > 0}
    for c, w in used.items():
        total += w * cs.scores[c]
    ok = cs.candidates if mask is None else (cs.candidates & mask)
    total_masked = np.where(ok, total, -np.inf)
    n_ok = int(ok.sum())
    if n_ok == 0:
        return []
    k = min(k, n_ok)
    diversity = float(weights.get("diversity", 0.0))
    calibrate = kinds is not None and bool(kind_share)
    # With calibration, rank a longer list first so every kind has candidates to fill its quota.
    n_first = min(n_ok, max(pool, 4 * k)) if calibrate else k
    if diversity > 0 and embeddings is not None and k > 1:
        order = _mmr(total_masked, embeddings, k=n_first, pool=min(max(pool, n_first), n_ok), diversity=diversity)
    else:
        top = np.argpartition(-total_masked, n_first - 1)[:n_first]
        order = top[np.argsort(-total_masked[top], kind="stable")]
    if calibrate:
        order = _kind_quotas(order, np.asarray(kinds), kind_share, k)
    return [RankedItem(row=int(i), score=float(total[i]),
                       components={c: w * float(cs.scores[c][i]) for c, w in used.items()}) for i in order]


def _kind_quotas(order: np.ndarray, kinds: np.ndarray, share: dict[str, float], k: int) -> np.ndarray:
    """The first ``k`` of ``order`` (best first) re-balanced to ``share`` of each kind, best first."""
    total = sum(max(v, 0.0) for v in share.values()) or 1.0
    quota = {kind: int(round(k * max(v, 0.0) / total)) for kind, v in share.items()}
    picked: list[int] = []
    taken = dict.fromkeys(quota, 0)
    for i in order:  # each kind's best items, up to its quota
        kd = kinds[i]
        if kd in quota and taken[kd] < quota[kd]:
            picked.append(int(i))
            taken[kd] += 1
    for i in order:  # places a kind could not fill (or rounding left over) go to the best others
        if len(picked) >= k:
            break
        if int(i) not in picked:
            picked.append(int(i))
    rank_of = {int(i): r for r, i in enumerate(order)}
    return np.asarray(sorted(picked[:k], key=rank_of.__getitem__), dtype=np.int64)


def _mmr(relevance: np.ndarray, emb: np.ndarray, *, k: int, pool: int, diversity: float) -> np.ndarray:
    cand = np.argpartition(-relevance, pool - 1)[:pool]
    cand = cand[np.isfinite(relevance[cand])]
    rel = relevance[cand]
    rel = (rel - rel.min()) / (np.ptp(rel) + 1e-9)   # same scale as cosine
    sims = emb[cand] @ emb[cand].T                    # (pool, pool)
    picked: list[int] = []
    max_sim = np.full(len(cand), -np.inf)
    for _ in range(min(k, len(cand))):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        gain = (1 - diversity) * rel - diversity * penalty
        gain[picked] = -np.inf
        j = int(np.argmax(gain))
        picked.append(j)
        max_sim = np.maximum(max_sim, sims[j])
    return cand[picked]
