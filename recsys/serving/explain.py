"""Why an item was recommended, in plain words, from the parts that produced its score.

An explanation names (1) the themes, emotions and styles the item shares with the query or
profile, with both scores; (2) the nearest item the user liked, when there is a history; and
(3) the components that contributed most to the fused score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.catalog.catalog import Catalog
from recsys.serving.query import Query
from recsys.serving.ranker import RankedItem
from recsys.understanding.label_key import LabelKey
from recsys.understanding.label_scoring import label_names

COMPONENT_WORDS = {
    "visual": "similar look", "audio": "similar sound", "music": "similar music (genre, mood)",
    "text": "similar title and description",
    "semantic": "similar themes and mood", "cf": "liked by users with similar taste",
    "matcher": "the learned matcher predicts a fit", "popularity": "popular in the catalog",
}


# Collaborative evidence means different things for different queries: say which.
CF_WORDS = {
    "user": "liked by users with similar taste",
    "persona": "liked by simulated users with this persona's taste",
    "clip": "liked by the audience of similar clips",
}


@dataclass(frozen=True)
class Explanation:
    shared_labels: list[tuple[str, float, float]]   # (facet:label, query score, item score)
    nearest_liked: tuple[str, str, float] | None    # (item_id, title, cosine)
    top_components: list[tuple[str, float]]         # (component, weighted contribution)
    text: str                                       # everything, with the numbers
    sentence: str = ""                              # one plain sentence, no numbers (cards lead with it)
    nearest_is_seed: bool = False                   # nearest_liked is a persona seed, not a like

    def to_dict(self) -> dict:
        return {"text": self.text, "sentence": self.sentence,
                "shared_labels": [{"label": l, "query": round(a, 3), "item": round(b, 3)} for l, a, b in self.shared_labels],
                "nearest_liked": None if self.nearest_liked is None else
                {"item_id": self.nearest_liked[0], "title": self.nearest_liked[1], "cosine": round(self.nearest_liked[2], 3)},
                "top_components": [{"component": c, "contribution": round(v, 4)} for c, v in self.top_components]}


def explain(catalog: Catalog, query: Query, item: RankedItem, *, min_score: float = 0.35,
            max_labels: int = 3) -> Explanation:
    names = label_names()
    item_labels = catalog.label_scores[item.row]
    shared: list[tuple[str, float, float]] = []
    if query.label_scores is not None:
        q = np.asarray(query.label_scores)
        both = np.minimum(q, item_labels)
        for j in np.argsort(-both)[:max_labels]:
            if q[j] >= min_score and item_labels[j] >= min_score:
                shared.append((names[j], float(q[j]), float(item_labels[j])))
    nearest, nearest_is_seed = None, False
    if query.liked:
        sims = catalog.embeddings[query.liked] @ catalog.embeddings[item.row]
        j = int(np.argmax(sims))
        row = catalog.items.iloc[query.liked[j]]
        nearest = (row["item_id"], row["title"], float(sims[j]))
        nearest_is_seed = query.liked[j] in set(query.seeds)
    comps = sorted(((c, v) for c, v in item.components.items() if v > 0), key=lambda x: -x[1])[:3]
    words = {**COMPONENT_WORDS, "cf": CF_WORDS[_who(query)]}

    parts = []
    if comps:
        total = sum(item.components.values()) or 1.0
        parts.append("Why: " + _join(
            [f"{words.get(c, c)} ({100 * v / total:.0f}% of the score)" for c, v in comps]) + ".")
    if shared:
        parts.append("Shares " + _join([f"{_pretty(l)} ({a:.2f} vs {b:.2f})" for l, a, b in shared]) + ".")
    if nearest:
        whose = "a seed clip of this persona" if nearest_is_seed else "which you liked"
        parts.append(f"Closest to \u201c{nearest[1]}\u201d, {whose} (similarity {nearest[2]:.2f}).")
    return Explanation(shared_labels=shared, nearest_liked=nearest, top_components=comps,
                       text=" ".join(parts) or "Ranked by overall similarity.",
                       sentence=_sentence(comps, shared, nearest, nearest_is_seed, words),
                       nearest_is_seed=nearest_is_seed)


def _who(query: Query) -> str:
    """Whose taste the collaborative part stands for: a user's likes, a persona's seeds only, or
    (no history at all) a clip, reached through the audience of clips like it."""
    own = [r for r in query.liked if r not in set(query.seeds)]
    if own:
        return "user"
    return "persona" if query.seeds else "clip"


def _sentence(comps, shared, nearest, nearest_is_seed: bool, words: dict[str, str]) -> str:
    """One plain sentence without numbers: the main reason, then what it shares or resembles."""
    lead = words.get(comps[0][0], comps[0][0]).capitalize() if comps else "Similar overall"
    if nearest is not None and nearest_is_seed:
        return f"{lead}; close to \u201c{nearest[1]}\u201d, a seed clip of this persona."
    if nearest is not None:
        return f"{lead}; close to \u201c{nearest[1]}\u201d, which you liked."
    if shared:
        return f"{lead}; shares the {_pretty(shared[0][0])}."
    return f"{lead}."


def _pretty(name: str) -> str:
    key = LabelKey.parse(name)
    return f"{key.facet[:-1]} '{key.display}'"


def _join(xs: list[str]) -> str:
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]
