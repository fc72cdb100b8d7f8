"""The analysis pipeline: clip -> decoded media -> encoders -> understanding -> item vector.

``Analyzer.analyze(path_or_bytes)`` returns a :class:`ClipAnalysis` holding everything the
command line prints and the app shows, with per-stage timings in milliseconds.
Encoders are process-wide singletons, loaded on first use (the "load" timing) and shared by
every thread; an ``Analyzer`` itself holds no per-clip state and is safe to share.
"""
from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from recsys.analysis.item_vector import ItemBlocks, item_vector, make_blocks
from recsys.deadline import Deadline
from recsys.media.audio_descriptors import AudioDescriptors, describe_audio
from recsys.media.decode import DEFAULT_LIMITS, DecodedMedia, MediaLimits, decode
from recsys.media.visual_descriptors import VisualDescriptors, describe_frames
from recsys.understanding.label_scoring import (
    Signals,
    Understanding,
    get_semantic_space,
    understand,
)

if TYPE_CHECKING:  # the tagger's module loads torch; the analysis imports it with the encoders
    from recsys.encoders.musicnn import MusicTags

# The pipeline's stages in order, as named in ``timings_ms`` and reported to ``on_stage``.
STAGES = ("decode", "load_models", "frames", "sound", "music", "text", "understanding")
StageCallback = Callable[[str, float], None]   # (stage, milliseconds)

SPEECH_CLASSES = ("Speech", "Narration, monologue", "Conversation", "Child speech, kid speaking")


@dataclass(frozen=True)
class AnalysisConfig:
    limits: MediaLimits = DEFAULT_LIMITS
    transcribe: str = "auto"          # "auto": only when speech dominates; "always" | "never"
    speech_threshold: float = 0.5     # fraction of 0.96 s patches whose top class is speech
    use_filename_title: bool = True   # with no title given, use the cleaned file name as title
    device: str | None = None         # None: CUDA when available, else CPU
    max_audio_patches: int = 64       # YAMNet patches analysed (evenly spaced) per clip
    # musicnn runs on clips whose sound is music (YAMNet "Music" at or above music_threshold in
    # its 90th percentile over patches), on at most music_patches evenly spaced 3 s patches: its
    # cost is linear in patches (benchmarks/musicnn_speed.py), and one patch keeps it within the
    # 0.2 s per clip budget on one CPU thread.
    music_threshold: float = 0.2
    music_patches: int = 1
    # Wall-clock bound on one clip's analysis (decode included, loading the models excluded),
    # checked between stages; None: no bound. Each stage is itself bounded by `limits`
    # (analysed seconds, frames, patches), so a stage cannot overrun it by much.
    timeout_s: float | None = 300.0

    def wants_transcript(self, speech_fraction: float) -> bool:
        """Whether a clip with this share of speech patches is transcribed."""
        return self.transcribe == "always" or (self.transcribe == "auto" and speech_fraction >= self.speech_threshold)


@dataclass
class ClipMetadata:
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()

    def text(self) -> str:
        parts = [self.title.strip(), self.description.strip()]
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags))
        return ". ".join(p for p in parts if p)


@dataclass
class ClipAnalysis:
    path: str
    kind: str
    duration_s: float
    metadata: ClipMetadata
    audio: AudioDescriptors | None
    visual: VisualDescriptors | None
    understanding: Understanding
    top_image: list[tuple[str, float]]
    top_audio: list[tuple[str, float]]
    speech_fraction: float
    transcript: str
    music: MusicTags | None
    blocks: ItemBlocks
    embedding: np.ndarray                 # (vector_dim,) float32, L2-normalised
    timings_ms: dict[str, float]
    media: DecodedMedia | None = None     # kept for display (frames, waveform); not serialised
    signals: Signals | None = None        # what understanding saw (benchmarks re-score it); not serialised
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, *, include_embedding: bool = True) -> dict:
        u = self.understanding
        out = {
            "path": self.path, "kind": self.kind, "duration_s": round(self.duration_s, 3),
            "title": self.metadata.title, "description": self.metadata.description,
            "tags": list(self.metadata.tags),
            "themes": [s.to_dict() for s in u.themes], "emotions": [s.to_dict() for s in u.emotions],
            "styles": [s.to_dict() for s in u.styles],
            # facets that show nothing, and why ("not sure: ..."); notes such as "low confidence: ..."
            "abstain": dict(u.abstain), "understanding_notes": list(u.notes),
            "valence": round(u.valence, 3), "arousal": round(u.arousal, 3),
            "valence_arousal_evidence": u.va_evidence,
            "audio": self.audio.to_dict() if self.audio else None,
            "visual": self.visual.to_dict() if self.visual else None,
            "top_classes": {"frames_imagenet": [{"label": n, "score": round(p, 4)} for n, p in self.top_image],
                            "sound_audioset": [{"label": n, "score": round(p, 4)} for n, p in self.top_audio],
                            **_music_classes(self.music)},
            "speech_fraction": round(self.speech_fraction, 3), "transcript": self.transcript,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "warnings": self.warnings,
        }
        if self.media is not None:
            out["media"] = {"container": self.media.container, "video_codec": self.media.video_codec,
                            "audio_codec": self.media.audio_codec, "width": self.media.width,
                            "height": self.media.height, "fps": round(self.media.fps, 3),
                            "analysed_windows_s": [[round(a, 2), round(b, 2)] for a, b in self.media.windows_s]}
        if include_embedding:
            out["embedding"] = [round(float(x), 6) for x in self.embedding]
        return out


def title_from_filename(name: str) -> str:
    """'Kevin_MacLeod_-_Vibe_Ace.ogg' -> 'Kevin MacLeod - Vibe Ace'."""
    stem = Path(name).stem
    return re.sub(r"\s+", " ", re.sub(r"[_]+", " ", stem)).strip()


class Analyzer:
    """Runs the whole pipeline. Thread-safe; encoders load lazily, once per process."""

    def __init__(self, config: AnalysisConfig = AnalysisConfig()):
        self.config = config
        self._lock = threading.Lock()
        self._encoders: dict | None = None

    # -- encoders ------------------------------------------------------------------------------
    def encoders(self) -> dict:
        """Load (once) and return the encoders and the semantic space."""
        with self._lock:
            if self._encoders is None:
                from recsys.encoders.audio import get_audio_encoder
                from recsys.encoders.image import get_image_encoder
                from recsys.encoders.musicnn import get_music_tagger
                from recsys.encoders.text import get_text_encoder

                image, sound, text = (get_image_encoder(self.config.device), get_audio_encoder(self.config.device),
                                      get_text_encoder(self.config.device))
                space = get_semantic_space(text, image.class_names, sound.class_names)
                self._encoders = {"image": image, "audio": sound, "text": text, "space": space,
                                  "music": get_music_tagger(self.config.device)}
            return self._encoders

    # -- pipeline ------------------------------------------------------------------------------
    def analyze(self, source, *, metadata: ClipMetadata | None = None, name: str | None = None,
                limits: MediaLimits | None = None, on_stage: StageCallback | None = None) -> ClipAnalysis:
        """Analyse a path, bytes or binary file object. ``name`` labels bytes (never a path).

        ``limits`` replaces the configured decoding limits (e.g. an upload's size cap);
        ``on_stage(stage, ms)`` is called as each stage of :data:`STAGES` finishes, so a caller
        can show progress (the app's status box) without re-implementing the pipeline.
        """
        timings: dict[str, float] = {}
        label = name or (str(source) if isinstance(source, (str, Path)) else "upload")
        deadline = Deadline(self.config.timeout_s, label, activity="analysis")
        limits = limits or self.config.limits
        if deadline.end is not None:  # the decode gets what is left of the analysis budget
            limits = replace(limits, timeout_s=min(limits.timeout_s, deadline.seconds))
        # Decode before loading the models: a bad file fails in milliseconds, not after the load.
        with _timer(timings, "decode", on_stage):
            media = decode(source, limits=limits, name=name)
        if self._encoders is None:
            with _timer(timings, "load_models", on_stage):
                self.encoders()
            deadline.restart(already_spent_s=timings["decode"] / 1000)  # loading is not the clip's time
        meta = metadata or ClipMetadata()
        if not meta.title and self.config.use_filename_title:
            meta = ClipMetadata(title=title_from_filename(Path(label).name), description=meta.description,
                                tags=meta.tags)
        return self.analyze_decoded(media, metadata=meta, path=label, timings=timings, on_stage=on_stage,
                                    _deadline=deadline)

    def analyze_decoded(self, media: DecodedMedia, *, metadata: ClipMetadata, path: str,
                        timings: dict[str, float] | None = None, on_stage: StageCallback | None = None,
                        _deadline=None) -> ClipAnalysis:
        enc = self.encoders()
        deadline = _deadline or Deadline(self.config.timeout_s, path, activity="analysis")
        deadline.check("decode")
        timings = {} if timings is None else timings
        signals = Signals(duration_s=float(media.duration_s))
        warnings = list(media.warnings)

        top_image: list[tuple[str, float]] = []
        visual_feat = None
        visual = None
        if media.frames.shape[0]:
            with _timer(timings, "frames", on_stage):
                img = enc["image"].encode(media.frames)
                signals.image_probs = img.probs.mean(axis=0)
                visual_feat = img.features.mean(axis=0)
                visual = describe_frames(media.frames, media.thumbs, media.thumb_times_s)
                signals.visual = visual
                top_image = _top(signals.image_probs, enc["image"].class_names, 5)
            deadline.check("frames")

        top_audio: list[tuple[str, float]] = []
        audio_feat = None
        audio_desc = None
        speech_fraction = 0.0
        if media.has_audio:
            with _timer(timings, "sound", on_stage):
                snd = enc["audio"].encode(media.audio, max_patches=self.config.max_audio_patches)
                audio_desc = describe_audio(media.audio, sr=media.sample_rate)
                if audio_desc.silence_fraction < 0.98:
                    signals.audio_scores = snd.scores.mean(axis=0)
                    signals.audio_peak = np.percentile(snd.scores, 90, axis=0)
                    audio_feat = snd.embeddings.mean(axis=0)
                    names = enc["audio"].class_names
                    speech_idx = [names.index(c) for c in SPEECH_CLASSES if c in names]
                    top1 = snd.scores.argmax(axis=1)
                    speech_fraction = float(np.isin(top1, speech_idx).mean())
                    top_audio = _top(signals.audio_scores, names, 5)
                else:
                    warnings.append("audio track is silent")
                signals.audio = audio_desc
                signals.speech_fraction = speech_fraction
            deadline.check("sound")

        music = None
        if signals.audio_peak is not None and self._has_music(signals.audio_peak, enc["audio"].class_names):
            with _timer(timings, "music", on_stage):
                music = enc["music"].tag(media.audio, max_patches=self.config.music_patches)
                signals.extra_probs.update(music_tag_probs(music))
            deadline.check("music")

        with _timer(timings, "text", on_stage):
            text = metadata.text()
            transcript = ""
            if media.has_audio and self.config.wants_transcript(speech_fraction):
                try:
                    from recsys.encoders.speech import get_transcriber

                    transcript = get_transcriber(self.config.device).transcribe(media.audio).text
                    signals.words = len(transcript.split())
                except (ImportError, OSError, RuntimeError) as err:  # optional model: degrade, say so
                    warnings.append(f"transcription unavailable ({type(err).__name__})")
            vecs = enc["text"].encode([text, transcript])
            signals.text_vec = vecs[0] if text else None
            signals.transcript_vec = vecs[1] if transcript else None
            signals.text_sentiment = _sentiment(" ".join(t for t in (text, transcript) if t))
            text_block = vecs[0] + 0.7 * vecs[1]
        deadline.check("text")

        with _timer(timings, "understanding", on_stage):
            und = understand(signals, enc["space"])
            blocks = make_blocks(visual=visual_feat, audio=audio_feat,
                                 music=music.features if music is not None else None,
                                 text=text_block if np.any(text_block) else None,
                                 semantic=und.semantic if np.any(und.semantic) else None,
                                 label_scores=und.label_vector())
            embedding = item_vector(blocks)
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        return ClipAnalysis(
            path=path, kind=media.kind, duration_s=media.duration_s, metadata=metadata, audio=audio_desc,
            visual=visual, understanding=und, top_image=top_image, top_audio=top_audio,
            speech_fraction=speech_fraction, transcript=transcript, music=music, blocks=blocks, embedding=embedding,
            timings_ms=timings, media=media, warnings=warnings, signals=signals)

    def _has_music(self, audio_peak: np.ndarray, class_names: list[str]) -> bool:
        """Whether YAMNet heard music: its "Music" class at or above the threshold (90th percentile)."""
        return "Music" in class_names and float(audio_peak[class_names.index("Music")]) >= self.config.music_threshold



def music_tag_probs(music: MusicTags) -> dict[str, tuple[list[str], np.ndarray]]:
    """The tagger's evidence for understanding: ``Signals.extra_probs`` entries named after the
    label maps (``assets/label_maps/musicnn_{msd,mtt}.csv``), each tag's mean of its clip mean and
    peak over patches (as the AudioSet evidence is)."""
    out = {}
    for name, tags in (("musicnn_msd", music.msd), ("musicnn_mtt", music.mtt)):
        if tags is not None:
            out[name] = (list(tags.tag_names), (0.5 * (tags.mean + tags.peak)).astype(np.float32))
    return out


def _music_classes(music: MusicTags | None) -> dict[str, list[dict]]:
    """Every musicnn tag of both models, mean and peak probability over patches, by mean."""
    if music is None:
        return {}
    out = {}
    for key, tags in (("music_tagger_mtt", music.mtt), ("music_tagger_msd", music.msd)):
        if tags is not None:
            order = np.argsort(-tags.mean, kind="stable")
            out[key] = [{"label": tags.tag_names[i], "score": round(float(tags.mean[i]), 4),
                         "peak": round(float(tags.peak[i]), 4)} for i in order]
    return out


def _top(scores: np.ndarray, names: list[str], k: int) -> list[tuple[str, float]]:
    idx = np.argsort(-scores)[:k]
    return [(names[i], float(scores[i])) for i in idx]


_vader = None


def _sentiment(text: str) -> float | None:
    """VADER compound sentiment in [-1, 1], or None for empty text."""
    global _vader
    if not text.strip():
        return None
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    return float(_vader.polarity_scores(text)["compound"])


@contextmanager
def _timer(timings: dict[str, float], stage: str, on_stage: StageCallback | None = None):
    """Add the block's wall time (ms) to ``timings[stage]``; report it when the block succeeds."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + 1000 * (time.perf_counter() - t0)
    if on_stage is not None:
        on_stage(stage, timings[stage])
