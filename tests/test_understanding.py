"""recsys.understanding.label_scoring mechanics with a fake text encoder (fast), beside the real-model tests
in test_analysis.py. The fake embeds a text as the normalised bag of its lower-case words, so
"rain" the AudioSet class and the label that mentions rain really are close."""
from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from recsys.media.audio_descriptors import describe_audio
from recsys.understanding.label_scoring import (FACETS, Signals, SemanticSpace, label_names, load_vocabulary,
                                  understand)
from benchmarks.factories import SR, click_track


class BagOfWordsEncoder:
    name = "bag-of-words"

    def encode(self, texts):
        out = np.zeros((len(texts), 384), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                out[i, zlib.crc32(w.encode()) % 384] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, n, out=np.zeros_like(out), where=n > 0)

    def encode_cached(self, texts, *, tag):
        return self.encode(texts)


AUDIO_NAMES = ["Music", "Speech", "Rain", "Sad music", "Happy music", "Exciting music", "Ocean"]
IMAGE_NAMES = ["tabby cat", "seashore", "sports car", "kite"]


@pytest.fixture(scope="module")
def space():
    return SemanticSpace(BagOfWordsEncoder(), IMAGE_NAMES, AUDIO_NAMES)


def _onehot(names, which, value=0.9):
    v = np.full(len(names), 0.01, np.float32)
    v[names.index(which)] = value
    return v


def test_vocabularies_have_at_least_12_described_labels():
    for facet in FACETS:
        labels = load_vocabulary(facet)
        assert len(labels) >= 12
        assert all(lab.description and len(lab.description.split()) >= 4 for lab in labels)
    assert all(lab.valence is not None for lab in load_vocabulary("emotions"))


def test_scores_are_sorted_in_unit_interval_with_evidence(space):
    s = Signals(audio_scores=_onehot(AUDIO_NAMES, "Rain"), audio_peak=_onehot(AUDIO_NAMES, "Rain"))
    u = understand(s, space)
    for facet in FACETS:
        scores = [x.score for x in u.facet(facet)]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= x <= 1.0 for x in scores)
    top = u.themes[0]
    assert top.label == "weather" and any("Rain" in e for e in top.evidence)
    assert u.label_vector().shape == (len(label_names()),)


def test_direct_mood_cue_drives_emotion_and_valence(space):
    sad = Signals(audio_scores=_onehot(AUDIO_NAMES, "Sad music"), audio_peak=_onehot(AUDIO_NAMES, "Sad music"))
    happy = Signals(audio_scores=_onehot(AUDIO_NAMES, "Happy music"), audio_peak=_onehot(AUDIO_NAMES, "Happy music"))
    us, uh = understand(sad, space), understand(happy, space)
    assert us.emotions[0].label == "sad" and "AudioSet Sad music 0.90" in us.emotions[0].evidence
    assert uh.emotions[0].label == "joyful"
    assert us.valence < 0 < uh.valence


def test_fast_loud_pulse_raises_arousal(space):
    fast = describe_audio(click_track(150, seconds=8.0) * 1.2, sr=SR)
    slow = describe_audio(click_track(60, seconds=8.0) * 0.05, sr=SR)
    uf = understand(Signals(audio=fast), space)
    us = understand(Signals(audio=slow), space)
    assert uf.arousal > us.arousal
    excited = next(x for x in uf.emotions if x.label == "excited")
    assert any("BPM" in e for e in excited.evidence)


def test_nothing_known_gives_zero_vector_and_low_scores(space):
    u = understand(Signals(), space)
    assert not np.any(u.semantic)
    assert max(x.score for x in u.themes) == 0.0
