"""recsys.understanding.music_genre: the genre of a clip with music as a mixture of each source's
distribution over the music styles."""
from __future__ import annotations

import numpy as np

from recsys.understanding import music_genre
from recsys.understanding.label_scoring import (
    MUSIC_STYLES,
    ClassifierMap,
    load_vocabulary,
)


def _audioset_view(**probs):
    names = ["Music", "Video game music", "Electronic music", "Jazz", "Speech"]
    p = np.array([probs.get(n.replace(" ", "_"), 0.0) for n in names], np.float32)
    cmap = ClassifierMap("audioset", names)
    labels = [lab.name for lab in load_vocabulary("styles")]
    cols = np.array([j for j, n in enumerate(labels) if n in MUSIC_STYLES])
    dist, text = music_genre.audioset_distribution(p, names, cmap.weights["styles"], cols)
    return {labels[c]: float(d) for c, d in zip(cols, dist)}, {labels[c]: t for c, t in zip(cols, text)}


def test_audioset_genres_count_by_their_share_not_their_level():
    """YAMNet scores genres low; a 0.2 "Video game music" that is most of the clip's genre mass is
    the clip's genre, whatever "Music" and "Speech" say."""
    dist, text = _audioset_view(Music=0.9, Video_game_music=0.2, Electronic_music=0.05, Speech=0.3)
    assert max(dist, key=dist.get) == "game_music"
    assert abs(sum(dist.values()) - 1.0) < 1e-5
    assert "Video game music 0.20" in text["game_music"]


def test_no_genre_mass_no_vote():
    dist, _ = _audioset_view(Music=0.9, Speech=0.5, Jazz=0.01)
    assert sum(dist.values()) == 0.0


def test_mixture_weights_sources_and_skips_empty_ones():
    a = np.array([1.0, 0.0, 0.0], np.float32)
    b = np.array([0.0, 1.0, 0.0], np.float32)
    m = music_genre.mixture({"audioset": a, "musicnn_msd": b, "musicnn_mtt": np.zeros(3, np.float32)})
    w_a, w_b = music_genre.SOURCE_WEIGHT["audioset"], music_genre.SOURCE_WEIGHT["musicnn_msd"]
    assert np.allclose(m, [w_a / (w_a + w_b), w_b / (w_a + w_b), 0.0])
    assert np.allclose(music_genre.normalised(np.array([0.2, 0.6, 0.0])), [0.25, 0.75, 0.0])
    assert not music_genre.normalised(np.zeros(3)).any()
