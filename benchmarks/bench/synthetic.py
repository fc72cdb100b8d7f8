"""Synthetic data for the bench: clustered item vectors shaped like the catalog's, synthesised
music, and the generated analysis and build clips (cached under ``cache_dir()/bench``)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from benchmarks.bench.harness import BenchConfig, _log
from recsys.paths import SHARED_MEDIA_DIR, cache_dir

BBB_CLIP = SHARED_MEDIA_DIR / "video" / "blender" / "big_buck_bunny_0_30.webm"
SPEECH_CLIP = SHARED_MEDIA_DIR / "audio" / "librosa" / "198-209-0000.ogg"
MEDIA_VERSION = 1  # bump when the generated clips change (they are cached under cache_dir()/bench)


class ClusteredVectors:
    """Item vectors shaped like the catalog's (3127-d, per-block normalised and weighted).

    A Gaussian mixture in a ``latent_dim`` latent space (``n_clusters`` centres with Zipf-sized
    clusters -- a few big genres, many niches -- and a power-law spectrum) is mapped into every
    block by a fixed random linear map, offset by a block mean direction (real embeddings are
    anisotropic: their mean pairwise cosine is well above 0), blurred by isotropic noise, and
    assembled like :func:`recsys.analysis.item_vector.item_vector`: audio items have a zero visual block,
    some videos a zero audio block. The defaults were calibrated against the 76-clip shared
    catalog (``data/catalogs/shared``): mean pairwise cosine 0.27 (real 0.26), mean cosine to
    the 10th neighbour 0.40 (real 0.45), and singular-value energy in the top 5/20/40
    components 0.52/0.78/0.91 (real 0.55/0.78/0.91). Noise is uniform with Gaussian variance
    (4x cheaper to draw; after projection it is indistinguishable).
    """

    def __init__(self, *, n_clusters: int = 1000, latent_dim: int = 128, zipf: float = 1.0,
                 spread: float = 0.3, noise: float = 0.4, mean_weight: float = 0.7, decay: float = 0.5,
                 silent_video: float = 0.15, seed: int = 0):
        from recsys.analysis.item_vector import BLOCK_WEIGHTS, block_layout

        rng = np.random.default_rng(seed)
        self.layout = block_layout()
        self.dim = max(s.stop for s in self.layout.values())
        self.n_clusters, self.latent_dim = n_clusters, latent_dim
        p = np.arange(1, n_clusters + 1, dtype=np.float64) ** -zipf
        self.cluster_p = p / p.sum()
        self.scale = (np.arange(1, latent_dim + 1) ** -decay).astype(np.float32)
        self.centres = rng.standard_normal((n_clusters, latent_dim)).astype(np.float32)
        self.video_share = rng.random(n_clusters)
        self.maps, self.means, self.weights = {}, {}, {}
        for b, sl in self.layout.items():
            d = sl.stop - sl.start
            self.maps[b] = (rng.standard_normal((latent_dim, d)) / np.sqrt(latent_dim)).astype(np.float32)
            mu = rng.standard_normal(d)
            self.means[b] = (mean_weight * mu / np.linalg.norm(mu)).astype(np.float32)
            self.weights[b] = np.float32(np.sqrt(BLOCK_WEIGHTS[b]))
        self.spread, self.noise, self.silent_video = spread, noise, silent_video

    def sample(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """(m, 3127) float32, rows L2-normalised."""
        c = rng.choice(self.n_clusters, size=m, p=self.cluster_p)
        z = (self.centres[c] + self.spread * rng.standard_normal((m, self.latent_dim), dtype=np.float32)) * self.scale
        video = rng.random(m) < self.video_share[c]
        silent = video & (rng.random(m) < self.silent_video)
        out = np.empty((m, self.dim), np.float32)
        for b, sl in self.layout.items():
            d = sl.stop - sl.start
            x = z @ self.maps[b]
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            x += self.means[b]
            noise = rng.random((m, d), dtype=np.float32)
            noise -= 0.5
            noise *= np.float32(np.sqrt(12.0) * self.noise / np.sqrt(d))
            x += noise
            x *= self.weights[b] / np.linalg.norm(x, axis=1, keepdims=True)
            if b == "visual":
                x[~video] = 0
            elif b == "audio":
                x[silent] = 0
            out[:, sl] = x
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def stream(self, n: int, *, seed: int, chunk: int = 8192):
        """Yield (start, (c, 3127) chunk) covering ``n`` items, deterministic for a seed."""
        rng = np.random.default_rng(seed)
        for start in range(0, n, chunk):
            yield start, self.sample(min(chunk, n - start), rng)


def clustered_vectors(n: int, *, seed: int = 0, **params) -> np.ndarray:
    """(n, 3127) float32 clustered item vectors (see :class:`ClusteredVectors`)."""
    gen = ClusteredVectors(**params)
    out = np.empty((n, gen.dim), np.float32)
    for start, chunk in gen.stream(n, seed=seed + 1):
        out[start:start + len(chunk)] = chunk
    return out


def synth_music(seconds: float, *, sr: int = 44100, bpm: float = 112.0, key: int = 0, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 stereo: a I-V-vi-IV pad, bass, a random melody on the major scale,
    kick/snare/hi-hat. Deterministic for (seconds, sr, bpm, key, seed)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros((n, 2), np.float32)
    beat = 60.0 / bpm
    t_all = np.arange(n, dtype=np.float64) / sr

    def add(start_s, dur_s, freq, amp, pan=0.5, decay=3.0, harmonics=(1.0, 0.5, 0.25)):
        i0 = int(start_s * sr)
        if i0 >= n:
            return
        i1 = min(n, i0 + int(dur_s * sr))
        t = t_all[: i1 - i0]
        env = np.exp(-decay * t / dur_s) * np.minimum(1.0, t / 0.01)
        wave = sum(h * np.sin(2 * np.pi * freq * (j + 1) * t) for j, h in enumerate(harmonics))
        sig = (amp * env * wave).astype(np.float32)
        out[i0:i1, 0] += (1 - pan) * sig
        out[i0:i1, 1] += pan * sig

    def hz(semitones_from_a4):
        return 440.0 * 2 ** (semitones_from_a4 / 12)

    scale = [0, 2, 4, 5, 7, 9, 11]
    chords = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]   # I V vi IV
    base = key - 9 - 12                                           # key's tonic, octave below A4-ish
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar))
    for b in range(n_bars):
        chord = chords[(b // 2) % 4]
        t0 = b * bar
        for iv in chord:
            add(t0, bar, hz(base + iv), 0.06, pan=0.3 + 0.4 * rng.random(), decay=1.0)
        for q in range(4):
            add(t0 + q * beat, beat, hz(base - 12 + chord[0]), 0.18, decay=4.0, harmonics=(1.0, 0.3))
            # drums: kick on 1 and 3, snare on 2 and 4, hi-hat on eighths
            i0 = int((t0 + q * beat) * sr)
            if i0 < n:
                m = min(n - i0, int(0.25 * sr))
                t = t_all[:m]
                if q % 2 == 0:
                    kick = np.sin(2 * np.pi * (50 + 70 * np.exp(-t * 30)) * t) * np.exp(-t * 12)
                    out[i0:i0 + m] += (0.5 * kick).astype(np.float32)[:, None]
                else:
                    snare = rng.standard_normal(m) * np.exp(-t * 25)
                    out[i0:i0 + m] += (0.15 * snare).astype(np.float32)[:, None]
            for e in range(2):
                j0 = int((t0 + (q + 0.5 * e) * beat) * sr)
                if j0 < n:
                    m = min(n - j0, int(0.05 * sr))
                    hat = np.diff(rng.standard_normal(m + 1)) * np.exp(-t_all[:m] * 80)
                    out[j0:j0 + m, 1 - e] += (0.05 * hat).astype(np.float32)
        for e in range(8):                                         # melody in eighths
            if rng.random() < 0.75:
                deg = scale[int(rng.integers(0, 7))] + 12 * int(rng.integers(1, 3))
                add(t0 + e * beat / 2, beat / 2, hz(base + deg), 0.1, pan=0.6, decay=5.0)
    peak = float(np.abs(out).max()) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def write_audio(path: Path, y: np.ndarray, sr: int) -> Path:
    """(n, 2) float32 at ``sr`` Hz -> AAC in ``path`` (an .m4a); atomic."""
    from benchmarks.av_writer import write_av

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write_av(str(tmp), audio=y, sr=sr, acodec="aac")
    os.replace(tmp, path)
    return path


def write_video(path: Path, *, seconds: float = 30.0, size: tuple[int, int] = (1280, 720), fps: int = 24,
                seed: int = 0) -> Path:
    """A deterministic H.264/AAC MP4: drifting colour gradients, moving shapes, a scrolling
    texture, a scene cut every 6 s, and a :func:`synth_music` soundtrack (48 kHz stereo)."""
    from benchmarks.av_writer import write_av

    w, h = size
    rng = np.random.default_rng(seed)
    texture = (rng.random((h // 8 + 2, w // 8 + 2)) * 60).astype(np.float32)
    texture = np.kron(texture, np.ones((8, 8), np.float32))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    palettes = rng.random((int(seconds // 6) + 2, 2, 3)).astype(np.float32) * 255
    shapes = rng.random((int(seconds // 6) + 2, 4, 5)).astype(np.float32)   # x, y, r, vx, vy
    audio = synth_music(seconds, sr=48000, bpm=100, key=5, seed=seed + 1)

    def frames():  # one at a time: 720 frames of 1280x720 would hold 2 GB
        for i in range(int(seconds * fps)):
            t = i / fps
            scene = int(t // 6)
            a, b = palettes[scene]
            mix = (xx / w * 0.7 + yy / h * 0.3 + 0.15 * np.sin(t + xx / 200))[..., None]
            frame = a * (1 - mix) + b * mix
            sx = int(t * 40) % 8
            frame += texture[sx:sx + h, sx:sx + w, None] - 30
            for x0, y0, r, vx, vy in shapes[scene]:
                cx = (x0 + (vx - 0.5) * t * 0.2) % 1.0 * w
                cy = (y0 + (vy - 0.5) * t * 0.2) % 1.0 * h
                rad = 40 + 120 * r
                y_lo, y_hi = int(max(0, cy - rad)), int(min(h, cy + rad))
                x_lo, x_hi = int(max(0, cx - rad)), int(min(w, cx + rad))
                if y_hi > y_lo and x_hi > x_lo:
                    sub = (xx[y_lo:y_hi, x_lo:x_hi] - cx) ** 2 + (yy[y_lo:y_hi, x_lo:x_hi] - cy) ** 2 < rad ** 2
                    frame[y_lo:y_hi, x_lo:x_hi][sub] = 255 - frame[y_lo:y_hi, x_lo:x_hi][sub]
            yield np.clip(frame, 0, 255).astype(np.uint8)

    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    write_av(str(tmp), frames=frames(), fps=fps, video_options={"preset": "veryfast", "crf": "23"},
             audio=audio, sr=48000)
    os.replace(tmp, path)
    return path


def bench_media_dir() -> Path:
    path = cache_dir() / "bench" / f"media-v{MEDIA_VERSION}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bench_clips(cfg: BenchConfig) -> dict:
    """Paths of the analysis clips (generated once, cached) and where the video came from."""
    folder = bench_media_dir()
    audio = folder / "music_30s.m4a"
    if not audio.is_file():
        _log("generating a 30 s AAC music clip")
        write_audio(audio, synth_music(30.0, sr=44100, bpm=112, key=0, seed=cfg.seed), 44100)
    clips = {"audio": {"path": str(audio), "source": "generated: 30 s AAC 44.1 kHz stereo, synthesised music"}}
    generated = folder / "video_720p_30s.mp4"
    want_generated = cfg.video == "generated" or not BBB_CLIP.is_file() or not cfg.quick
    if want_generated and not generated.is_file():
        _log("generating a 30 s 720p H.264/AAC clip (once; cached in the bench media folder)")
        write_video(generated, seed=cfg.seed)
    if cfg.video != "generated" and BBB_CLIP.is_file():
        clips["video"] = {"path": str(BBB_CLIP), "source": "shared: big_buck_bunny_0_30.webm (30 s 720p VP8+Vorbis)"}
        if not cfg.quick:
            clips["video_h264"] = {"path": str(generated),
                                   "source": "generated: 30 s 1280x720 24 fps H.264 + AAC 48 kHz, synthesised"}
    else:
        clips["video"] = {"path": str(generated), "source": "generated: 30 s 1280x720 24 fps H.264 + AAC 48 kHz"}
    if SPEECH_CLIP.is_file():
        clips["speech"] = {"path": str(SPEECH_CLIP), "source": "shared: librosa 198-209-0000.ogg (speech)"}
    return clips



def build_clips(n_clips: int, seconds: float, seed: int = 0) -> Path:
    """A folder of ``n_clips`` generated music clips (AAC .m4a), cached under cache_dir()/bench."""
    folder = bench_media_dir() / f"build_{n_clips}x{seconds:g}s_seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_clips):
        path = folder / f"track_{i:02d}.m4a"
        if not path.is_file():
            y = synth_music(seconds, sr=44100, bpm=80 + 7 * (i % 9), key=(5 * i) % 12, seed=seed * 1000 + i)
            write_audio(path, y, 44100)
    return folder
