"""Themes, emotions and styles a person can agree with: absolute evidence, calibrated, gated, abstaining.

A label's score is built from evidence that can be checked, strongest first:

1. **Classifier evidence through map files.** ``assets/label_maps/<classifier>.csv`` (columns
   ``class,facet,label,weight,note``) says which classes of a classifier support which label and
   how much. For one clip and label the evidence is a noisy-OR over the mapped classes,
   ``1 - prod(1 - weight * p)``, with ``p`` the class probability above a small floor (spread-out
   probability mass is not evidence). No mapped class fires: no evidence, score 0. YAMNet
   (``audioset``) and EfficientNet (``imagenet``) are built in; any other classifier plugs in by
   adding its map file and putting its probabilities in ``Signals.extra_probs[name]``. Music
   styles are the exception: genre evidence is relative, so they come from one distribution mixed
   from each classifier's genre view (:mod:`recsys.understanding.music_genre`).
2. **Descriptors** (tempo, mode, energy, timbre, motion, colour) place the clip in valence/arousal
   for emotions and define the visual styles (a still slideshow *is* slow and contemplative); a
   descriptor never creates a theme, and loudness alone never moves an emotion.
3. **Text** (title, transcript) and **ConSE** name similarity from confident unmapped classes are a
   weak fallback, each capped.

Gates: visual styles need frames; speech themes and styles need detected speech; music genres and
moods need music (AudioSet "Music"); sound-type styles (drum hit, synth, bell...) need a short
clip and genres are damped on one; place themes (nature, water, weather...) heard in a sound need
its level to vary as a recording's does (machine-steady noise sounds like a waterfall to YAMNet).

The raw evidence (in [0, 1]) is calibrated per facet by Platt scaling on the logit of the raw
score, fitted on the benchmark's tuning split (``benchmarks/understanding.py --fit``) and stored in
``assets/label_maps/calibration.json``. A facet shows the labels whose calibrated score passes the
facet's threshold; when none does, it shows nothing and says why (``Understanding.abstain``).
"""
from __future__ import annotations

import csv
import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from recsys.media.audio_descriptors import AudioDescriptors
from recsys.media.visual_descriptors import VisualDescriptors
from recsys.paths import ASSETS_DIR
from recsys.understanding import music_genre
from recsys.understanding.label_key import LabelKey

FACETS = ("themes", "emotions", "styles")
LABEL_MAPS_DIR = ASSETS_DIR / "label_maps"
CALIBRATION_FILE = LABEL_MAPS_DIR / "calibration.json"

# ImageNet names that mean something else out of context (ConSE embeds the bare name).
IMAGENET_REWORDING = {
    "kite": "kite, a bird of prey", "Cardigan": "Cardigan Welsh corgi dog", "drake": "drake, male duck",
    "sorrel": "sorrel horse", "ram": "ram, male sheep", "cock": "rooster", "boxer": "boxer dog",
    "tusker": "tusker elephant", "jay": "jay bird", "mouse": "computer mouse", "monitor": "computer monitor",
    "file": "file cabinet", "ear": "ear of corn", "hog": "hog, pig", "tank": "military tank",
    "screen": "display screen", "crane": "construction crane", "nipple": "baby bottle nipple",
    "plate": "plate of food", "comic book": "comic book, cartoon drawing",
}
# AudioSet classes so broad that they would pull every music/speech clip onto one point of the
# semantic vector (used for the item embedding, not for labels).
AUDIOSET_DOWNWEIGHT = {"Music": 0.0, "Speech": 0.1, "Silence": 0.0, "Inside, small room": 0.2,
                       "Inside, large room or hall": 0.3, "Sound effect": 0.2, "Musical instrument": 0.3,
                       "Vehicle": 0.6, "Animal": 0.6, "Outside, urban or manmade": 0.6,
                       "Outside, rural or natural": 0.6}

# Class probabilities below the floor are not evidence: YAMNet's sigmoid scores of absent classes
# sit around 0.001-0.02, and ImageNet softmax spreads ~0.001 over hundreds of classes; summed by
# noisy-OR over a big subtree (59 bird classes) that noise would look like a real detection.
PROB_FLOOR = {"audioset": 0.03, "imagenet": 0.02, "musicnn_msd": 0.05, "musicnn_mtt": 0.05}
# How evidence from plug-in classifiers is named to people ("music tagger (Last.fm tags): mellow 0.62").
# The two taggers share tag names ("ambient", "rock"), so evidence says which one heard it.
EXTRA_DISPLAY = {"musicnn_msd": "music tagger (Last.fm tags)", "musicnn_mtt": "music tagger (MagnaTagATune)"}
DEFAULT_FLOOR = 0.03
TEXT_CAP, CONSE_CAP = 0.35, 0.25      # most that title/transcript text, or name similarity, can add
TEXT_COS0, TEXT_COS1 = 0.35, 0.65     # MiniLM cosine: below 0.35 unrelated; 0.65 and up a clear match
CONSE_MIN_PROB, CONSE_COS0 = 0.2, 0.45
# A recorded stream, rain or surf rises and falls by 7 dB or more over a few seconds (frame RMS,
# 95th minus 5th percentile); synthetic noise or a hum holds its level within ~4 dB. YAMNet hears
# steady broadband noise as "Waterfall" or "Ocean", so a sound this steady is no evidence of a
# place: fully at the first level, not at all at the second.
STEADY_DR_DB = (4.0, 7.0)
ONESHOT_S = (2.0, 4.0)                # a clip this short (s) is a one-shot; fully at the first, not at the second
MAX_SHOWN = 5
# Labels that fit nearly every clip of a kind ("music performance" for any music) say little:
# their evidence is damped so that a specific label wins when there is one.
BROAD_LABELS = {("themes", "music_performance"): 0.5}

# A tagger's vocabulary shapes its mistakes: the MSD tagger has no "classical" tag, so on classical
# music its probability lands on "jazz" (a solo cello, an orchestra, a piano piece). Where the MTT
# tagger, which has "classical", hears classical music, MSD's jazz is not separate evidence:
# (tagger, style) -> (other tagger, style) whose evidence e scales the first by (1 - e).
EXPLAINED_BY = {("musicnn_msd", "jazz"): ("musicnn_mtt", "classical")}

# Which gate each label's audio/music evidence needs (labels not listed: none).
MUSIC_STYLES = {"electronic", "rock", "jazz", "classical", "folk", "pop", "hip_hop", "ambient", "game_music",
                "cinematic", "world", "minimal"}
SOUND_TYPE_STYLES = {"drum_hit", "synth_sound", "instrument_note", "bell_chime"}
NON_MUSIC_STYLES = {"sound_effect", "noise", "field_recording"}
SPEECH_STYLES = {"spoken_word"}
VISUAL_STYLES = {"animation", "documentary", "fast_paced", "slow_contemplative", "vivid", "dark_moody"}
SPEECH_THEMES = {"storytelling", "education", "communication"}
MUSIC_THEMES = {"music_performance"}
# Themes of the place itself: their evidence is landscape and weather classes (ImageNet's alp,
# valley, seashore...; AudioSet's Wind, Rain, Ocean), a different family from objects and beings.
SCENE_THEMES = {"nature", "water", "weather", "winter", "sky"}


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    audioset_cues: tuple[str, ...]   # kept for reference; the evidence now comes from assets/label_maps
    rules: tuple[str, ...]
    valence: float | None = None
    arousal: float | None = None


@lru_cache(maxsize=None)
def load_vocabulary(facet: str) -> tuple[Label, ...]:
    """The labels of ``facet`` ("themes" | "emotions" | "styles") from ``assets/vocab``."""
    with open(ASSETS_DIR / "vocab" / f"{facet}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return tuple(
        Label(name=r["label"], description=r["description"],
              audioset_cues=tuple(c for c in (r.get("audioset_cues") or "").split(";") if c),
              rules=tuple(c for c in (r.get("rules") or "").split(";") if c),
              valence=float(r["valence"]) if r.get("valence") else None,
              arousal=float(r["arousal"]) if r.get("arousal") else None)
        for r in rows)


@dataclass(frozen=True)
class MapRow:
    cls: str
    facet: str
    label: str
    weight: float
    note: str


def load_label_map(name: str, folder: Path | None = None) -> tuple[MapRow, ...]:
    """Rows of ``<folder>/<name>.csv`` (default ``assets/label_maps``); checks that every label is in
    the vocabulary and every weight in (0, 1]."""
    return _load_label_map(name, Path(folder or LABEL_MAPS_DIR))


@lru_cache(maxsize=None)
def _load_label_map(name: str, folder: Path) -> tuple[MapRow, ...]:
    vocab = {f: {lab.name for lab in load_vocabulary(f)} for f in FACETS}
    rows = []
    with open(folder / f"{name}.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            row = MapRow(r["class"], r["facet"], r["label"], float(r["weight"]), r.get("note") or "")
            if row.facet not in vocab or row.label not in vocab[row.facet]:
                raise ValueError(f"{name}.csv: {row.facet}:{row.label} is not in assets/vocab")
            if not 0 < row.weight <= 1:
                raise ValueError(f"{name}.csv: weight {row.weight} of {row.cls} not in (0, 1]")
            rows.append(row)
    return tuple(rows)


class ClassifierMap:
    """A classifier's map as one (n_classes, n_labels) weight matrix per facet.

    Classes of the map that the classifier does not have are ignored (a map may cover several
    versions of a class list); classes without rows give no evidence."""

    def __init__(self, name: str, class_names: list[str], display: str | None = None, folder: Path | None = None):
        self.name, self.display = name, display or name
        self.class_names = list(class_names)
        index = {n: i for i, n in enumerate(self.class_names)}
        self.floor = PROB_FLOOR.get(name, DEFAULT_FLOOR)
        self.weights = {f: np.zeros((len(class_names), len(load_vocabulary(f))), np.float32) for f in FACETS}
        self.mapped = {f: np.zeros(len(class_names), bool) for f in FACETS}  # class has a row in the facet
        label_index = {f: {lab.name: j for j, lab in enumerate(load_vocabulary(f))} for f in FACETS}
        for row in load_label_map(name, folder):
            i = index.get(row.cls)
            if i is not None:
                self.weights[row.facet][i, label_index[row.facet][row.label]] = row.weight
                self.mapped[row.facet][i] = True

    def effective(self, probs: np.ndarray) -> np.ndarray:
        """(n_classes,) probabilities above the floor, rescaled to [0, 1]."""
        return np.clip((np.asarray(probs, np.float32) - self.floor) / (1 - self.floor), 0.0, 1.0)

    def evidence(self, probs: np.ndarray, facet: str) -> tuple[np.ndarray, list[list[str]]]:
        """Noisy-OR evidence (n_labels,) in [0, 1] and, per label, up to 2 strings naming the classes."""
        p = self.effective(probs)
        contrib = self.weights[facet] * p[:, None]                     # (n_classes, n_labels)
        raw = 1.0 - np.exp(np.log1p(-np.clip(contrib, 0, 0.999)).sum(axis=0))
        names: list[list[str]] = []
        for j in range(contrib.shape[1]):
            top = [i for i in np.argsort(-contrib[:, j])[:2] if contrib[i, j] > 0.01]
            names.append([f"{self.display}: {self.class_names[i]} {float(probs[i]):.2f}" for i in top])
        return raw.astype(np.float32), names


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float              # calibrated probability that a person accepts the label, [0, 1]
    evidence: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 4), "evidence": "; ".join(self.evidence)}


@dataclass
class Signals:
    """What the encoders saw, summarised per clip. Any part may be None (absent modality).

    image_probs : (1000,) mean ImageNet probabilities over the sampled frames
    audio_scores : (521,) mean AudioSet scores over patches; audio_peak : (521,) 90th percentile
    text_vec, transcript_vec : (384,) L2-normalised MiniLM vectors
    text_sentiment : VADER compound score of title/description/transcript, [-1, 1]
    extra_probs : further classifiers, name -> (class names, (n_classes,) probabilities in [0, 1]);
        each needs ``assets/label_maps/<name>.csv`` (e.g. "musicnn_msd")
    """

    image_probs: np.ndarray | None = None
    audio_scores: np.ndarray | None = None
    audio_peak: np.ndarray | None = None
    text_vec: np.ndarray | None = None
    transcript_vec: np.ndarray | None = None
    text_sentiment: float | None = None
    audio: AudioDescriptors | None = None
    visual: VisualDescriptors | None = None
    speech_fraction: float = 0.0
    duration_s: float | None = None   # the clip's length in seconds (None: unknown)
    words: int | None = None          # words in the transcript (None: no transcription ran)
    extra_probs: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)


@dataclass
class Understanding:
    themes: list[LabelScore]       # shown labels only (calibrated score >= the facet's threshold), best first
    emotions: list[LabelScore]
    styles: list[LabelScore]
    valence: float                 # [-1, 1]
    arousal: float                 # [-1, 1]
    va_evidence: list[str]
    semantic: np.ndarray           # (384,) fused semantic vector, L2-normalised (zeros if nothing)
    modality_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # per-modality (384,)
    abstain: dict[str, str] = field(default_factory=dict)    # facet -> why nothing is shown
    notes: list[str] = field(default_factory=list)           # e.g. "low confidence: the clip is 0.3 s long"
    all_scores: dict[str, list[LabelScore]] = field(default_factory=dict)  # facet -> every label, best first

    def facet(self, name: str) -> list[LabelScore]:
        return getattr(self, name)

    def score(self, facet: str, label: str) -> float:
        """Calibrated score of any label of ``facet``, shown or not (0 when unknown)."""
        return next((s.score for s in self.all_scores.get(facet, self.facet(facet)) if s.label == label), 0.0)

    def label_vector(self) -> np.ndarray:
        """(n_labels,) calibrated scores of every vocabulary label in vocabulary order (themes,
        emotions, styles), shown or not: the ranker uses the evidence below the display threshold too."""
        out = []
        for facet in FACETS:
            by_name = {s.label: s.score for s in self.all_scores.get(facet, self.facet(facet))}
            out += [by_name.get(lab.name, 0.0) for lab in load_vocabulary(facet)]
        return np.asarray(out, dtype=np.float32)


def label_names() -> list[str]:
    """Names matching :meth:`Understanding.label_vector`, as ``facet:label``."""
    return [str(LabelKey(facet, lab.name)) for facet in FACETS for lab in load_vocabulary(facet)]


class SemanticSpace:
    """Class-name and label embeddings in the text encoder's space (built once, cached on disk),
    and the built-in classifiers' label maps."""

    def __init__(self, text_encoder, image_class_names: list[str], audio_class_names: list[str]):
        self.text_encoder = text_encoder
        self.image_names = list(image_class_names)
        self.audio_names = list(audio_class_names)
        self.image_emb = text_encoder.encode_cached(
            [IMAGENET_REWORDING.get(n, n) for n in self.image_names], tag="imagenet")   # (1000, 384)
        self.audio_emb = text_encoder.encode_cached(self.audio_names, tag="audioset")  # (521, 384)
        self.audio_weight = np.array([AUDIOSET_DOWNWEIGHT.get(n, 1.0) for n in self.audio_names], np.float32)
        self.audio_index = {n: i for i, n in enumerate(self.audio_names)}
        self.labels = {f: load_vocabulary(f) for f in FACETS}
        self.label_emb = {f: text_encoder.encode_cached([lab.description for lab in labs], tag=f"vocab-{f}")
                          for f, labs in self.labels.items()}  # (n_labels, 384)
        self.maps = {"audioset": ClassifierMap("audioset", self.audio_names, "AudioSet"),
                     "imagenet": ClassifierMap("imagenet", self.image_names, "ImageNet")}
        # class-name vs label cosines for the ConSE fallback: (n_classes, n_labels) per facet
        self.class_label_cos = {(w, f): (emb @ self.label_emb[f].T).astype(np.float32)
                                for w, emb in (("audioset", self.audio_emb), ("imagenet", self.image_emb))
                                for f in FACETS}
        self._extra_maps: dict[tuple[str, tuple[str, ...]], ClassifierMap] = {}
        self.calibration = load_calibration()

    def classifier_map(self, name: str, class_names) -> ClassifierMap:
        """The map of a plug-in classifier (cached per class list)."""
        key = (name, tuple(class_names))
        if key not in self._extra_maps:
            self._extra_maps[key] = ClassifierMap(name, list(class_names), display=EXTRA_DISPLAY.get(name))
        return self._extra_maps[key]

    def conse(self, probs: np.ndarray, which: str, *, top_k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """ConSE vector (384,) L2-normalised, and the (top_k,) class indices it mixes."""
        emb = self.image_emb if which == "image" else self.audio_emb
        p = probs * (self.audio_weight if which == "audio" else 1.0)
        top = np.argsort(-p)[:top_k]
        vec = (p[top, None] * emb[top]).sum(axis=0)
        norm = np.linalg.norm(vec)
        return (vec / norm if norm > 0 else vec).astype(np.float32), top


_space_lock = threading.Lock()
_space: SemanticSpace | None = None


def get_semantic_space(text_encoder, image_class_names, audio_class_names) -> SemanticSpace:
    global _space
    with _space_lock:
        if _space is None or _space.text_encoder is not text_encoder:
            _space = SemanticSpace(text_encoder, image_class_names, audio_class_names)
        return _space


# --- calibration ----------------------------------------------------------------------------------

def label_group(facet: str, label: str) -> str:
    """The evidence family of a label (its calibration group): labels of one family share sources
    and so reliability; families differ (a YAMNet genre class is weaker than a "Speech" class)."""
    if facet == "styles":
        for name, members in (("music", MUSIC_STYLES), ("sound_type", SOUND_TYPE_STYLES),
                              ("non_music", NON_MUSIC_STYLES), ("speech", SPEECH_STYLES), ("visual", VISUAL_STYLES)):
            if label in members:
                return name
    if facet == "themes":
        if label in SCENE_THEMES:
            return "scene"
        if label in SPEECH_THEMES:
            return "speech"
    return "all"


@dataclass(frozen=True)
class FacetCalibration:
    """Platt scaling on the raw score's logit: p = sigmoid(a * logit(raw) + b); shown if p >= threshold.

    ``groups`` optionally holds (a, b) per label group (:func:`label_group`); ``group_thresholds``
    a display threshold per group where it differs from the facet's."""
    a: float = 1.0
    b: float = 0.0
    threshold: float = 0.5
    groups: dict = field(default_factory=dict)
    group_thresholds: dict = field(default_factory=dict)

    def threshold_for(self, group: str) -> float:
        return float(self.group_thresholds.get(group, self.threshold))

    def __call__(self, raw: np.ndarray, group: str | None = None) -> np.ndarray:
        a, b = self.groups.get(group, (self.a, self.b)) if group else (self.a, self.b)
        r = np.clip(np.asarray(raw, np.float64), 1e-6, 1 - 1e-6)
        z = a * np.log(r / (1 - r)) + b
        return np.where(np.asarray(raw) > 0, 1 / (1 + np.exp(-z)), 0.0)

    def labels(self, raw: np.ndarray, groups: list[str]) -> np.ndarray:
        """(n_labels,) calibrated scores of a facet's raw scores, each label with its group's fit."""
        return np.array([float(self(raw[j], g)) for j, g in enumerate(groups)])


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, FacetCalibration]:
    """Per-facet calibration from ``path``; identity (p = raw) for a facet the file lacks."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    out = {}
    for f in FACETS:
        d = data.get(f, {})
        out[f] = FacetCalibration(**{k: v for k, v in d.items() if k in ("a", "b", "threshold")},
                                  groups={g: (v["a"], v["b"]) for g, v in d.get("groups", {}).items()},
                                  group_thresholds=dict(d.get("group_thresholds", {})))
    return out


def fit_calibration(signals: list[Signals], judged: list[dict[str, tuple[set[str], set[str]]]],
                    space: SemanticSpace, path: Path = CALIBRATION_FILE, *, top_k: int = 3,
                    max_wrong: float = 0.02, music_max_wrong: float = 0.10,
                    thresholds=np.arange(0.25, 0.81, 0.05)) -> Path:
    """Fit each facet's Platt parameters and display threshold on labelled clips; write ``path``.

    ``judged[i][facet]`` is (labels a person accepts, labels a person calls plainly wrong) for clip
    ``i``. The examples are each clip's ``top_k`` labels by raw evidence (the candidates that could
    be shown), y = accepted. ``a`` is kept positive so the map is monotone. The threshold is the
    lowest one in ``thresholds`` at which at most ``max_wrong`` of the clips show a plainly wrong
    top-1 label (abstaining is not free, so the lowest safe one). Named label groups then go lower
    while the facet stays within that budget; music styles have a rule of their own
    (:func:`_music_style_threshold`)."""
    from sklearn.linear_model import LogisticRegression

    evidence = [_raw_evidence(s, space) for s in signals]
    raws = [raw for raw, _, _ in evidence]
    with_music = [i for i, (_, _, (ctx, _)) in enumerate(evidence) if ctx.music >= 0.5]
    out = {}
    for f in FACETS:
        names = [lab.name for lab in space.labels[f]]
        groups = [label_group(f, n) for n in names]
        by_group: dict[str, tuple[list[float], list[int]]] = {}
        for raw, jd in zip(raws, judged):
            for j in np.argsort(-raw[f])[:top_k]:
                if raw[f][j] > 0.01:
                    xs, ys = by_group.setdefault(groups[j], ([], []))
                    xs.append(float(raw[f][j]))
                    ys.append(int(names[j] in jd[f][0]))
        params, stats = {}, {}
        for g, (xs, ys) in by_group.items():
            stats[g] = {"n": len(ys), "accepted": int(sum(ys))}
            if len(set(ys)) == 2 and len(ys) >= 8:
                x = np.clip(np.asarray(xs), 1e-6, 1 - 1e-6)
                lr = LogisticRegression(C=10.0).fit(np.log(x / (1 - x))[:, None], np.asarray(ys))
                params[g] = (max(float(lr.coef_[0, 0]), 0.05), float(lr.intercept_[0]))
        # the facet-wide fit, for groups with too few examples of both kinds
        x = np.clip(np.asarray([v for xs, _ in by_group.values() for v in xs]), 1e-6, 1 - 1e-6)
        y = np.asarray([v for _, ys in by_group.values() for v in ys])
        a0, b0 = 1.0, 0.0
        if len(set(y.tolist())) == 2:
            lr = LogisticRegression(C=10.0).fit(np.log(x / (1 - x))[:, None], y)
            a0, b0 = max(float(lr.coef_[0, 0]), 0.05), float(lr.intercept_[0])
        cal = FacetCalibration(a0, b0, groups=params)
        probs = [cal.labels(raw[f], groups) for raw in raws]
        group_of = np.asarray(groups)

        def wrong_top1(thr: dict[str, float]) -> int:
            """Clips whose shown top-1 (best calibrated label above its group's threshold) is wrong."""
            wrong = 0
            for p, jd in zip(probs, judged):
                cut = np.array([thr[g] for g in group_of])
                shown_p = np.where(p >= cut, p, -1.0)
                j = int(np.argmax(shown_p))
                wrong += bool(shown_p[j] >= 0 and names[j] in jd[f][1])
            return wrong

        budget = max_wrong * len(raws)
        chosen = float(thresholds[-1])
        for t in thresholds:
            if wrong_top1(dict.fromkeys(set(groups), float(t))) <= budget:
                chosen = float(t)
                break
        # Then each named family as low as the facet's wrong budget allows (abstaining is not
        # free): a family whose evidence is reliable (speech, sound types, landscapes) need not
        # wait on a weaker one. "all", the mixed rest, keeps the facet's threshold.
        thr = dict.fromkeys(set(groups), chosen)
        for g in sorted(set(groups) - {"all"}):
            for t in thresholds:
                if t >= thr[g]:
                    break
                if wrong_top1({**thr, g: float(t)}) <= budget:
                    thr[g] = float(t)
                    break
        if f == "styles" and "music" in thr:
            thr["music"] = _music_style_threshold(with_music, probs, judged, names, group_of, thr, thresholds,
                                                  music_max_wrong)
        out[f] = {"a": round(a0, 4), "b": round(b0, 4), "threshold": round(chosen, 2), "n": int(len(y)),
                  "accepted": int(y.sum()),
                  "group_thresholds": {g: round(t, 2) for g, t in sorted(thr.items()) if t != chosen},
                  "groups": {g: {"a": round(a, 4), "b": round(b, 4), **stats[g]} for g, (a, b) in params.items()}}
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    space.calibration = load_calibration(path)
    return path


def _music_style_threshold(music: list[int], probs, judged, names, group_of, thr, thresholds,
                           music_max_wrong: float) -> float:
    """The music styles' display threshold: music is what most people upload and a style is what
    they look for, so it goes as low as keeps plainly wrong styles at most ``music_max_wrong`` of
    the tuning clips with music that show one (not a share of every clip, which the many clips
    without music would dilute). ``music``: indices of the clips with music."""
    best = thr["music"]
    for t in thresholds:
        if t >= thr["music"]:
            break
        cut = np.array([float(t) if g == "music" else thr[g] for g in group_of])
        shown = wrong = 0
        for i in music:
            p = np.where(probs[i] >= cut, probs[i], -1.0)
            j = int(np.argmax(p))
            if p[j] >= 0:
                shown += 1
                wrong += names[j] in judged[i]["styles"][1]
        if shown and wrong <= music_max_wrong * shown:
            best = float(t)
            break
    return best


# --- evidence ---------------------------------------------------------------------------------------

@dataclass
class _Context:
    """Gates in [0, 1] and their evidence, derived once per clip."""
    music: float
    speech: float
    oneshot: float
    frames: bool
    silent: bool
    music_ev: str
    speech_ev: str
    steady: float = 0.0  # [0, 1]: how machine-steady the sound's level is (see STEADY_DR_DB)


def _audio_probs(s: Signals) -> np.ndarray | None:
    """(521,) AudioSet evidence per class: the mean of the clip's mean and 90th-percentile scores
    (the mean alone dilutes a short event in a long clip, the peak alone over-trusts one patch)."""
    if s.audio_scores is None:
        return None
    peak = s.audio_peak if s.audio_peak is not None else s.audio_scores
    return 0.5 * (np.asarray(s.audio_scores, np.float32) + np.asarray(peak, np.float32))


def _context(s: Signals, space: SemanticSpace, ap: np.ndarray | None) -> _Context:
    silent = ap is None or (s.audio is not None and s.audio.silence_fraction >= 0.95)
    music = speech = 0.0
    music_ev = speech_ev = ""
    if not silent:
        i = space.audio_index.get("Music")
        if i is not None:
            music = float(np.clip((ap[i] - 0.15) / 0.35, 0, 1))
            music_ev = f"AudioSet: Music {ap[i]:.2f}"
        i = space.audio_index.get("Speech")
        level = max(s.speech_fraction, float(ap[i]) if i is not None else 0.0)
        speech = float(np.clip((level - 0.2) / 0.4, 0, 1))
        speech_ev = f"speech in {100 * s.speech_fraction:.0f}% of the sound" if s.speech_fraction >= 0.3 else \
            (f"AudioSet: Speech {ap[i]:.2f}" if i is not None else "")
        if s.words == 0:  # voices with no words a transcriber can follow: babble, a crowd, chanting
            speech *= NO_WORDS_SPEECH
            speech_ev += ", but no words transcribed"
    oneshot = 0.0
    if s.duration_s is not None and not silent:
        lo, hi = ONESHOT_S
        oneshot = float(np.clip((hi - s.duration_s) / (hi - lo), 0, 1))
    steady = 0.0
    if s.audio is not None and not silent and (s.duration_s or 0.0) >= ONESHOT_S[0]:
        lo, hi = STEADY_DR_DB
        steady = float(np.clip((hi - s.audio.dynamic_range_db) / (hi - lo), 0, 1))
    return _Context(music, speech, oneshot, s.image_probs is not None, silent, music_ev, speech_ev, steady)


def _gate(facet: str, label: str, ctx: _Context) -> float:
    """How much of the sound's evidence a label may use, given what the clip contains."""
    if facet == "styles":
        if label in VISUAL_STYLES:
            return 0.0  # visual styles come from frames only (see _visual_rules)
        if label in MUSIC_STYLES:
            return ctx.music * (1 - 0.8 * ctx.oneshot)  # a 0.4 s hit is a sound type, not a genre
        if label in SOUND_TYPE_STYLES:  # what a sample is; a film's style is its look, not one hit
            return ctx.oneshot * (1 - ctx.speech) * (not ctx.frames)
        if label in NON_MUSIC_STYLES:
            return (1 - 0.8 * ctx.music) * (1 - ctx.speech) if label != "sound_effect" else (1 - ctx.speech)
        if label in SPEECH_STYLES:
            return ctx.speech
    if facet == "themes":
        if label in SPEECH_THEMES:
            return ctx.speech
        if label in MUSIC_THEMES:
            return ctx.music
        if label in SCENE_THEMES:
            return 1.0 - ctx.steady  # steady noise sounds like a waterfall to YAMNet
    if facet == "emotions":
        if label == "neutral":
            return ctx.speech
        # a hit or a blip of a second or two has a sound, not a mood (a loud kick is not "excited")
        return ctx.music * (1 - ctx.oneshot) if ctx.music > 0 else 0.6 * (1 - ctx.oneshot)
    return 1.0


def _raw_evidence(s: Signals, space: SemanticSpace):
    """Raw evidence per facet: ({facet: (n_labels,) in [0, 1]}, {facet: [[(strength, text)]]}, extras)."""
    ap = _audio_probs(s)
    ctx = _context(s, space, ap)
    va = valence_arousal(s, space.audio_index, ctx)
    raw, ev = {}, {}
    for facet in FACETS:
        labels = space.labels[facet]
        n = len(labels)
        sources: list[tuple[np.ndarray, list[list[str]], np.ndarray | float]] = []  # (strength, names, gate)
        gates = np.array([_gate(facet, lab.name, ctx) for lab in labels], np.float32)
        # Music styles come from one genre distribution (see music_genre), not per class.
        genre_cols = np.array([j for j, lab in enumerate(labels) if lab.name in MUSIC_STYLES], int) \
            if facet == "styles" else np.zeros(0, int)
        genre_views: dict[str, tuple[np.ndarray, list[str]]] = {}
        if ap is not None and not ctx.silent:
            e, names = space.maps["audioset"].evidence(ap, facet)
            if genre_cols.size:
                amap = space.maps["audioset"]
                genre_views["audioset"] = music_genre.audioset_distribution(
                    ap, amap.class_names, amap.weights[facet], genre_cols)
                e = e.copy()
                e[genre_cols] = 0.0
            sources.append((e, names, gates))
        if s.image_probs is not None:
            e, names = space.maps["imagenet"].evidence(s.image_probs, facet)
            # frames are evidence for what is seen (themes, visual styles), not for music genres or moods
            g = np.array([1.0 if facet == "themes" or lab.name in VISUAL_STYLES else 0.0 for lab in labels])
            sources.append((e, names, g))
        extra = {}
        for name, (class_names, probs) in (s.extra_probs or {}).items():
            cmap = space.classifier_map(name, class_names)
            extra[name] = cmap.evidence(np.asarray(probs, np.float32), facet)
        for (name, label), (other, other_label) in EXPLAINED_BY.items():
            if facet == "styles" and name in extra and other in extra:
                label_names_ = [lab.name for lab in labels]
                j, k = label_names_.index(label), label_names_.index(other_label)
                extra[name][0][j] *= 1.0 - extra[other][0][k]
        for name, (e, names) in extra.items():
            if genre_cols.size:
                genre_views[name] = (music_genre.normalised(e[genre_cols]), [names[j][0] if names[j] else ""
                                                                             for j in genre_cols])
                e = e.copy()
                e[genre_cols] = 0.0
            sources.append((e, names, gates))
        if genre_cols.size and genre_views:
            mix = music_genre.mixture({k: d for k, (d, _) in genre_views.items()})
            e = np.zeros(n, np.float32)
            e[genre_cols] = mix
            names = [[] for _ in range(n)]
            for k, j in enumerate(genre_cols):
                names[j] = [t[k] for d, t in genre_views.values() if d[k] > 0 and t[k]]
            sources.append((e, names, gates))
        sources += _conse_fallback(s, space, facet, ap, gates)
        sources += _text_evidence(s, space, facet, ctx)
        if facet == "styles":
            sources += _visual_rules(s, labels)
        if facet == "emotions":
            sources += [(e, names, gates) for e, names, _ in _va_evidence(labels, va, ctx)]
        total = np.zeros(n, np.float64)
        items: list[list[tuple[float, str]]] = [[] for _ in range(n)]
        log_not = np.zeros(n, np.float64)
        for strength, names, g in sources:
            st = np.clip(np.asarray(strength, np.float64) * g, 0, 0.999)
            log_not += np.log1p(-st)
            for j in range(n):
                if st[j] > 0.005:
                    items[j] += [(float(st[j]) / (k + 1), t) for k, t in enumerate(names[j])]
        total = 1 - np.exp(log_not)
        for j, lab in enumerate(labels):
            total[j] *= BROAD_LABELS.get((facet, lab.name), 1.0)
        raw[facet] = total.astype(np.float32)
        ev[facet] = items
    return raw, ev, (ctx, va)


def _conse_fallback(s, space, facet, ap, gates):
    """Weak evidence from confident classes with no map row in this facet, by name similarity
    (e.g. an unmapped "Harmonica" near "folk"), capped at CONSE_CAP."""
    out = []
    for which, probs, g in (("audioset", None if ap is None else ap, gates),
                            ("imagenet", s.image_probs, None)):
        if probs is None:
            continue
        cmap = space.maps[which]
        conf = (np.asarray(probs) >= CONSE_MIN_PROB) & ~cmap.mapped[facet]
        if which == "audioset":  # "Music", "Speech"...: near every label's wording, evidence for none
            conf &= space.audio_weight >= 0.5
        if not conf.any():
            continue
        idx = np.flatnonzero(conf)
        cos = space.class_label_cos[(which, facet)][idx]                       # (k, n_labels)
        strength = CONSE_CAP * np.asarray(probs)[idx, None] * np.clip((cos - CONSE_COS0) / 0.2, 0, 1)
        best = strength.argmax(axis=0)
        e = strength.max(axis=0)
        names = [[f"{cmap.display}: {cmap.class_names[idx[best[j]]]} {float(probs[idx[best[j]]]):.2f} "
                  f"(name similar, cos {cos[best[j], j]:.2f})"] for j in range(e.size)]
        if which == "imagenet":
            g = np.array([1.0 if facet == "themes" or lab.name in VISUAL_STYLES else 0.0
                          for lab in space.labels[facet]])
        out.append((e, names, g))
    return out


def _text_evidence(s, space, facet, ctx):
    """Title/description and transcript text matched to the label descriptions, capped at TEXT_CAP."""
    out = []
    for vec, what, g in ((s.text_vec, "title", 1.0), (s.transcript_vec, "transcript", ctx.speech)):
        if vec is None or not np.any(vec) or not g:
            continue
        cos = space.label_emb[facet] @ np.asarray(vec, np.float32)
        e = TEXT_CAP * np.clip((cos - TEXT_COS0) / (TEXT_COS1 - TEXT_COS0), 0, 1)
        if facet == "styles":  # a title cannot show a visual style without frames
            e = e * np.array([0.0 if lab.name in VISUAL_STYLES and not ctx.frames else 1.0
                              for lab in space.labels[facet]])
        out.append((e, [[f"{what} text matches (cos {c:.2f})"] for c in cos], g))
    return out


def _clip01(x: float) -> float:
    return float(np.clip(x, 0.0, 1.0))


def _visual_rules(s: Signals, labels):
    """Visual styles from frame descriptors (these define the styles; frames required)."""
    v = s.visual
    if v is None or s.image_probs is None:
        return []
    cues = {
        "slow_contemplative": (_clip01((0.03 - v.motion) / 0.02) * (v.cuts_per_min < 6),
                               f"little motion ({v.motion:.3f}), {v.cuts_per_min:.0f} cuts/min"),
        "documentary": (0.4 * _clip01((0.03 - v.motion) / 0.02), f"steady camera (motion {v.motion:.3f})"),
        # at least two cuts: one cut in a 2 s clip is "30 cuts/min" but not fast editing
        "fast_paced": (max(_clip01((v.cuts_per_min - 8) / 20) * (v.cuts_per_min * (s.duration_s or 60) / 60 >= 2),
                           _clip01((v.motion - 0.06) / 0.08)),
                       f"{v.cuts_per_min:.0f} cuts/min, motion {v.motion:.3f}"),
        "vivid": (0.8 * _clip01((v.colourfulness - 0.6) / 0.4) * (v.brightness > 0.35),
                  f"colourful frames (colourfulness {v.colourfulness:.2f})"),
        "dark_moody": (_clip01((0.25 - v.brightness) / 0.15), f"dark frames (brightness {v.brightness:.2f})"),
    }
    e = np.array([cues[lab.name][0] if lab.name in cues else 0.0 for lab in labels], np.float32)
    names = [[cues[lab.name][1]] if lab.name in cues else [] for lab in labels]
    return [(e, names, 1.0)]


# --- valence / arousal ------------------------------------------------------------------------------

# AudioSet music moods as (valence, arousal) directions.
_MOOD_VA = {"Happy music": (0.8, 0.4), "Music for children": (0.6, 0.3), "Sad music": (-0.8, -0.4),
            "Tender music": (0.5, -0.5), "Exciting music": (0.4, 0.8), "Angry music": (-0.7, 0.8),
            "Scary music": (-0.8, 0.5), "Lullaby": (0.4, -0.8), "Ambient music": (0.2, -0.6),
            "New-age music": (0.3, -0.6)}
# musicnn tags (MSD: Last.fm moods; MTT: tempo and character) as (valence, arousal) directions.
_TAGGER_MOOD_VA = {"happy": (0.8, 0.4), "sad": (-0.8, -0.4), "Mellow": (0.3, -0.6), "chill": (0.3, -0.6),
                   "chillout": (0.3, -0.5), "easy listening": (0.4, -0.4), "party": (0.6, 0.8),
                   "beautiful": (0.5, -0.3), "sexy": (0.4, 0.1), "catchy": (0.5, 0.4), "ambient": (0.1, -0.7),
                   "heavy metal": (-0.5, 0.9), "metal": (-0.4, 0.8), "hard rock": (-0.1, 0.8), "punk": (-0.1, 0.8),
                   "fast": (0.1, 0.7), "slow": (0.0, -0.6), "soft": (0.3, -0.6), "quiet": (0.1, -0.6),
                   "dance": (0.5, 0.7), "techno": (0.2, 0.7), "new age": (0.3, -0.6), "weird": (-0.3, 0.2)}
VA_SIGMA = 0.45
VA_PRIOR = 1.0
VA_CENTRE_LABELS = {"neutral", "mysterious", "nostalgic"}  # near (0, 0): a VA point cannot single them out
# YAMNet's "Speech" fires on crowds, babble and chanting as on a talk; spoken word needs words. When
# the transcriber ran and found none, the clip's speech counts this much.
NO_WORDS_SPEECH = 0.25
# A VA point tells the quadrants apart (excited, joyful, calm, sad, tense) but not their shades:
# triumphant sits beside excited, playful beside joyful, tender and dreamy beside calm, angry and
# scary beside tense. These need a mood class of their own (AudioSet "Scary music", the tagger's
# "metal"...); the VA point alone gives them this share of its evidence.
VA_SHADE_LABELS = {"triumphant", "playful", "tender", "dreamy", "angry", "scary"}
VA_SHADE_WEIGHT = 0.5


@dataclass
class _VA:
    valence: float
    arousal: float
    confidence: float      # [0, 1]: how much non-loudness evidence the point rests on
    evidence: list[str]


def _has_pulse(a: AudioDescriptors) -> bool:
    return a.tempo_bpm > 0 and a.beat_strength > 1.3


def valence_arousal(s: Signals, audio_index: dict[str, int], ctx: _Context | None = None) -> _VA:
    """The clip's (valence, arousal) in [-1, 1]^2 from music-mood classes and descriptors together.

    Cues: AudioSet mood classes (both axes), tempo when there is a pulse, onset rate and spectral
    centroid (arousal), mode with its key correlation (valence), text sentiment, and for video the
    motion and brightness. Level (dBFS) is a minor arousal cue that cannot stand alone: the
    confidence counts only the other cues' weight."""
    val: list[tuple[float, float, str]] = []  # (value, weight, evidence)
    aro: list[tuple[float, float, str]] = []
    a, v = s.audio, s.visual
    music = ctx.music if ctx is not None else 1.0
    if a is not None and a.silence_fraction < 0.95 and (ctx is None or not ctx.silent):
        if _has_pulse(a) and s.speech_fraction < 0.4:
            aro.append((float(np.clip((a.tempo_bpm - 105) / 45, -1, 1)), 1.0 * music, f"{a.tempo_bpm:.0f} BPM"))
        aro.append((float(np.clip((a.onset_rate_hz - 2.5) / 2.5, -1, 1)), 0.5 * music,
                    f"{a.onset_rate_hz:.1f} onsets/s"))
        aro.append((float(np.clip((a.spectral_centroid_hz - 1800) / 1500, -1, 1)), 0.4 * music,
                    f"{'bright' if a.spectral_centroid_hz > 1800 else 'dark'} timbre "
                    f"(centroid {a.spectral_centroid_hz:.0f} Hz)"))
        aro.append((float(np.clip((a.rms_db + 30) / 12, -1, 1)), 0.2 * music, f"level {a.rms_db:.0f} dBFS"))
        if a.key_confidence > 0.5 and s.speech_fraction < 0.5:
            val.append((0.5 if a.mode == "major" else -0.5, a.key_confidence * music, f"{a.key} {a.mode}"))
    peak = s.audio_peak if s.audio_peak is not None else s.audio_scores
    if peak is not None and (ctx is None or not ctx.silent):
        for name, (mv, ma) in _MOOD_VA.items():
            i = audio_index.get(name)
            p = float(peak[i]) if i is not None else 0.0
            if p >= 0.05:
                w = 4.0 * p
                val.append((mv, w, f"AudioSet: {name} {p:.2f}"))
                aro.append((ma, w, f"AudioSet: {name} {p:.2f}"))
    for name, (class_names, probs) in (s.extra_probs or {}).items():
        if not name.startswith("musicnn") or (ctx is not None and ctx.silent):
            continue
        for tag, p in zip(class_names, np.asarray(probs, np.float32)):
            if tag in _TAGGER_MOOD_VA and p >= 0.15:
                mv, ma = _TAGGER_MOOD_VA[tag]
                w = 3.0 * float(p) * music
                val.append((mv, w, f"{EXTRA_DISPLAY.get(name, name)}: {tag} {p:.2f}"))
                aro.append((ma, w, f"{EXTRA_DISPLAY.get(name, name)}: {tag} {p:.2f}"))
    if s.text_sentiment is not None and abs(s.text_sentiment) > 0.05:
        val.append((s.text_sentiment, 0.5, f"text sentiment {s.text_sentiment:+.2f}"))
    if v is not None:
        val.append((float(np.clip((v.brightness - 0.45) / 0.3, -1, 1)), 0.3, f"brightness {v.brightness:.2f}"))
        aro.append((float(np.clip((v.motion - 0.03) / 0.04, -1, 1)), 0.5, f"motion {v.motion:.3f}"))

    def mean(items):
        w = sum(x[1] for x in items)
        return float(sum(x[0] * x[1] for x in items) / w) if w > 0 else 0.0

    # level and picture cues may move the point but not make it count: a loud hit or a bright
    # photo is not a mood
    support = sum(w for _, w, e in val + aro
                  if not e.startswith(("level", "brightness", "motion", "text sentiment")))
    evidence = [e for _, _, e in sorted(val + aro, key=lambda x: -x[1] * abs(x[0])) if not e.startswith("level")]
    return _VA(mean(val), mean(aro), _clip01(support / 3.0), list(dict.fromkeys(evidence))[:4])


def _va_evidence(labels, va: _VA, ctx: _Context):
    """Emotion evidence from the distance between the clip's VA point and each label's."""
    if va.confidence <= 0:
        return []
    e = np.zeros(len(labels), np.float32)
    text = f"valence {va.valence:+.2f}, arousal {va.arousal:+.2f} ({', '.join(va.evidence[:3])})"
    # a point near the centre says little: scale by its distance from (0, 0)
    clear = _clip01(np.hypot(va.valence, va.arousal) / 0.5)
    for j, lab in enumerate(labels):
        if lab.valence is None or lab.name in VA_CENTRE_LABELS:
            continue
        d2 = (va.valence - lab.valence) ** 2 + (va.arousal - lab.arousal) ** 2
        shade = VA_SHADE_WEIGHT if lab.name in VA_SHADE_LABELS else 1.0
        e[j] = 0.6 * shade * va.confidence * clear * float(np.exp(-d2 / (2 * VA_SIGMA**2)))
    return [(e, [[text] for _ in labels], 1.0)]


# --- understand -------------------------------------------------------------------------------------

def understand(signals: Signals, space: SemanticSpace) -> Understanding:
    """Score, calibrate and gate every label of every facet for one clip (see the module docstring)."""
    raw, ev, (ctx, va) = _raw_evidence(signals, space)
    shown: dict[str, list[LabelScore]] = {}
    every: dict[str, list[LabelScore]] = {}
    abstain: dict[str, str] = {}
    for facet in FACETS:
        cal = space.calibration[facet]
        probs = cal.labels(raw[facet], [label_group(facet, lab.name) for lab in space.labels[facet]])
        scored = []
        for j, lab in enumerate(space.labels[facet]):
            items = sorted(ev[facet][j], key=lambda x: -x[0])
            scored.append(LabelScore(lab.name, float(probs[j]), tuple(dict.fromkeys(t for _, t in items))[:3]))
        scored.sort(key=lambda x: -x.score)
        every[facet] = scored
        shown[facet] = [x for x in scored
                        if x.score > 0 and x.score >= cal.threshold_for(label_group(facet, x.label))][:MAX_SHOWN]
        if not shown[facet]:
            abstain[facet] = _abstain_reason(facet, scored, ctx, signals)
    notes = _notes(signals, ctx)
    modal = _modality_vectors(signals, space, ctx)
    fused = sum((MODALITY_WEIGHT[m] * v for m, v in modal.items()), np.zeros(384, np.float32))
    norm = np.linalg.norm(fused)
    return Understanding(
        themes=shown["themes"], emotions=shown["emotions"], styles=shown["styles"],
        valence=va.valence, arousal=va.arousal, va_evidence=va.evidence,
        semantic=(fused / norm if norm > 0 else fused).astype(np.float32),
        modality_vectors=modal, abstain=abstain, notes=notes, all_scores=every)


def _abstain_reason(facet: str, scored: list[LabelScore], ctx: _Context, s: Signals) -> str:
    what = {"themes": "theme", "emotions": "emotion", "styles": "style"}[facet]
    if ctx.silent and s.image_probs is None:
        return f"no {what}: the clip is silent and has no picture"
    if facet == "emotions" and ctx.music == 0 and ctx.speech == 0:
        return "no emotion: no music or speech to read a mood from" + (f" ({ctx.music_ev})" if ctx.music_ev else "")
    best = scored[0] if scored else None
    if best is None or best.score <= 0:
        return f"no {what}: no evidence for any {what}"
    because = f" ({best.evidence[0]})" if best.evidence else ""
    return f"not sure: no clear {what}; strongest was {best.label} at {best.score:.2f}{because}"


def _notes(s: Signals, ctx: _Context) -> list[str]:
    notes = []
    if s.duration_s is not None and s.duration_s < 1.0:
        notes.append(f"low confidence: the clip is only {s.duration_s:.1f} s long")
    a = s.audio
    if a is not None and s.image_probs is None:
        if ctx.silent:
            notes.append("low confidence: the sound is silent")
        elif a.silence_fraction > 0.6 or a.rms_db < -45:
            notes.append(f"low confidence: the sound is near-silent ({100 * a.silence_fraction:.0f}% silence, "
                         f"{a.rms_db:.0f} dBFS)")
    return notes


MODALITY_WEIGHT = {"frames": 1.0, "sound": 1.0, "text": 1.0, "transcript": 0.8}


def _modality_vectors(s: Signals, space: SemanticSpace, ctx: _Context) -> dict[str, np.ndarray]:
    """Per-modality (384,) vectors in the semantic space (frames and sound by ConSE, text as is),
    used for the item embedding and for similarity, not for the labels."""
    out = {}
    if s.image_probs is not None:
        out["frames"] = space.conse(s.image_probs, "image")[0]
    if s.audio_scores is not None and not ctx.silent:
        out["sound"] = space.conse(s.audio_scores, "audio")[0]
    if s.text_vec is not None and np.any(s.text_vec):
        out["text"] = np.asarray(s.text_vec, np.float32)
    if s.transcript_vec is not None and np.any(s.transcript_vec):
        out["transcript"] = np.asarray(s.transcript_vec, np.float32)
    return out
