"""Themes, emotions and styles with evidence, scored in one semantic space.

The semantic space is MiniLM's 384-d sentence space. Frames and sounds enter it by ConSE
(Norouzi et al. 2014): a frame's vector is the probability-weighted mean of the embeddings of its
top ImageNet class names, a sound's the same over AudioSet classes. Titles, descriptions and
transcripts are embedded directly, and each label of a vocabulary (``assets/vocab/*.csv``) is
embedded from its one-line description. A label's score combines, by noisy-OR:

* the semantic match: cosine between the clip's per-modality vectors and the label, mapped to [0, 1];
* direct cues: AudioSet classes named by the label (e.g. "Sad music"), and descriptor rules
  (tempo, mode, loudness, brightness, colour, motion, cuts);
* for emotions, the distance between the clip's valence/arousal point and the label's.

Every score carries the evidence strings that produced it.
"""
from __future__ import annotations

import csv
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from recsys.media.audio_descriptors import AudioDescriptors
from recsys.media.visual_descriptors import VisualDescriptors
from recsys.paths import ASSETS_DIR
from recsys.understanding.label_key import LabelKey

FACETS = ("themes", "emotions", "styles")

# ImageNet names that mean something else out of context (ConSE embeds the bare name).
IMAGENET_REWORDING = {
    "kite": "kite, a bird of prey", "Cardigan": "Cardigan Welsh corgi dog", "drake": "drake, male duck",
    "sorrel": "sorrel horse", "ram": "ram, male sheep", "cock": "rooster", "boxer": "boxer dog",
    "tusker": "tusker elephant", "jay": "jay bird", "mouse": "computer mouse", "monitor": "computer monitor",
    "file": "file cabinet", "ear": "ear of corn", "hog": "hog, pig", "tank": "military tank",
    "screen": "display screen", "crane": "construction crane", "nipple": "baby bottle nipple",
    "plate": "plate of food", "comic book": "comic book, cartoon drawing",
}
# AudioSet classes so broad that they would pull every music/speech clip onto one label.
AUDIOSET_DOWNWEIGHT = {"Music": 0.0, "Speech": 0.1, "Silence": 0.0, "Inside, small room": 0.2,
                       "Inside, large room or hall": 0.3, "Sound effect": 0.2, "Musical instrument": 0.3,
                       "Vehicle": 0.6, "Animal": 0.6, "Outside, urban or manmade": 0.6,
                       "Outside, rural or natural": 0.6}
# Cosine between MiniLM vectors of related texts is about 0.3-0.6, unrelated about 0-0.15. A
# label's semantic score is its cosine's excess over the facet mean (never below SEM_FLOOR),
# divided by SEM_SPREAD.
SEM_FLOOR, SEM_SPREAD = 0.1, 0.25
RULE_WEIGHT = 0.5    # descriptor rules are weaker evidence than a pretrained classifier
VA_WEIGHT = 0.5
VA_SIGMA = 0.4


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    audioset_cues: tuple[str, ...]
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
class LabelScore:
    label: str
    score: float              # in [0, 1]
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


@dataclass
class Understanding:
    themes: list[LabelScore]
    emotions: list[LabelScore]
    styles: list[LabelScore]
    valence: float                 # [-1, 1]
    arousal: float                 # [-1, 1]
    va_evidence: list[str]
    semantic: np.ndarray           # (384,) fused semantic vector, L2-normalised (zeros if nothing)
    modality_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # per-modality (384,)

    def facet(self, name: str) -> list[LabelScore]:
        return getattr(self, name)

    def label_vector(self) -> np.ndarray:
        """(n_labels,) scores of every vocabulary label in vocabulary order (themes, emotions, styles)."""
        out = []
        for facet in FACETS:
            by_name = {s.label: s.score for s in self.facet(facet)}
            out += [by_name.get(lab.name, 0.0) for lab in load_vocabulary(facet)]
        return np.asarray(out, dtype=np.float32)


def label_names() -> list[str]:
    """Names matching :meth:`Understanding.label_vector`, as ``facet:label``."""
    return [str(LabelKey(facet, lab.name)) for facet in FACETS for lab in load_vocabulary(facet)]


class SemanticSpace:
    """Class-name and label embeddings in the text encoder's space (built once, cached on disk)."""

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


def understand(signals: Signals, space: SemanticSpace) -> Understanding:
    """Score every label of every facet for one clip; see the module docstring for the method."""
    modal: dict[str, tuple[np.ndarray, float, str]] = {}  # name -> (vector, weight, evidence prefix)
    image_top = audio_top = None
    if signals.image_probs is not None:
        vec, image_top = space.conse(signals.image_probs, "image")
        modal["frames"] = (vec, 1.0, "frames")
    if signals.audio_scores is not None and (signals.audio is None or signals.audio.silence_fraction < 0.95):
        vec, audio_top = space.conse(signals.audio_scores, "audio")
        modal["sound"] = (vec, 1.0, "sound")
    if signals.text_vec is not None and np.any(signals.text_vec):
        modal["text"] = (signals.text_vec, 1.0, "title/description")
    if signals.transcript_vec is not None and np.any(signals.transcript_vec):
        modal["transcript"] = (signals.transcript_vec, 0.8, "transcript")

    valence, arousal, va_evidence = valence_arousal(signals, space.audio_index)
    rule_values = {name: fn(signals) for name, fn in RULES.items()}
    facets: dict[str, list[LabelScore]] = {}
    for facet in FACETS:
        labels, label_emb = space.labels[facet], space.label_emb[facet]
        sims = {m: label_emb @ v for m, (v, _, _) in modal.items()}  # each (n_labels,)
        total_w = sum(w for _, w, _ in modal.values())
        fused_cos = (sum(w * sims[m] for m, (_, w, _) in modal.items()) / total_w
                     if total_w else np.zeros(len(labels), np.float32))  # (n_labels,)
        scored = []
        for j, lab in enumerate(labels):
            evidence: list[tuple[float, str]] = []
            cos = fused_cos[j]
            # Relative to the facet's mean: every music clip is somewhat close to every music
            # style; what tells styles apart is how much closer than average a label is.
            s_sem = float(np.clip((cos - max(SEM_FLOOR, fused_cos.mean())) / SEM_SPREAD, 0.0, 1.0))
            if s_sem > 0:
                best_m = max(modal, key=lambda m: sims[m][j])
                evidence.append((s_sem, _semantic_evidence(best_m, sims[best_m][j], j, facet, space,
                                                           signals, image_top, audio_top)))
            # Several cues of one kind are not independent evidence: take the strongest of each
            # kind (AudioSet classes, descriptor rules), then combine kinds by noisy-OR.
            s_audioset = s_rule = 0.0
            if signals.audio_peak is not None:
                for cue in lab.audioset_cues:
                    i = space.audio_index.get(cue)
                    if i is not None and signals.audio_peak[i] >= 0.05:
                        val = float(signals.audio_peak[i])
                        s_audioset = max(s_audioset, val)
                        evidence.append((val, f"AudioSet {cue} {val:.2f}"))
            for rule in lab.rules:
                hit = rule_values.get(rule)
                if hit is not None:
                    val = RULE_WEIGHT * hit[0]
                    s_rule = max(s_rule, val)
                    evidence.append((val, hit[1]))
            s_cue = 1 - (1 - s_audioset) * (1 - s_rule)
            s_va = 0.0
            if lab.valence is not None and va_evidence:
                d2 = (valence - lab.valence) ** 2 + (arousal - lab.arousal) ** 2
                s_va = VA_WEIGHT * float(np.exp(-d2 / (2 * VA_SIGMA**2)))
                if s_va > 0.1:
                    evidence.append((s_va, f"valence {valence:+.2f}, arousal {arousal:+.2f}"))
            score = 1 - (1 - s_sem) * (1 - s_cue) * (1 - s_va)
            evidence.sort(key=lambda e: -e[0])
            scored.append(LabelScore(lab.name, float(np.clip(score, 0, 1)), tuple(e for _, e in evidence[:4])))
        facets[facet] = sorted(scored, key=lambda s: -s.score)

    fused = sum((w * v for v, w, _ in modal.values()), np.zeros(384, np.float32))
    norm = np.linalg.norm(fused)
    return Understanding(
        themes=facets["themes"], emotions=facets["emotions"], styles=facets["styles"],
        valence=valence, arousal=arousal, va_evidence=va_evidence,
        semantic=(fused / norm if norm > 0 else fused).astype(np.float32),
        modality_vectors={m: v for m, (v, _, _) in modal.items()})


def _semantic_evidence(modality, cos, j, facet, space, signals, image_top, audio_top) -> str:
    """Name the classes that carried a label's semantic match, e.g. "sound: Rain 0.62 (cos 0.48)"."""
    label_vec = space.label_emb[facet][j]
    if modality == "frames" and image_top is not None:
        contrib = signals.image_probs[image_top] * (space.image_emb[image_top] @ label_vec)
        i = image_top[int(np.argmax(contrib))]
        return f"frames: ImageNet {space.image_names[i]} {signals.image_probs[i]:.2f} (cos {cos:.2f})"
    if modality == "sound" and audio_top is not None:
        contrib = signals.audio_scores[audio_top] * (space.audio_emb[audio_top] @ label_vec)
        i = audio_top[int(np.argmax(contrib))]
        return f"sound: AudioSet {space.audio_names[i]} {signals.audio_scores[i]:.2f} (cos {cos:.2f})"
    return f"{'title/description' if modality == 'text' else modality} text match (cos {cos:.2f})"


# --- descriptor rules: name -> fn(signals) -> (strength in [0, 1], evidence) or None -------------

def _clip01(x: float) -> float:
    return float(np.clip(x, 0.0, 1.0))


def _has_pulse(a: AudioDescriptors) -> bool:
    return a.tempo_bpm > 0 and a.beat_strength > 1.3


def _music_tempo(s: Signals) -> AudioDescriptors | None:
    """The audio descriptors when a musical tempo is meaningful (a pulse, and not speech)."""
    a = s.audio
    return a if a is not None and _has_pulse(a) and s.speech_fraction < 0.4 else None


def _rule_fast_tempo(s: Signals):
    a = _music_tempo(s)
    if a and a.tempo_bpm >= 115:
        return _clip01((a.tempo_bpm - 105) / 50), f"{a.tempo_bpm:.0f} BPM"
    return None


def _rule_slow_tempo(s: Signals):
    a = _music_tempo(s)
    if a and a.tempo_bpm <= 85:
        return _clip01((95 - a.tempo_bpm) / 40), f"{a.tempo_bpm:.0f} BPM"
    a = s.audio
    if a and a.onset_rate_hz < 1.0 and a.silence_fraction < 0.9 and s.speech_fraction < 0.4:
        return 0.6, f"few onsets ({a.onset_rate_hz:.1f}/s)"
    return None


def _rule_loud(s: Signals):
    a = s.audio
    if a and a.rms_db > -22:
        return _clip01((a.rms_db + 26) / 12), f"loud ({a.rms_db:.0f} dBFS)"
    return None


def _rule_quiet(s: Signals):
    a = s.audio
    if a and -60 < a.rms_db < -32:
        return _clip01((-28 - a.rms_db) / 12), f"quiet ({a.rms_db:.0f} dBFS)"
    return None


def _rule_mode(mode: str):
    def rule(s: Signals):
        a = s.audio
        if a and a.mode == mode and a.key_confidence > 0.5 and s.speech_fraction < 0.5:
            return _clip01((a.key_confidence - 0.4) / 0.5), f"{a.key} {mode} (r {a.key_confidence:.2f})"
        return None
    return rule


def _rule_speech(s: Signals):
    if s.speech_fraction > 0.4:
        return _clip01(s.speech_fraction), f"speech in {100 * s.speech_fraction:.0f}% of the sound"
    return None


def _rule_sparse(s: Signals):
    a = s.audio
    if a and a.onset_rate_hz < 2.0 and a.spectral_contrast_db > 20 and s.speech_fraction < 0.4:
        return 0.6, f"sparse sound ({a.onset_rate_hz:.1f} onsets/s)"
    return None


def _rule_high_motion(s: Signals):
    v = s.visual
    if v and v.motion > 0.04:
        return _clip01((v.motion - 0.03) / 0.07), f"high motion ({v.motion:.3f})"
    return None


def _rule_low_motion(s: Signals):
    v = s.visual
    if v and v.motion < 0.02 and v.cuts_per_min < 4:
        return _clip01((0.03 - v.motion) / 0.03), f"little motion ({v.motion:.3f})"
    return None


def _rule_many_cuts(s: Signals):
    v = s.visual
    if v and v.cuts_per_min > 8:
        return _clip01(v.cuts_per_min / 30), f"{v.cuts_per_min:.0f} cuts/min"
    return None


def _rule_bright(s: Signals):
    v = s.visual
    if v and v.brightness > 0.55:
        return _clip01((v.brightness - 0.5) / 0.3), f"bright frames ({v.brightness:.2f})"
    return None


def _rule_dark(s: Signals):
    v = s.visual
    if v and v.brightness < 0.3:
        return _clip01((0.35 - v.brightness) / 0.25), f"dark frames (brightness {v.brightness:.2f})"
    return None


def _rule_colourful(s: Signals):
    v = s.visual
    if v and v.colourfulness > 0.4:
        return _clip01((v.colourfulness - 0.3) / 0.4), f"colourful (colourfulness {v.colourfulness:.2f})"
    return None


RULES = {
    "fast_tempo": _rule_fast_tempo, "slow_tempo": _rule_slow_tempo, "loud": _rule_loud,
    "quiet": _rule_quiet, "major": _rule_mode("major"), "minor": _rule_mode("minor"),
    "speech": _rule_speech, "sparse": _rule_sparse, "high_motion": _rule_high_motion,
    "low_motion": _rule_low_motion, "many_cuts": _rule_many_cuts, "bright": _rule_bright,
    "dark": _rule_dark, "colourful": _rule_colourful,
}

# AudioSet music moods as (valence, arousal) directions.
_MOOD_VA = {"Happy music": (0.8, 0.4), "Music for children": (0.6, 0.3), "Sad music": (-0.8, -0.4),
            "Tender music": (0.5, -0.5), "Exciting music": (0.4, 0.8), "Angry music": (-0.7, 0.8),
            "Scary music": (-0.8, 0.5)}


def valence_arousal(s: Signals, audio_index: dict[str, int]) -> tuple[float, float, list[str]]:
    """Clip's (valence, arousal) in [-1, 1]^2 as a weighted mean of cues, and the cues used.

    ``audio_index`` maps AudioSet class names to their index in ``s.audio_peak``."""
    val: list[tuple[float, float, str]] = []  # (value, weight, evidence)
    aro: list[tuple[float, float, str]] = []
    a, v = s.audio, s.visual
    if a is not None and a.silence_fraction < 0.95:
        aro.append((np.clip((a.rms_db + 30) / 12, -1, 1), 1.0, f"level {a.rms_db:.0f} dBFS"))
        aro.append((np.clip((a.onset_rate_hz - 2.5) / 2.5, -1, 1), 0.7, f"{a.onset_rate_hz:.1f} onsets/s"))
        aro.append((np.clip((a.spectral_centroid_hz - 1800) / 1500, -1, 1), 0.4,
                    f"centroid {a.spectral_centroid_hz:.0f} Hz"))
        if _music_tempo(s):
            aro.append((np.clip((a.tempo_bpm - 105) / 45, -1, 1), 1.0, f"{a.tempo_bpm:.0f} BPM"))
        if a.key_confidence > 0.5 and s.speech_fraction < 0.5:
            val.append((0.5 if a.mode == "major" else -0.5, a.key_confidence, f"{a.key} {a.mode}"))
    for name, (mv, ma) in _MOOD_VA.items():
        i = audio_index.get(name)
        p = float(s.audio_peak[i]) if i is not None and s.audio_peak is not None else 0.0
        if p >= 0.05:
            w = 3.0 * p
            val.append((mv, w, f"AudioSet {name} {p:.2f}"))
            aro.append((ma, w, f"AudioSet {name} {p:.2f}"))
    if s.text_sentiment is not None and abs(s.text_sentiment) > 0.05:
        val.append((s.text_sentiment, 0.8, f"text sentiment {s.text_sentiment:+.2f}"))
    if v is not None:
        val.append((np.clip((v.brightness - 0.45) / 0.3, -1, 1), 0.5, f"brightness {v.brightness:.2f}"))
        val.append((np.clip((v.saturation - 0.3) / 0.3, -1, 1), 0.4, f"saturation {v.saturation:.2f}"))
        aro.append((np.clip((v.motion - 0.03) / 0.04, -1, 1), 0.8, f"motion {v.motion:.3f}"))
        aro.append((np.clip((v.cuts_per_min - 6) / 12, -1, 1), 0.4, f"{v.cuts_per_min:.0f} cuts/min"))

    def mean(items):
        w = sum(x[1] for x in items)
        return float(sum(x[0] * x[1] for x in items) / w) if w > 0 else 0.0

    evidence = [e for _, _, e in sorted(val + aro, key=lambda x: -x[1] * abs(x[0]))]
    return mean(val), mean(aro), list(dict.fromkeys(evidence))[:5]

