"""Users: personas (taste profiles in ``assets/personas.json``) and simulated demo users.

The demo catalog has no real usage logs, so demo users are **simulated** (every row they produce
carries ``simulated=True``, and the app says so). The simulator, documented here because its
assumptions shape every demo metric:

1. Each simulated user starts from one persona's taste: weight 1 on the persona's liked themes,
   emotions and styles, 0 elsewhere; plus Gaussian noise (``noise``) on every label weight and one
   or two extra liked labels drawn at random, so users of one persona differ.
2. An item's utility is the z-scored dot product of that taste with the item's label scores
   (from the analysis), plus a bonus for the persona's preferred kind (audio/video), plus
   Gaussian noise with standard deviation ``item_noise`` (taste is not the whole story).
3. The user consumes ``1 + Poisson(mean_items - 1)`` items, drawn without replacement with
   probability proportional to ``exp(utility / temperature)`` (Gumbel top-k), at increasing
   timestamps; the weight of an interaction is 1 (implicit feedback).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from recsys.errors import UnknownIdError
from recsys.paths import ASSETS_DIR
from recsys.understanding.label_scoring import FACETS, label_names


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    themes: tuple[str, ...]
    emotions: tuple[str, ...]
    styles: tuple[str, ...]
    kind_preference: dict = field(default_factory=lambda: {"audio": 0.5, "video": 0.5})
    seed_items: tuple[str, ...] = ()

    @property
    def liked_labels(self) -> list[str]:
        return [f"{f}:{x}" for f in FACETS for x in getattr(self, f)]

    def text(self) -> str:
        """What the text encoder reads for this persona (its ``p_u`` text part)."""
        likes = ", ".join(x.replace("_", " ") for f in FACETS for x in getattr(self, f))
        return f"{self.description} Likes: {likes}."

    def taste(self) -> np.ndarray:
        """(n_labels,) weights: 1 on liked labels, 0 elsewhere, in ``label_names()`` order."""
        names = label_names()
        t = np.zeros(len(names), np.float32)
        for lab in self.liked_labels:
            if lab in names:
                t[names.index(lab)] = 1.0
        return t


@lru_cache(maxsize=None)
def load_personas() -> tuple[Persona, ...]:
    rows = json.loads((ASSETS_DIR / "personas.json").read_text(encoding="utf-8"))
    known = set(label_names())
    out = []
    for r in rows:
        p = Persona(name=r["name"], description=r["description"], themes=tuple(r["themes"]),
                    emotions=tuple(r["emotions"]), styles=tuple(r["styles"]),
                    kind_preference=dict(r.get("kind_preference", {"audio": 0.5, "video": 0.5})),
                    seed_items=tuple(r.get("seed_items", ())))
        unknown = [x for x in p.liked_labels if x not in known]
        if unknown:
            raise ValueError(f"persona {p.name!r} names unknown labels {unknown}")
        out.append(p)
    return tuple(out)


def get_persona(name: str) -> Persona:
    for p in load_personas():
        if p.name.lower() == name.lower() or _slug(p.name) == _slug(name):
            return p
    raise UnknownIdError(f"unknown persona {name!r}; known: {', '.join(p.name for p in load_personas())}")


def _slug(s: str) -> str:
    return "".join(c for c in s.lower() if c.isalnum())


def taste_utility(label_scores: np.ndarray, taste: np.ndarray) -> np.ndarray:
    """(n_items,) z-scored utility of items with ``label_scores`` (n, L) for a taste (L,)."""
    u = label_scores @ taste
    return (u - u.mean()) / (u.std() + 1e-9)


def persona_seed_items(persona: Persona, catalog, k: int = 3, *, text_vec: np.ndarray | None = None) -> list[str]:
    """The persona's seed (history) items: listed ones present in the catalog, else the ``k``
    items that best fit its taste and kind preference, and (with ``text_vec``, the persona's
    (384,) description vector) whose title and description read like the persona's: labels alone
    miss what the understanding abstains on (a cartoon's "animation" style)."""
    listed = [i for i in persona.seed_items if i in set(catalog.item_ids)]
    if listed:
        return listed
    u = taste_utility(catalog.label_scores, persona.taste()) + _kind_bonus(persona, catalog)
    if text_vec is not None and np.any(text_vec):
        cos = catalog.blocks["text"] @ np.asarray(text_vec, np.float32)   # (n_items,)
        u = u + (cos - cos.mean()) / (cos.std() + 1e-9)
    return [catalog.item_ids[i] for i in np.argsort(-u)[:k]]


def _kind_bonus(persona: Persona, catalog) -> np.ndarray:
    pref = persona.kind_preference
    return np.array([1.0 * (pref.get(k, 0.5) - 0.5) for k in catalog.items["kind"]], np.float32)


def simulate_interactions(catalog, personas=None, *, users_per_persona: int = 12, mean_items: float = 10.0,
                          noise: float = 0.35, item_noise: float = 0.5, temperature: float = 0.5,
                          seed: int = 0) -> pd.DataFrame:
    """Simulated demo users' interactions over ``catalog`` (see the module docstring).

    Returns a DataFrame with columns user_id, item_id, weight, timestamp (int seconds), persona,
    simulated (always True).
    """
    personas = load_personas() if personas is None else personas
    rng = np.random.default_rng(seed)
    n_items = len(catalog)
    rows = []
    t0 = 1_700_000_000
    for p_i, persona in enumerate(personas):
        base = persona.taste()
        for u in range(users_per_persona):
            taste = base + rng.normal(0, noise, base.size).astype(np.float32)
            taste[rng.choice(base.size, size=rng.integers(1, 3), replace=False)] += 1.0
            util = taste_utility(catalog.label_scores, taste) + _kind_bonus(persona, catalog)
            util = util + rng.normal(0, item_noise, n_items)
            n = int(min(n_items - 1, 1 + rng.poisson(max(mean_items - 1, 0))))
            gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, n_items)))
            chosen = np.argsort(-(util / temperature + gumbel))[:n]
            times = t0 + np.sort(rng.integers(0, 90 * 86400, n))
            uid = f"sim-{_slug(persona.name)}-{u:02d}"
            rows += [{"user_id": uid, "item_id": catalog.item_ids[i], "weight": 1.0, "timestamp": int(t),
                      "persona": persona.name, "simulated": True} for i, t in zip(chosen, times)]
    return pd.DataFrame(rows)
