"""The shared per-device registry behind ``get_image_encoder``, ``get_audio_encoder``,
``get_text_encoder`` and ``get_transcriber`` (fake factory; the real encoders' own sharing tests
are in test_encoders_image.py and test_encoders_audio.py)."""

import threading
import time

import pytest
import torch

from recsys.encoders.per_device import PerDevice
from recsys.errors import ConfigError


class _Slow:
    """Stands in for a model: construction takes a while, so racing threads overlap."""

    made = 0
    made_lock = threading.Lock()

    def __init__(self, device: str):
        time.sleep(0.05)
        with _Slow.made_lock:
            _Slow.made += 1
        self.device = device


def test_one_instance_for_racing_threads():
    _Slow.made = 0
    registry = PerDevice(_Slow)
    got: list[_Slow] = []
    start = threading.Barrier(8)

    def ask():
        start.wait()
        got.append(registry.get("cpu"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8
    assert _Slow.made == 1
    assert all(obj is got[0] for obj in got)
    assert got[0].device == "cpu"


def test_device_resolved_before_lookup(monkeypatch):
    monkeypatch.setenv("RECSYS_DEVICE", "cpu")
    registry = PerDevice(_Slow)
    assert registry.get(None) is registry.get("cpu") is registry.get("CPU")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_is_a_config_error():
    made: list[str] = []
    registry = PerDevice(lambda device: made.append(device))
    with pytest.raises(ConfigError, match="cuda"):
        registry.get("cuda")
    assert made == []
