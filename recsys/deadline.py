"""A wall-clock budget checked between steps of a long operation (decoding, preview, analysis).

One implementation for every place that bounds its time, with the clock injectable so tests can
expire a budget by advancing a fake clock instead of sleeping or timing real work.
"""
from __future__ import annotations

import time
from typing import Callable

from recsys.errors import MediaTimeoutError


class Deadline:
    """``seconds`` of budget from now for ``label`` ("what took too long", in messages).

    ``seconds=None`` never expires. ``activity`` names the work in the error message
    ("decoding", "analysis", ...). ``clock`` returns seconds (monotonic); tests pass a fake.
    """

    def __init__(self, seconds: float | None, label: str, *, activity: str = "work",
                 clock: Callable[[], float] = time.monotonic):
        self.seconds, self.label, self.activity, self._clock = seconds, label, activity, clock
        self.end = None if seconds is None else clock() + seconds

    def restart(self, *, already_spent_s: float = 0.0) -> None:
        """Start the budget again from now, less what was already spent."""
        if self.seconds is not None:
            self.end = self._clock() + self.seconds - already_spent_s

    @property
    def expired(self) -> bool:
        return self.end is not None and self._clock() > self.end

    def check(self, stage: str | None = None) -> None:
        """Raise :class:`MediaTimeoutError` once the budget is spent (``stage``: the step just done)."""
        if self.expired:
            after = f" (stopped after {stage})" if stage else ""
            raise MediaTimeoutError(
                f"{self.label}: {self.activity} took longer than {self.seconds:g} s{after}")
