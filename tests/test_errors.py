"""Every way a real file fails maps to a plain sentence (what is wrong) and advice (what to try),
from one table in recsys/errors.py; the inputs below are real files that fail for real."""
from __future__ import annotations

import pytest

from benchmarks.bad_inputs import (
    over_max_pixels_mkv,
    png_bytes,
    subtitle_only_mkv,
    unknown_codec_mka,
    wav_bytes,
)
from benchmarks.factories import tone
from recsys.errors import MediaError, RecsysError, UnknownIdError, plain_message
from recsys.media.decode import decode

CASES = [
    ("empty.mp4", lambda: b"", "empty"),
    ("notes.mp4", lambda: b"just a text file renamed\n" * 50, "not an audio or video file"),
    ("picture.mp4", png_bytes, "not an audio or video file"),
    ("unknown.mka", unknown_codec_mka, "codec is not supported"),
    ("huge.mkv", over_max_pixels_mkv, "picture is too large"),
    ("subs.mkv", subtitle_only_mkv, "no audio or video track"),
    ("blip.wav", lambda: wav_bytes(tone(440, seconds=0.004)), "too short"),
    ("cut.wav", lambda: wav_bytes(tone(440, seconds=2.0))[:20000], "damaged or cut off"),
]


@pytest.mark.parametrize("name,make,words", CASES, ids=[c[0] for c in CASES])
def test_real_failures_read_as_plain_words_with_advice(name, make, words):
    with pytest.raises(MediaError) as info:
        decode(make(), name=name)
    problem, advice = plain_message(info.value)
    assert words in problem, (type(info.value).__name__, problem)
    assert advice and "corrupt" not in problem.lower()
    assert "\n" not in problem + advice


def test_other_errors_keep_their_own_message():
    assert plain_message(UnknownIdError("unknown item id 'x'")) == ("unknown item id 'x'", "")
    assert plain_message(RecsysError("bad\nthing")) == ("bad thing", "")
