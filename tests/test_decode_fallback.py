"""Decoding falls back to libsndfile when FFmpeg refuses an audio file, and very short one-shots
are analysed (padded, flagged low confidence) instead of refused."""
from __future__ import annotations

import io

import numpy as np
import pytest

from recsys.errors import EmptyMediaError, UnsupportedMediaError
from recsys.media.decode import decode

sf = pytest.importorskip("soundfile")
av = pytest.importorskip("av")


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)


def _written(fmt: str, subtype: str, seconds: float = 2.0, rate: int = 22050) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, _tone(seconds, rate), rate, format=fmt, subtype=subtype)
    return buf.getvalue()


# Formats libsndfile writes and FFmpeg's demuxers do not read (checked below, not assumed).
FFMPEG_REFUSES = [("MAT5", "PCM_16", ".mat"), ("HTK", "PCM_16", ".htk"), ("XI", "DPCM_16", ".xi"),
                  ("WVE", "ALAW", ".wve"), ("SDS", "PCM_16", ".sds")]


def _ffmpeg_reads(data: bytes) -> bool:
    try:
        with av.open(io.BytesIO(data)) as c:
            return sum(f.samples for f in c.decode(audio=0)) > 0
    except (av.error.FFmpegError, IndexError, ValueError):
        return False


@pytest.mark.parametrize("fmt,subtype,ext", FFMPEG_REFUSES)
def test_libsndfile_fallback_reads_what_ffmpeg_refuses(fmt, subtype, ext):
    # Psion WVE is 8 kHz only, XI 44.1 kHz; HTK stores the sample period in 100 ns units.
    rate = {"WVE": 8000, "XI": 44100, "HTK": 16000}.get(fmt, 22050)
    data = _written(fmt, subtype, seconds=2.0, rate=rate)
    assert not _ffmpeg_reads(data), f"FFmpeg reads {fmt} now: pick another format for this test"
    y, sr = sf.read(io.BytesIO(data))
    assert sr == rate and len(y) > 0
    m = decode(data, name=f"clip{ext}")
    assert m.kind == "audio" and m.container.endswith("(libsndfile)")
    assert m.duration_s == pytest.approx(2.0, abs=0.02)
    assert m.audio.dtype == np.float32 and abs(m.audio.size - 2 * m.sample_rate) < 0.02 * m.sample_rate
    # The tone survives the mono mix and the resampling: its energy is at 440 Hz.
    spectrum = np.abs(np.fft.rfft(m.audio))
    assert abs(np.fft.rfftfreq(m.audio.size, 1 / m.sample_rate)[spectrum.argmax()] - 440) < 5


def test_long_sndfile_clip_is_read_in_windows():
    data = _written("MAT5", "PCM_16", seconds=70.0, rate=8000)
    m = decode(data, name="long.mat")
    assert m.duration_s == pytest.approx(70.0, abs=0.01)
    assert len(m.windows_s) == 3 and m.analysed_audio_s == pytest.approx(30.0, abs=0.05)


def test_text_and_garbage_still_refused():
    with pytest.raises(UnsupportedMediaError):
        decode(b"hello, this is not audio\n" * 40, name="notes.mp4")


@pytest.mark.parametrize("ms", [10, 40, 99])
def test_one_shots_from_10_ms_are_decoded_padded_and_flagged(ms):
    rate = 16000
    buf = io.BytesIO()
    sf.write(buf, _tone(ms / 1000, rate), rate, format="WAV", subtype="PCM_16")
    m = decode(buf.getvalue(), name="hit.wav")
    assert m.duration_s == pytest.approx(ms / 1000, abs=1e-3)  # the true length is kept
    assert m.audio.size >= int(0.1 * rate)                     # padded for the descriptors
    assert any("low confidence" in w for w in m.warnings)


def test_shorter_than_10_ms_refused():
    buf = io.BytesIO()
    sf.write(buf, _tone(0.004, 16000), 16000, format="WAV", subtype="PCM_16")
    with pytest.raises(EmptyMediaError):
        decode(buf.getvalue(), name="blip.wav")
