"""The key of one vocabulary label across facets: ``"themes:water"`` <-> ``LabelKey("themes", "water")``.

Label scores are stored as one vector over every facet's labels (``label_names()``); this type is
the one place that writes and reads those keys.
"""
from __future__ import annotations

from typing import NamedTuple


class LabelKey(NamedTuple):
    facet: str   # "themes" | "emotions" | "styles"
    label: str   # the vocabulary name, e.g. "music_performance"

    @classmethod
    def parse(cls, key: str) -> LabelKey:
        """``"facet:label"`` -> LabelKey; a key without a facet raises ValueError."""
        facet, sep, label = str(key).partition(":")
        if not sep or not facet or not label:
            raise ValueError(f"not a facet:label key: {key!r}")
        return cls(facet, label)

    def __str__(self) -> str:
        return f"{self.facet}:{self.label}"

    @property
    def display(self) -> str:
        """The label as people read it ("music performance")."""
        return self.label.replace("_", " ")
