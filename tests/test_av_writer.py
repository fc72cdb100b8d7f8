"""benchmarks.av_writer.write_av: the one PyAV writer behind the bench's, benchmarks' and tests' clips."""
from __future__ import annotations

import io

import av
import numpy as np
import pytest

from benchmarks.factories import moving_square_frames, tone
from benchmarks.av_writer import write_av
from recsys.errors import ConfigError
from recsys.media.decode import decode


def _packets(data: bytes) -> list[tuple[str, float]]:
    """(stream type, time in s) of every packet with a time stamp, in file order."""
    with av.open(io.BytesIO(data)) as c:
        return [(p.stream.type, float(p.pts * p.time_base)) for p in c.demux() if p.pts is not None]


def test_video_and_mono_sound_round_trip_through_the_decoder():
    buf = io.BytesIO()
    write_av(buf, fmt="mp4", frames=moving_square_frames(n=30, size=(96, 64)), fps=10,
             audio=tone(440, seconds=3.0, sr=48000), sr=48000)
    m = decode(buf.getvalue(), name="clip.mp4")
    assert m.kind == "video" and m.duration_s == pytest.approx(3.0, abs=0.1)
    assert m.analysed_audio_s == pytest.approx(3.0, abs=0.1) and m.frames.shape[0] >= 2


def test_sound_is_interleaved_with_the_frames():
    buf = io.BytesIO()
    write_av(buf, fmt="matroska", frames=moving_square_frames(n=40, size=(64, 48)), fps=10,
             audio=tone(330, seconds=4.0, sr=48000), sr=48000)
    kinds = [k for k, _ in _packets(buf.getvalue())]
    first_audio = kinds.index("audio")
    last_video = len(kinds) - 1 - kinds[::-1].index("video")
    assert first_audio < last_video, "all sound after all frames: not interleaved"


def test_frames_from_a_generator_equal_frames_from_an_array():
    frames = moving_square_frames(n=12, size=(64, 48))
    a, b = io.BytesIO(), io.BytesIO()
    write_av(a, fmt="matroska", frames=frames, fps=6)
    write_av(b, fmt="matroska", frames=(f for f in frames), fps=6)
    assert [t for _, t in _packets(a.getvalue())] == [t for _, t in _packets(b.getvalue())]
    assert len(_packets(a.getvalue())) == 12


def test_stereo_sound_only():
    y = np.stack([tone(440, seconds=2.0, sr=44100), tone(660, seconds=2.0, sr=44100)], axis=1)
    buf = io.BytesIO()
    write_av(buf, fmt="adts", audio=y, sr=44100)
    with av.open(io.BytesIO(buf.getvalue())) as c:
        (stream,) = c.streams
        assert stream.type == "audio" and stream.codec_context.layout.name == "stereo"
    assert decode(buf.getvalue(), name="x.aac").kind == "audio"


def test_start_s_shifts_every_time_stamp():
    buf = io.BytesIO()
    write_av(buf, fmt="mpegts", frames=moving_square_frames(n=20, size=(64, 48)), fps=10,
             audio=tone(330, seconds=2.0, sr=48000), start_s=600.0)
    times = [t for _, t in _packets(buf.getvalue())]
    assert min(times) >= 599.5 and max(times) < 603.0


def test_zero_frames_still_write_a_header():
    buf = io.BytesIO()
    write_av(buf, fmt="matroska", frames=np.zeros((0, 48, 64, 3), np.uint8), fps=10)
    data = buf.getvalue()
    # An EBML header and a track entry, no cluster (the decoder then calls the file truncated:
    # benchmarks/bad_inputs.py's "zero-length MKV" case).
    assert data.startswith(b"\x1a\x45\xdf\xa3") and b"V_MPEG4/ISO/AVC" in data


@pytest.mark.parametrize("kwargs, message", [
    ({"frames": iter(())}, "empty iterable"),
    ({"audio": np.zeros((100, 6), np.float32)}, r"\(n,\) or \(n, 2\)"),
])
def test_unusable_arguments_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        write_av(io.BytesIO(), fmt="matroska", **kwargs)


def test_faststart_into_a_file_object_puts_the_index_first_and_leaves_no_file(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    buf = io.BytesIO()
    write_av(buf, fmt="mp4", frames=moving_square_frames(n=20, size=(64, 48)), fps=10,
             audio=tone(330, seconds=2.0, sr=48000), container_options={"movflags": "+faststart"})
    data = buf.getvalue()
    assert 0 <= data.find(b"moov") < data.find(b"mdat"), "faststart: the index comes before the media"
    assert decode(data, name="fast.mp4").duration_s == pytest.approx(2.0, abs=0.1)
    assert list(tmp_path.iterdir()) == []
