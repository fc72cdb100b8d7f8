"""recsys.media.audio_descriptors on generated audio with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.factories import SR, click_track, tone, white_noise
from recsys.media.audio_descriptors import describe_audio, estimate_key


@pytest.mark.parametrize("bpm", [70, 90, 110, 120, 135, 150, 170])
def test_click_track_tempo_within_4_bpm(bpm):
    d = describe_audio(click_track(bpm, seconds=15.0), sr=SR)
    assert d.tempo_bpm == pytest.approx(bpm, abs=4.0)
    assert d.beat_strength > 1.3, "a click track has a strong pulse"
    assert d.onset_rate_hz == pytest.approx(bpm / 60, rel=0.15)


def test_tone_noise_and_silence_are_ordered():
    t = describe_audio(tone(440, seconds=4.0), sr=SR)
    n = describe_audio(white_noise(seconds=4.0), sr=SR)
    s = describe_audio(np.zeros(SR * 4, np.float32), sr=SR)
    assert t.spectral_centroid_hz < 1000 < 3000 < n.spectral_centroid_hz
    assert n.zero_crossing_rate > t.zero_crossing_rate
    assert s.silence_fraction == 1.0 and t.silence_fraction < 0.05
    assert t.rms_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=1.0)
    louder = describe_audio(2 * tone(440, seconds=4.0, amp=0.4), sr=SR)
    assert louder.rms_db > t.rms_db - 1e-6


def _progression(chords, seconds_each=1.5):
    """Chords (lists of Hz) played one after another, with octave doubling for robust chroma."""
    parts = []
    for freqs in chords:
        y = sum(tone(f, seconds=seconds_each, amp=0.2) + tone(2 * f, seconds=seconds_each, amp=0.1)
                for f in freqs)
        parts.append(y)
    return np.concatenate(parts).astype(np.float32)


C, D, E, F, G, A, B, GS = 261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 415.30


def test_key_and_mode_of_cadences():
    # I-IV-V-I in C major; i-iv-V-i in A minor (the leading tone G# marks the minor key).
    c_major = describe_audio(_progression([[C, E, G], [F, A, 2 * C], [G, B, 2 * D], [C, E, G]]), sr=SR)
    a_minor = describe_audio(_progression([[A / 2, C, E], [D, F, A], [E, GS, B], [A / 2, C, E]]), sr=SR)
    assert (c_major.key, c_major.mode) == ("C", "major")
    assert (a_minor.key, a_minor.mode) == ("A", "minor")


def test_estimate_key_handles_silence():
    assert estimate_key(np.zeros(12)) == ("C", "major", 0.0)


def test_shapes_and_serialisation():
    d = describe_audio(white_noise(seconds=1.0), sr=SR)
    assert len(d.mfcc_mean) == 13 and len(d.mfcc_std) == 13 and len(d.chroma_mean) == 12
    out = d.to_dict()
    assert isinstance(out["mfcc_mean"], list) and isinstance(out["tempo_bpm"], float)
