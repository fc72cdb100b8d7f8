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


class TooShortMediaError(EmptyMediaError):
    """The clip is shorter than ``MediaLimits.min_duration_s``."""


class CorruptMediaError(MediaError):
    """The container or stream is corrupt or truncated."""


class UnsupportedMediaError(MediaError):
    """Not an audio/video format we read (wrong extension, image, text, unknown codec)."""


class NotMediaError(UnsupportedMediaError):
    """Not an audio or video file at all (text, an image, random bytes), or unrecognisably damaged."""


class UnsupportedCodecError(UnsupportedMediaError):
    """A container we read holding a stream whose codec no decoder here knows."""


class FrameTooLargeError(UnsupportedMediaError):
    """Video frames larger than ``MediaLimits.max_pixels`` (decompression-bomb guard)."""


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


# --- what a person reads ---------------------------------------------------------------------------
# (problem, what to try) per error type, most specific first: the app shows these, with the
# library's one-line message as the detail. One place, so every page and the CLI say the same.
_PLAIN: tuple[tuple[type, str, str], ...] = (
    (TooShortMediaError, "This clip is too short to analyse (under 10 ms).",
     "Upload a longer recording."),
    (EmptyMediaError, "This file is empty: it holds no sound or pictures.",
     "Check that it plays on your computer, then upload it again."),
    (FrameTooLargeError, "This video's picture is too large to analyse.",
     "Export it at a smaller size (up to 8192 × 8192 pixels), e.g. 1080p."),
    (MediaTooLargeError, "This file is too large or too long.",
     "Upload a shorter excerpt or a more compressed version."),
    (UnsupportedCodecError, "This file's codec is not supported.",
     "Convert it to MP4 (H.264 + AAC), WebM, MP3, WAV or FLAC and upload that."),
    (NotMediaError, "This is not an audio or video file we can read (it may be a document, an image, "
                    "or a renamed or damaged file).",
     "Upload an audio or video file such as MP4, WebM, MP3, WAV, OGG or FLAC."),
    (UnsupportedMediaError, "This file's format is not supported.",
     "Convert it to MP4 (H.264 + AAC), WebM, MP3, WAV or FLAC and upload that."),
    (NoUsableStreamError, "This file holds no audio or video track (only subtitles, data or a picture).",
     "Upload a file with sound or moving pictures."),
    (CorruptMediaError, "This file is damaged or cut off, so it cannot be read to the end.",
     "Download or export it again, then upload the new copy."),
    (MediaTimeoutError, "This file took too long to read.",
     "Try a shorter clip or a smaller file."),
    (MediaError, "This file could not be read.",
     "Check that it plays on your computer, or convert it to MP4, MP3 or WAV."),
)


def plain_message(err: BaseException) -> tuple[str, str]:
    """``(problem, what to try)`` in a person's words for a :class:`MediaError` (or any
    :class:`RecsysError`: its own message, no advice)."""
    for cls, problem, advice in _PLAIN:
        if isinstance(err, cls):
            return problem, advice
    return str(err), ""
