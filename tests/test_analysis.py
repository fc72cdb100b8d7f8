"""The whole analysis pipeline with the real pretrained models, and the `analyze` command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.factories import (
    click_track,
    moving_square_frames,
    tone,
    white_noise,
    write_video,
    write_wav,
)
from recsys.analysis.item_vector import block_layout, vector_dim

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def analyzer():
    from recsys.analysis.analyzer import AnalysisConfig, Analyzer

    return Analyzer(AnalysisConfig(transcribe="never"))


def test_audio_clip_analysis(analyzer, tmp_path):
    a = analyzer.analyze(write_wav(tmp_path / "clicks.wav", click_track(120, seconds=8.0)))
    assert a.kind == "audio" and a.duration_s == pytest.approx(8.0, abs=0.05)
    assert a.audio.tempo_bpm == pytest.approx(120, abs=4)
    assert a.embedding.shape == (vector_dim(),)
    assert np.linalg.norm(a.embedding) == pytest.approx(1.0, abs=1e-5)
    assert not np.any(a.blocks.visual), "an audio clip has no visual block"
    assert {"decode", "sound", "text", "understanding", "total"} <= set(a.timings_ms)
    for facet in ("themes", "emotions", "styles"):
        scores = [s.score for s in a.understanding.facet(facet)]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_video_with_sound_and_without(analyzer, tmp_path):
    frames = moving_square_frames(n=30)
    v = analyzer.analyze(write_video(tmp_path / "v.mp4", frames, fps=10, audio=tone(440, seconds=3.0, sr=48000), sr=48000))
    assert v.kind == "video" and v.visual is not None and v.audio is not None
    assert np.any(v.blocks.visual) and np.any(v.blocks.audio)
    assert len(v.top_image) == 5 and len(v.top_audio) == 5
    silent = analyzer.analyze(write_video(tmp_path / "s.webm", frames, fps=10))
    assert silent.audio is None and not np.any(silent.blocks.audio) and np.any(silent.blocks.visual)


def test_noise_is_recognised_as_noise(analyzer, tmp_path):
    a = analyzer.analyze(write_wav(tmp_path / "n.wav", white_noise(seconds=4.0)))
    top = [n for n, _ in a.top_audio[:3]]
    assert any(n in ("White noise", "Noise", "Static", "Pink noise") for n in top), top


def test_text_changes_the_text_block(analyzer, tmp_path):
    from recsys.analysis.analyzer import ClipMetadata

    path = write_wav(tmp_path / "t.wav", tone(440, seconds=2.0))
    a = analyzer.analyze(path, metadata=ClipMetadata(title="Rain on a tin roof", description="storm at night"))
    b = analyzer.analyze(path, metadata=ClipMetadata(title="Birthday party", description="kids laughing"))
    t = block_layout()["text"]
    assert float(a.embedding[t] @ b.embedding[t]) < 0.9
    assert a.understanding.score("themes", "weather") > b.understanding.score("themes", "weather")


def _run_cli(*args, timeout=600):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "recsys", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_cli_analyze_json_contract(tmp_path):
    good = write_wav(tmp_path / "clicks.wav", click_track(100, seconds=5.0))
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    proc = _run_cli("analyze", str(good), str(bad), "--json", "--transcribe", "never")
    assert proc.returncode == 2, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(lines) == 2, "one JSON object per file, nothing else on stdout"
    ok, err = lines
    for key in ("path", "kind", "duration_s", "themes", "emotions", "styles", "audio", "top_classes",
                "embedding", "timings_ms"):
        assert key in ok
    assert ok["kind"] == "audio" and ok["audio"]["tempo_bpm"] == pytest.approx(100, abs=4)
    assert all({"label", "score", "evidence"} <= set(x) for x in ok["themes"])
    assert np.linalg.norm(ok["embedding"]) == pytest.approx(1.0, abs=1e-3)
    assert err["path"] == str(bad) and "broken.mp3" in err["error"] and "Traceback" not in proc.stderr


def test_cli_analyze_text_summary_and_missing_file(tmp_path):
    good = write_wav(tmp_path / "tone.wav", tone(440, seconds=2.0))
    proc = _run_cli("analyze", str(good), "--transcribe", "never")
    assert proc.returncode == 0 and "themes" in proc.stdout and "timings" in proc.stdout
    proc = _run_cli("analyze", str(tmp_path / "missing.wav"), "--json")
    assert proc.returncode == 2 and "no such file" in json.loads(proc.stdout)["error"]
    assert "Traceback" not in proc.stderr


def test_cli_analyze_reads_a_file_ffmpeg_refuses_through_libsndfile(tmp_path):
    """The libsndfile fallback on the command line: a Psion WVE file (libsndfile writes and reads
    it; FFmpeg has no demuxer for it, checked here) is analysed, not refused."""
    import av
    import soundfile as sf

    path = tmp_path / "loop.wve"
    sf.write(path, tone(440, seconds=3.0, sr=8000), 8000, format="WVE", subtype="ALAW")
    with pytest.raises(av.error.FFmpegError):
        with av.open(str(path)) as container:
            next(container.decode(audio=0))
    assert sf.info(str(path)).frames == 3 * 8000
    proc = _run_cli("analyze", str(path), "--json", "--transcribe", "never", "--no-embedding")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["kind"] == "audio" and out["duration_s"] == pytest.approx(3.0, abs=0.01)
    assert out["media"]["container"].endswith("(libsndfile)") and out["audio"] and out["themes"] is not None
    assert "Traceback" not in proc.stderr


def test_text_and_speech_models_load_with_the_network_cut(monkeypatch, tmp_path):
    import socket

    def refuse(*a, **k):
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from recsys.encoders.speech import SpeechTranscriber
    from recsys.encoders.text import TextEncoder

    vec = TextEncoder(device="cpu").encode(["a dog barks"])
    assert vec.shape == (1, 384) and np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-4)
    out = SpeechTranscriber(device="cpu").transcribe(np.zeros(16000, np.float32))
    assert out.text == "", "VAD keeps Whisper from inventing words on silence"


def test_transcription_leaves_torch_threads_alone(shared_media):
    """CTranslate2 (Whisper) shares torch's OpenMP runtime: loading or running it must not change
    how many threads the matcher and the encoders get afterwards."""
    import torch

    from recsys.encoders.speech import SpeechTranscriber
    from recsys.media.decode import decode

    before = torch.get_num_threads()
    torch.set_num_threads(3)      # a count CTranslate2 would never pick by itself here
    try:
        speech = decode(shared_media / "audio" / "librosa" / "198-209-0000.ogg")
        out = SpeechTranscriber(device="cpu").transcribe(speech.audio)
        assert torch.get_num_threads() == 3
        assert len(out.text.split()) >= 5, out.text
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("ms", [10, 60])
def test_one_shot_is_analysed_with_a_low_confidence_warning(analyzer, tmp_path, ms):
    """A drum hit of 10 ms is analysed (padded for the encoders) and says it is low confidence."""
    hit = white_noise(seconds=ms / 1000) * np.exp(-np.linspace(0, 6, int(16000 * ms / 1000)))
    a = analyzer.analyze(write_wav(tmp_path / "hit.wav", hit.astype(np.float32)))
    assert a.duration_s == pytest.approx(ms / 1000, abs=1e-3)
    assert np.isfinite(a.embedding).all() and np.linalg.norm(a.embedding) == pytest.approx(1.0, abs=1e-5)
    assert any("low confidence" in w for w in a.warnings)
    assert a.to_dict()["warnings"] == a.warnings


def test_libsndfile_only_file_is_analysed(analyzer, tmp_path):
    import soundfile as sf

    path = tmp_path / "loop.wve"  # Psion WVE: FFmpeg has no demuxer for it, libsndfile reads it
    sf.write(path, tone(440, seconds=3.0, sr=8000), 8000, format="WVE", subtype="ALAW")
    a = analyzer.analyze(path)
    assert a.kind == "audio" and a.duration_s == pytest.approx(3.0, abs=0.01)
    assert a.audio is not None and np.isfinite(a.embedding).all()
