"""Typed errors with one-line messages.

Every error a user can cause (bad file, unknown id, bad option) derives from `RecsysError`,
so the command line and the app can catch one type and show ``str(err)`` as a single line.
"""
from __future__ import annotations


class RecsysError(Exception):
    """Base class: anything a user can trigger. ``str(err)`` is one line, no traceback needed."""

    def __init__(self, message: str):
        # Collapse to one line: messages from FFmpeg/libsndfile sometimes carry newlines.
        super().__init__(" ".join(str(message).split()))


class MediaError(RecsysError):
    """A clip cannot be decoded or analysed."""


class EmptyMediaError(MediaError):
    """The file or byte string is empty (0 bytes) or holds no samples/frames."""


class CorruptMediaError(MediaError):
    """The container or stream is corrupt or truncated."""


class UnsupportedMediaError(MediaError):
    """Not an audio/video format we read (wrong extension, image, text, unknown codec)."""


class MediaTooLargeError(MediaError):
    """The file is larger than the configured byte limit."""


class NoUsableStreamError(MediaError):
    """The container holds no audio or video stream we can decode."""


class MediaTimeoutError(MediaError):
    """Decoding or analysis ran past its time limit."""


class UnknownIdError(RecsysError, KeyError):
    """An item, user or persona id that the catalog does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message with quotes
        return self.args[0] if self.args else "unknown id"


class ConfigError(RecsysError, ValueError):
    """An invalid option value (weights, k, protocol, ...)."""
