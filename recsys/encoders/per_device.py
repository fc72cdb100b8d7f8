"""One shared instance per device of an encoder that is expensive to load.

Loading the pretrained models takes seconds and a large share of the process's memory (the
analysis section's cold rows in ``benchmarks/README.md``), so every Streamlit session (one
thread each) and every ``Analyzer`` in a process must share one instance per device rather than
load its own.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

from ..device import get_device

T = TypeVar("T")


class PerDevice(Generic[T]):
    """A lazily created, process-wide ``make(device)`` for each resolved device name.

    ``get(device)`` resolves ``device`` with ``recsys.device.get_device`` (None: ``RECSYS_DEVICE``
    or CUDA when present; ``"cuda"`` on a machine without it raises ``ConfigError``), then
    returns the instance for that device, creating it on first use. Creation happens under a
    lock, so two sessions asking at once get the same instance and the model loads once; the
    common path (already created) takes no lock.
    """

    def __init__(self, make: Callable[[str], T]) -> None:
        self._make = make
        self._instances: dict[str, T] = {}
        self._lock = threading.Lock()

    def get(self, device: str | None = None) -> T:
        resolved = get_device(device)
        instance = self._instances.get(resolved)
        if instance is None:
            with self._lock:
                # Checked again: another thread may have created it while this one waited.
                instance = self._instances.get(resolved)
                if instance is None:
                    instance = self._make(resolved)
                    self._instances[resolved] = instance
        return instance
