"""recsys.media.decode: decoding every supported container from paths and bytes, limits, typed errors."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from benchmarks.factories import SR, moving_square_frames, solid_frames, tone, write_video, write_wav
from recsys.errors import (CorruptMediaError, EmptyMediaError, MediaError, MediaTooLargeError,
                           UnsupportedMediaError)
from recsys.media.decode import MediaLimits, analysis_windows, decode


@pytest.mark.parametrize("ext,fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG")])
def test_soundfile_formats_decode_to_16k_mono(tmp_path, ext, fmt):
    y = tone(440, seconds=2.0, sr=44100)
    path = tmp_path / f"tone{ext}"
    sf.write(str(path), np.stack([y, y], axis=1), 44100, format=fmt)  # stereo in, mono out
    m = decode(path)
    assert m.kind == "audio" and m.sample_rate == 16000
    assert m.audio.ndim == 1 and m.audio.dtype == np.float32
    assert m.duration_s == pytest.approx(2.0, abs=0.05)
    assert m.analysed_audio_s == pytest.approx(2.0, abs=0.1)
    # The tone survives resampling: its spectrum peaks at 440 Hz.
    spec = np.abs(np.fft.rfft(m.audio))
    assert np.fft.rfftfreq(m.audio.size, 1 / 16000)[spec.argmax()] == pytest.approx(440, abs=3)


@pytest.mark.parametrize("ext", [".mp3", ".m4a"])
def test_compressed_audio_formats(tmp_path, ext):
    import av

    path = tmp_path / f"tone{ext}"
    y = tone(330, seconds=2.0, sr=44100)
    codec = "libmp3lame" if ext == ".mp3" else "aac"
    with av.open(str(path), "w", format="mp3" if ext == ".mp3" else "mp4") as out:
        st = out.add_stream(codec, rate=44100)
        st.layout = "mono"
        for i in range(0, y.size, 1152):
            fr = av.AudioFrame.from_ndarray(y[None, i:i + 1152].copy(), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 44100, i
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    m = decode(path)
    assert m.kind == "audio" and m.analysed_audio_s == pytest.approx(2.0, abs=0.15)


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".mkv", ".avi", ".mov"])
def test_video_containers_with_sound(tmp_path, ext):
    frames = moving_square_frames(n=20)
    path = write_video(tmp_path / f"clip{ext}", frames, fps=10, audio=tone(440, seconds=2.0, sr=48000), sr=48000)
    m = decode(path)
    assert m.kind == "video" and m.has_audio
    assert m.duration_s == pytest.approx(2.0, abs=0.2)
    assert 1 <= m.frames.shape[0] <= 12 and m.frames.shape[-1] == 3 and m.frames.dtype == np.uint8
    assert np.all(np.diff(m.frame_times_s) > 0), "frames are evenly spread, in order"
    assert m.frame_times_s[0] < 0.5 and m.frame_times_s[-1] > 1.4, "sampled across the whole clip"


def test_gif_and_video_without_audio(tmp_path):
    import av

    path = tmp_path / "anim.gif"
    frames = moving_square_frames(n=10)
    with av.open(str(path), "w") as out:
        st = out.add_stream("gif", rate=5)
        st.width, st.height, st.pix_fmt = 96, 64, "rgb8"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="rgb8")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    m = decode(path)
    assert m.kind == "video" and not m.has_audio and m.frames.shape[0] >= 1

    silent = write_video(tmp_path / "silent.mp4", frames, fps=10)
    m = decode(silent)
    assert m.kind == "video" and m.audio.size == 0 and m.thumbs.shape[0] >= 2


def test_bytes_and_file_objects_decode_like_paths(tmp_path):
    path = write_wav(tmp_path / "t.wav", tone(440, seconds=1.0))
    a = decode(path)
    b = decode(path.read_bytes(), name="t.wav")
    c = decode(io.BytesIO(path.read_bytes()), name="t.wav")
    np.testing.assert_allclose(a.audio, b.audio)
    np.testing.assert_allclose(a.audio, c.audio)


def test_frames_are_downscaled(tmp_path):
    frames = solid_frames((10, 200, 30), n=6, size=(640, 360))
    m = decode(write_video(tmp_path / "big.mp4", frames, fps=6), limits=MediaLimits(frame_short_side=128))
    assert m.frames.shape[1] == 128 and m.frames.shape[2] == pytest.approx(228, abs=2)
    assert m.frames[..., 1].mean() > 150, "colour survives decode and scaling"


def test_long_clip_is_analysed_in_windows_across_the_whole_clip(tmp_path):
    path = write_wav(tmp_path / "long.wav", tone(220, seconds=100.0, sr=8000), sr=8000)
    limits = MediaLimits(max_analysed_s=12.0, n_windows=3)
    m = decode(path, limits=limits)
    assert m.duration_s == pytest.approx(100.0, abs=0.1)
    assert m.analysed_audio_s == pytest.approx(12.0, abs=0.2)
    starts = [s for s, _ in m.windows_s]
    assert starts[0] < 20 and 40 < starts[1] < 60 and starts[2] > 75


def test_analysis_windows_cover_short_clips_whole():
    assert analysis_windows(10.0) == [(0.0, 10.0)]
    w = analysis_windows(600.0, MediaLimits(max_analysed_s=30, n_windows=3))
    assert len(w) == 3 and all(abs((e - s) - 10.0) < 1e-6 for s, e in w)


# --- bad input: typed errors, one-line messages ------------------------------------------------

def _png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(solid_frames((1, 2, 3), n=1)[0]).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("data,name,error", [
    (b"", "empty.mp3", EmptyMediaError),
    (bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8)), "random.mp4", MediaError),
    (b"just some text, not a song\n" * 200, "notes.mp3", UnsupportedMediaError),
    (_png_bytes(), "picture.mp4", UnsupportedMediaError),
])
def test_bad_bytes_raise_typed_one_line_errors(data, name, error):
    with pytest.raises(error) as info:
        decode(data, name=name)
    msg = str(info.value)
    assert "\n" not in msg and name in msg


def test_truncated_files(tmp_path):
    wav = write_wav(tmp_path / "t.wav", tone(440, seconds=4.0)).read_bytes()
    with pytest.raises((CorruptMediaError, EmptyMediaError)):
        decode(wav[: len(wav) // 3], name="cut.wav")
    mp4 = write_video(tmp_path / "v.mp4", moving_square_frames(n=30), fps=10).read_bytes()
    with pytest.raises(MediaError):
        decode(mp4[: len(mp4) // 2], name="cut.mp4")


def test_too_large_and_too_short(tmp_path):
    path = write_wav(tmp_path / "t.wav", tone(440, seconds=1.0))
    with pytest.raises(MediaTooLargeError):
        decode(path, limits=MediaLimits(max_bytes=1000))
    short = write_wav(tmp_path / "s.wav", tone(440, seconds=0.005))  # 10 ms and up are analysed
    with pytest.raises(EmptyMediaError):
        decode(short)


def test_missing_path_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        decode(tmp_path / "nope.wav")


def test_silent_audio_decodes(tmp_path):
    m = decode(write_wav(tmp_path / "silence.wav", np.zeros(SR * 2, np.float32)))
    assert m.kind == "audio" and m.audio.size == 2 * SR and not np.any(m.audio)


def test_thumbnails_are_kept_on_disk_and_remade_when_the_file_changes(tmp_path, monkeypatch):
    from benchmarks.factories import tone, write_wav
    from recsys.media import display

    clip = write_wav(tmp_path / "a.wav", tone(440, seconds=2.0))
    first = display.thumbnail_file(clip, folder=tmp_path / "thumbs")
    assert first.shape == (180, 320, 3) and len(list((tmp_path / "thumbs").glob("*.npy"))) == 1
    calls = []
    monkeypatch.setattr(display, "thumbnail_of", lambda *a, **k: calls.append(a) or first)
    np.testing.assert_array_equal(display.thumbnail_file(clip, folder=tmp_path / "thumbs"), first)
    assert not calls, "the second call reads the file"
    write_wav(clip, tone(880, seconds=3.0))   # a changed file is drawn again
    display.thumbnail_file(clip, folder=tmp_path / "thumbs")
    assert len(calls) == 1
