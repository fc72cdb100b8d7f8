"""recsys.media.preview: originals that browsers play are returned untouched; the rest are converted."""
from __future__ import annotations

import io

import numpy as np
import pytest

from benchmarks.factories import moving_square_frames, tone, write_video, write_wav
from recsys.errors import MediaError, MediaTimeoutError
from recsys.media.preview import browser_safe


def _streams(data: bytes) -> tuple[str, dict[str, tuple[str, int, int]], float]:
    """(format name, {type: (codec, width, height)}, duration s) of an encoded clip."""
    import av

    with av.open(io.BytesIO(data)) as c:
        streams = {s.type: (s.codec_context.name, getattr(s.codec_context, "width", 0) or 0,
                            getattr(s.codec_context, "height", 0) or 0) for s in c.streams}
        return c.format.name, streams, (c.duration or 0) / 1e6


def _decodes(data: bytes) -> int:
    """Number of decoded frames (video) or samples (audio): the output really plays."""
    import av

    with av.open(io.BytesIO(data)) as c:
        if c.streams.video:
            return sum(1 for _ in c.decode(video=0))
        return sum(f.samples for f in c.decode(audio=0))


@pytest.mark.parametrize("ext,mime", [(".mp4", "video/mp4"), (".webm", "video/webm")])
def test_safe_video_returned_untouched(tmp_path, ext, mime):
    path = write_video(tmp_path / f"clip{ext}", moving_square_frames(n=10), audio=tone(440, seconds=1.0, sr=48000))
    data, got = browser_safe(path)
    assert got == mime
    assert data == path.read_bytes()


def test_safe_wav_and_bytes_input(tmp_path):
    path = write_wav(tmp_path / "a.wav", tone(440, seconds=1.0))
    data, mime = browser_safe(path.read_bytes(), name="upload.wav")
    assert mime == "audio/wav" and data == path.read_bytes()


@pytest.mark.parametrize("ext,codec", [(".avi", None), (".mkv", "libx264")])
def test_unsafe_video_becomes_h264_mp4(tmp_path, ext, codec):
    frames = moving_square_frames(n=20, size=(96, 64))
    path = write_video(tmp_path / f"clip{ext}", frames, fps=10, audio=tone(330, seconds=2.0, sr=48000), codec=codec)
    data, mime = browser_safe(path)
    assert mime == "video/mp4"
    fmt, streams, _ = _streams(data)
    assert "mp4" in fmt and streams["video"][0] == "h264"
    assert _decodes(data) >= 10


def test_large_video_is_downscaled(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (6, 720, 1280, 3), dtype=np.uint8)
    path = write_video(tmp_path / "big.avi", frames, fps=5)
    data, mime = browser_safe(path, max_side=640)
    _, streams, _ = _streams(data)
    codec, w, h = streams["video"]
    assert mime == "video/mp4" and codec == "h264" and max(w, h) <= 640 and w % 2 == 0 and h % 2 == 0


def test_gif_becomes_mp4(tmp_path):
    from PIL import Image

    frames = [Image.fromarray(f) for f in moving_square_frames(n=8)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    data, mime = browser_safe(buf.getvalue(), name="anim.gif")
    assert mime == "video/mp4"
    assert _streams(data)[1]["video"][0] == "h264"
    assert _decodes(data) >= 4


def test_flac_becomes_ogg_opus_and_is_bounded(tmp_path):
    import soundfile as sf

    path = tmp_path / "long.flac"
    sf.write(str(path), tone(220, seconds=6.0), 16000)
    data, mime = browser_safe(path, max_seconds=2.0)
    fmt, streams, _ = _streams(data)
    assert mime == "audio/ogg" and fmt == "ogg" and streams["audio"][0] == "opus"
    n = _decodes(data)
    assert 1.5 * 48000 <= n <= 2.2 * 48000


def test_24bit_wav_is_transcoded(tmp_path):
    import soundfile as sf

    path = tmp_path / "deep.wav"
    sf.write(str(path), tone(440, seconds=1.0), 16000, subtype="PCM_24")
    data, mime = browser_safe(path)
    assert mime == "audio/ogg" and data != path.read_bytes()


@pytest.mark.parametrize("payload", [b"", b"hello, not a clip" * 20, b"\x89PNG\r\n\x1a\n" + b"\0" * 100])
def test_bad_input_raises_media_error(payload):
    with pytest.raises(MediaError):
        browser_safe(payload, name="x.mp4")


def test_missing_path_raises(tmp_path):
    with pytest.raises(MediaError):
        browser_safe(tmp_path / "nope.mp4")


def test_timeout_is_a_media_error(tmp_path):
    path = write_video(tmp_path / "clip.avi", moving_square_frames(n=20), fps=10)
    with pytest.raises(MediaTimeoutError):
        browser_safe(path, timeout_s=0.0)
