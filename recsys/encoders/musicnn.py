"""musicnn music taggers (MagnaTagATune and Million Song Dataset), ported to plain torch.

The trained networks ship inside the PyPI wheel ``musicnn`` 0.1.0 (ISC licence, Pons & Serra
2019) as TensorFlow-1 checkpoints ``musicnn/MTT_musicnn/`` and ``musicnn/MSD_musicnn/``. The
wheel's own code needs TensorFlow 1 and numpy < 1.17; here the checkpoints are read with
``tf_checkpoint`` (no TensorFlow) and the network of the wheel's ``models.build_musicnn`` is
rebuilt in torch. Loading is strict: every non-optimizer tensor of the checkpoint is used, every
shape is checked, and any mismatch raises ``CheckpointError``.

Front end (the wheel's ``extractor.batch_data``, numpy):
16 kHz mono; librosa's ``melspectrogram`` defaults with n_fft 512, hop 256: periodic Hann
window, centred frames (256 zeros padded at both ends, librosa >= 0.10's ``pad_mode="constant"``),
power spectrogram, librosa's Slaney mel filterbank (``htk=False``, ``norm="slaney"``,
0-8000 Hz, 96 bands); the mel power rounded to float16 as the wheel does; then
``log10(10000 x + 1)``. One deliberate difference: the wheel evaluates the log in float16, and
``10000 x`` overflows float16 to inf wherever a mel band's power exceeds 6.55, which happened on
every clip tried (2635 frame-bands of the 61 s of Kevin MacLeod's "Vibe Ace"; 370 of the 6 s kept
in the test fixture). The original graph turns those inf into saturated, wrong tags: on that 6 s
of instrumental lounge jazz it gave MSD rock 0.33, electronic 0.27, pop 0.22, female vocalists
0.19, against jazz 0.46, electronic 0.20, chillout 0.13 with finite input. So here the log is
taken in float32, which equals the wheel's value to float16 precision wherever the wheel's is
finite and keeps loud bands finite (at most 8.82) where the wheel's is inf.

Patches: 187 frames (3 s as the wheel computes it: ``time_to_frames(3) + 1``), taken back to
back without overlap (the wheel's default ``input_overlap=False``) from the start; the tail that
does not fill a patch is dropped, as in the wheel. A clip shorter than one patch (2.976 s) is
repeated end to end until it fills one (the models' training config says ``pad_short:
repeat-pad``); the wheel itself fails on such clips.

Usage::

    tagger = get_music_tagger()            # shared per device, thread-safe
    tags = tagger.tag(audio_16k)           # (n_samples,) float mono at 16 kHz in [-1, 1]
    tags.msd.mean, tags.msd.peak           # (50,) float32 probabilities, names in tags.msd.tag_names
    tags.mtt.top(5)                        # [(tag, mean probability), ...]
    tags.features                          # (200,) float32 L2-normalised MSD penultimate
"""
from __future__ import annotations

import contextlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ..errors import ConfigError, EmptyMediaError, RecsysError
from .per_device import PerDevice
from .tf_checkpoint import Checkpoint, CheckpointError, read_checkpoint

__all__ = [
    "HOP",
    "MIN_SAMPLES",
    "MODELS",
    "MSD_TAGS",
    "MTT_TAGS",
    "NUM_TAGS",
    "N_FFT",
    "N_MELS",
    "PATCH_FRAMES",
    "PATCH_SECONDS",
    "PENULTIMATE_DIM",
    "SAMPLE_RATE",
    "ModelTags",
    "MusiCNN",
    "MusicTagger",
    "MusicTags",
    "checkpoint_path",
    "get_music_tagger",
    "is_optimizer_variable",
    "load_musicnn",
    "log_compress",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_patches",
    "mel_power",
    "num_patches",
    "state_dict_from_checkpoint",
]

# --- front end (musicnn/configuration.py and extractor.py) ---------------------------------
SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187            # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
PATCH_SECONDS = PATCH_FRAMES * HOP / SAMPLE_RATE   # 2.992 s between patch starts (no overlap)
# Fewest samples that give one full patch with centred frames: 1 + n // 256 >= 187.
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP            # 47616 samples = 2.976 s
_FLOAT16_MAX = float(np.finfo(np.float16).max)    # 65504

# --- network sizes (models.build_musicnn, MTT_musicnn and MSD_musicnn) ----------------------
NUM_TAGS = 50
PENULTIMATE_DIM = 200         # units of the back-end's penultimate dense layer (after its BN)
BN_EPS = 1e-3                 # tf.layers.batch_normalization default, read from the graph
_TIMBRAL_FILTERS = int(1.6 * 128)   # 204
_TEMPORAL_FILTERS = int(1.6 * 32)   # 51
_TIMBRAL_WIDTHS = (int(0.4 * N_MELS), int(0.7 * N_MELS))  # 38 and 67 mel bands, 7 frames long
_TEMPORAL_LENGTHS = (128, 64, 32)                          # frames, 1 mel band wide

MTT_TAGS: tuple[str, ...] = (
    'guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast',
    'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male',
    'singing', 'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman',
    'male vocal', 'no vocal', 'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice',
    'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice',
    'weird', 'country', 'metal', 'female voice', 'choral',
)
MSD_TAGS: tuple[str, ...] = (
    'rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s',
    'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists',
    'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill',
    'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental',
    'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy',
    'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop',
    'sad', 'House', 'happy',
)
# Checkpoint folder inside the wheel -> tag names in output order (configuration.py).
MODELS: dict[str, tuple[str, ...]] = {"MTT_musicnn": MTT_TAGS, "MSD_musicnn": MSD_TAGS}


# ------------------------------------------------------------------------------------------
# Front end
# ------------------------------------------------------------------------------------------
def _hz_to_mel_slaney(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    mel = hz / f_sp
    high = hz >= min_log_hz
    mel[high] = min_log_mel + np.log(hz[high] / min_log_hz) / logstep
    return mel


def _mel_to_hz_slaney(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    hz = f_sp * mel
    high = mel >= min_log_mel
    hz[high] = min_log_hz * np.exp(logstep * (mel[high] - min_log_mel))
    return hz


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32, equal to ``librosa.filters.mel(sr=sr, n_fft=n_fft,
    n_mels=n_mels)`` (fmin 0, fmax sr/2, Slaney scale, Slaney area normalisation), which is what
    the wheel's ``librosa.feature.melspectrogram`` call uses."""
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    edges_hz = _mel_to_hz_slaney(np.linspace(_hz_to_mel_slaney(np.array([0.0]))[0],
                                             _hz_to_mel_slaney(np.array([sr / 2.0]))[0], n_mels + 2))
    fdiff = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]  # equal area per band
    return weights.astype(np.float32)


_MEL_T = np.ascontiguousarray(mel_filterbank().T)  # (257, 96)
# Periodic Hann (scipy get_window('hann', 512, fftbins=True), what librosa's stft uses).
_WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
_STFT_CHUNK_FRAMES = 4096     # bounds the STFT's memory on long clips (~8 MB of complex64 per chunk)


def mel_power(audio_16k: np.ndarray) -> np.ndarray:
    """(1 + n_samples // 256, 96) float32 mel power spectrogram, as the wheel's
    ``librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T``:
    centred frames (256 zeros padded each side), periodic Hann, |STFT|^2, Slaney mel bands."""
    wave = np.ascontiguousarray(audio_16k, dtype=np.float32)
    padded = np.pad(wave, (N_FFT // 2, N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    out = np.empty((frames.shape[0], N_MELS), dtype=np.float32)
    for start in range(0, frames.shape[0], _STFT_CHUNK_FRAMES):
        spec = np.fft.rfft(frames[start:start + _STFT_CHUNK_FRAMES] * _WINDOW, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32, copy=False)
        out[start:start + spec.shape[0]] = power @ _MEL_T
    return out


def log_compress(mel: np.ndarray) -> np.ndarray:
    """``log10(10000 x + 1)`` of the mel power rounded to float16 (as the wheel stores it),
    evaluated in float32 so that loud bands do not overflow (see the module docstring); a power
    above float16's largest value (65504) is clipped to it.
    Returns float32 of the same shape; values lie in [0, 8.82] (log10(10000 * 65504 + 1))."""
    x16 = np.minimum(mel, _FLOAT16_MAX).astype(np.float16)
    return np.log10(np.float32(10000.0) * x16.astype(np.float32) + np.float32(1.0))


def log_mel_spectrogram(audio_16k: np.ndarray) -> np.ndarray:
    """(1 + n_samples // 256, 96) float32 log-compressed mel spectrogram (the network's input)."""
    return log_compress(mel_power(audio_16k))


def _repeat_pad(wave: np.ndarray) -> np.ndarray:
    """Repeat a clip shorter than one patch end to end up to ``MIN_SAMPLES`` samples."""
    reps = -(-MIN_SAMPLES // wave.shape[0])
    return np.tile(wave, reps)[:MIN_SAMPLES]


def num_patches(n_samples: int) -> int:
    """Patches ``mel_patches`` gives for a clip of ``n_samples`` (a short clip gives one)."""
    if n_samples <= 0:
        return 0
    return max(1, (1 + n_samples // HOP) // PATCH_FRAMES)


def mel_patches(audio_16k: np.ndarray) -> np.ndarray:
    """(n_patches, 187, 96) float32 network input: back-to-back 187-frame patches of the
    log-mel spectrogram (``num_patches(len(audio_16k))`` of them; see the module docstring)."""
    wave = np.asarray(audio_16k, dtype=np.float32)
    if wave.shape[0] == 0:
        return np.zeros((0, PATCH_FRAMES, N_MELS), dtype=np.float32)
    if wave.shape[0] < MIN_SAMPLES:
        wave = _repeat_pad(wave)
    logmel = log_mel_spectrogram(wave)
    n = logmel.shape[0] // PATCH_FRAMES
    return logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS)


# ------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------
def _bn2d(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


def _bn1d(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=BN_EPS)


def _relu_bn_freq_max(conv_out: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """max over frequency of BN(ReLU(conv_out)), (B, C, T, F) -> (B, C, T), without running BN
    and ReLU on the whole map.

    Both are monotone per channel: ReLU is non-decreasing, and inference BN is x * s + b with
    s = gamma / sqrt(var + eps), non-decreasing where gamma >= 0 and non-increasing where
    gamma < 0 (about half of the timbral channels in both checkpoints). So the max over
    frequency of the result is the BN of ReLU of the max (gamma >= 0) or of the min (gamma < 0)
    of the conv output; rounding is monotone too, so the result is the same float for float
    (checked: 0.0 difference). Measured on one thread, per patch: 20.4 -> 17.6 ms for the
    38-band timbral conv with its pooling, no measurable change for the 67-band one.
    """
    lo, hi = torch.aminmax(conv_out, dim=3)
    picked = torch.where((bn.weight < 0)[None, :, None], lo, hi)
    return F.batch_norm(F.relu(picked), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        training=False, eps=bn.eps)


class MusiCNN(nn.Module):
    """musicnn (``models.build_musicnn``) in torch, inference only.

    ``forward`` takes (B, 187, 96) float32 log-mel patches (time, mel band) and returns
    ``(logits, penultimate)``: (B, num_classes) and (B, backend_units) float32. Tag
    probabilities are ``sigmoid(logits)``. Any number of frames works (the network pools over
    time), but the checkpoints were trained on 187.

    Layers, in the checkpoint's creation order (``tf.layers`` names in brackets):

    * ``input_bn`` [batch_normalization]: BN over the single input channel.
    * ``timbral`` [conv2d, conv2d_1 + batch_normalization_1, _2]: 204 filters of 7 frames x 38
      and x 67 mel bands, time padded by 3 each side, no frequency padding; ReLU, BN, max over
      frequency.
    * ``temporal`` [conv2d_2.._4 + batch_normalization_3.._5]: 51 filters of 128, 64 and 32 frames
      x 1 band, TF "SAME" padding (extra zero after); ReLU, BN, max over frequency.
    * front-end output: the five maps concatenated, 2 x 204 + 3 x 51 = 561 channels per frame.
    * ``midend`` [conv2d_5.._7 + batch_normalization_6.._8]: three convs of 64 filters over 7
      frames (time padded by 3), ReLU then BN; the 2nd and 3rd add a residual.
    * back-end: front-end and the three mid-end outputs concatenated (561 + 3 x 64 = 753), max
      and mean over time, interleaved per channel as TF's concat-then-flatten does
      ([max_0, mean_0, max_1, mean_1, ...], 1506); ``backend_bn`` [batch_normalization_9];
      ``dense`` [dense] 200 units, ReLU; ``penultimate_bn`` [batch_normalization_10] (this is the
      wheel's "penultimate" feature); ``output`` [dense_1] logits. Dropout is identity here.
    """

    def __init__(self, num_classes: int = NUM_TAGS, *, midend_filters: int = 64,
                 backend_units: int = PENULTIMATE_DIM):
        super().__init__()
        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(nn.Conv2d(1, _TIMBRAL_FILTERS, (7, w)) for w in _TIMBRAL_WIDTHS)
        self.timbral_bn = nn.ModuleList(_bn2d(_TIMBRAL_FILTERS) for _ in _TIMBRAL_WIDTHS)
        self.temporal = nn.ModuleList(nn.Conv2d(1, _TEMPORAL_FILTERS, (k, 1)) for k in _TEMPORAL_LENGTHS)
        self.temporal_bn = nn.ModuleList(_bn2d(_TEMPORAL_FILTERS) for _ in _TEMPORAL_LENGTHS)
        front = len(_TIMBRAL_WIDTHS) * _TIMBRAL_FILTERS + len(_TEMPORAL_LENGTHS) * _TEMPORAL_FILTERS
        self.midend = nn.ModuleList(
            nn.Conv1d(front if i == 0 else midend_filters, midend_filters, 7, padding=3) for i in range(3)
        )
        self.midend_bn = nn.ModuleList(_bn1d(midend_filters) for _ in range(3))
        pooled = 2 * (front + 3 * midend_filters)
        self.backend_bn = _bn1d(pooled)
        self.dense = nn.Linear(pooled, backend_units)
        self.penultimate_bn = _bn1d(backend_units)
        self.output = nn.Linear(backend_units, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.input_bn(x.unsqueeze(1))                        # (B, 1, T, 96)
        maps = []
        timbral_in = F.pad(h, (0, 0, 3, 3))                      # zero-pad time after the BN, as TF
        for conv, bn in zip(self.timbral, self.timbral_bn):
            maps.append(_relu_bn_freq_max(conv(timbral_in), bn))  # (B, 204, T)
        for conv, bn in zip(self.temporal, self.temporal_bn):
            k = conv.kernel_size[0]
            same = F.pad(h, (0, 0, (k - 1) // 2, k // 2))        # TF "SAME", stride 1: extra row after
            maps.append(_relu_bn_freq_max(conv(same), bn))       # (B, 51, T)
        front = torch.cat(maps, dim=1)                           # (B, 561, T)

        m1 = self.midend_bn[0](F.relu(self.midend[0](front)))
        m2 = self.midend_bn[1](F.relu(self.midend[1](m1))) + m1
        m3 = self.midend_bn[2](F.relu(self.midend[2](m2))) + m2
        feats = torch.cat([front, m1, m2, m3], dim=1)            # (B, 753, T)

        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).flatten(1)  # (B, 1506)
        penultimate = self.penultimate_bn(F.relu(self.dense(self.backend_bn(pooled))))
        return self.output(penultimate), penultimate


# ------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------
def is_optimizer_variable(name: str) -> bool:
    """Adam's slot variables and its beta powers: saved for training, unused at inference."""
    last = name.rsplit("/", 1)[-1]
    return last in ("Adam", "Adam_1") or name in ("beta1_power", "beta2_power")


def _bn_names(tf_name: str, torch_name: str) -> list[tuple[str, str, str]]:
    return [(f"{tf_name}/gamma", f"{torch_name}.weight", "vector"),
            (f"{tf_name}/beta", f"{torch_name}.bias", "vector"),
            (f"{tf_name}/moving_mean", f"{torch_name}.running_mean", "vector"),
            (f"{tf_name}/moving_variance", f"{torch_name}.running_var", "vector")]


def _name_map() -> list[tuple[str, str, str]]:
    """(checkpoint name, torch parameter name, conversion) for every weight of ``MusiCNN``.

    The ``tf.layers`` default names are numbered in creation order (models.build_musicnn):
    input BN; timbral 38 (conv2d, bn_1), timbral 67 (conv2d_1, bn_2); temporal 128/64/32
    (conv2d_2.._4, bn_3.._5); mid-end (conv2d_5.._7, bn_6.._8); back-end bn_9, dense, bn_10,
    dense_1.
    """
    rows = _bn_names("batch_normalization", "input_bn")
    for i in range(2):
        rows += [(f"conv2d{'' if i == 0 else '_1'}/kernel", f"timbral.{i}.weight", "conv2d"),
                 (f"conv2d{'' if i == 0 else '_1'}/bias", f"timbral.{i}.bias", "vector")]
        rows += _bn_names(f"batch_normalization_{1 + i}", f"timbral_bn.{i}")
    for i in range(3):
        rows += [(f"conv2d_{2 + i}/kernel", f"temporal.{i}.weight", "conv2d"),
                 (f"conv2d_{2 + i}/bias", f"temporal.{i}.bias", "vector")]
        rows += _bn_names(f"batch_normalization_{3 + i}", f"temporal_bn.{i}")
    for i in range(3):
        rows += [(f"conv2d_{5 + i}/kernel", f"midend.{i}.weight", "conv1d"),
                 (f"conv2d_{5 + i}/bias", f"midend.{i}.bias", "vector")]
        rows += _bn_names(f"batch_normalization_{6 + i}", f"midend_bn.{i}")
    rows += _bn_names("batch_normalization_9", "backend_bn")
    rows += [("dense/kernel", "dense.weight", "dense"), ("dense/bias", "dense.bias", "vector")]
    rows += _bn_names("batch_normalization_10", "penultimate_bn")
    rows += [("dense_1/kernel", "output.weight", "dense"), ("dense_1/bias", "output.bias", "vector")]
    return rows


def _convert(array: np.ndarray, kind: str, name: str) -> np.ndarray:
    """TF layout -> torch layout. conv2d: [h, w, in, out] -> [out, in, h, w]. conv1d (a TF conv
    whose kernel spans the whole feature axis, [7, C, 1, out]) -> [out, C, 7]. dense:
    [in, out] -> [out, in]."""
    if kind == "conv2d":
        if array.ndim != 4:
            raise CheckpointError(f"{name}: expected a 4-d conv kernel, got shape {array.shape}")
        return array.transpose(3, 2, 0, 1)
    if kind == "conv1d":
        if array.ndim != 4 or array.shape[2] != 1:
            raise CheckpointError(f"{name}: expected a [k, C, 1, out] kernel, got shape {array.shape}")
        return array[:, :, 0, :].transpose(2, 1, 0)
    if kind == "dense":
        if array.ndim != 2:
            raise CheckpointError(f"{name}: expected a 2-d dense kernel, got shape {array.shape}")
        return array.T
    return array


def state_dict_from_checkpoint(ckpt: Checkpoint, model: MusiCNN) -> dict[str, torch.Tensor]:
    """The torch state dict for ``model`` from a musicnn checkpoint, strictly.

    Raises ``CheckpointError`` when a weight the model needs is missing, when the checkpoint has
    a (non-optimizer) tensor the model does not use, or when any converted shape differs from the
    model's parameter shape: a wrong architecture fails here, never silently.
    """
    expected = {k: v.shape for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    rows = _name_map()
    used = {tf_name for tf_name, _, _ in rows}
    present = {n for n in ckpt.names() if not is_optimizer_variable(n)}
    missing = sorted(used - present)
    unused = sorted(present - used)
    if missing or unused:
        raise CheckpointError(
            f"checkpoint {ckpt.prefix} does not match MusiCNN: missing {missing[:6]}"
            f"{'...' if len(missing) > 6 else ''}, unused {unused[:6]}{'...' if len(unused) > 6 else ''}"
        )
    state: dict[str, torch.Tensor] = {}
    for tf_name, torch_name, kind in rows:
        array = _convert(ckpt[tf_name], kind, tf_name)
        if torch_name not in expected:  # pragma: no cover - guards _name_map against MusiCNN edits
            raise CheckpointError(f"MusiCNN has no parameter {torch_name!r} (mapped from {tf_name!r})")
        if tuple(array.shape) != tuple(expected[torch_name]):
            raise CheckpointError(
                f"{tf_name} has shape {ckpt.entries[tf_name].shape} -> {tuple(array.shape)}, "
                f"MusiCNN.{torch_name} needs {tuple(expected[torch_name])}: wrong architecture"
            )
        if array.dtype != np.float32:
            raise CheckpointError(f"{tf_name} is {array.dtype}, expected float32")
        state[torch_name] = torch.from_numpy(np.ascontiguousarray(array))
    if set(state) != set(expected):  # pragma: no cover - same guard, the other direction
        raise CheckpointError(f"MusiCNN parameters without a checkpoint tensor: {sorted(set(expected) - set(state))}")
    # num_batches_tracked is a training counter TF does not have; keep the model's own (0).
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = v
    return state


def checkpoint_path(model_name: str) -> Path:
    """Folder of the wheel's checkpoint ``model_name`` (files ``.index``, ``.data-00000-of-00001``),
    found without importing ``musicnn`` (its modules import TensorFlow)."""
    if model_name not in MODELS:
        raise ConfigError(f"unknown musicnn model {model_name!r}; choose from {sorted(MODELS)}")
    try:
        spec = importlib.util.find_spec("musicnn")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        folder = Path(loc) / model_name
        if (folder / ".index").is_file():
            return folder
    raise RecsysError(
        f"musicnn checkpoint {model_name} not found: install the 'musicnn' wheel with "
        "'pip install --no-deps -r requirements-models.txt'"
    )


def load_musicnn(model_name: str, *, device: str = "cpu") -> MusiCNN:
    """A ``MusiCNN`` with the wheel's ``model_name`` weights, in eval mode on ``device``."""
    ckpt = read_checkpoint(str(checkpoint_path(model_name)) + "/")
    model = MusiCNN(len(MODELS[model_name]))
    model.load_state_dict(state_dict_from_checkpoint(ckpt, model), strict=True)
    return model.eval().requires_grad_(False).to(device)


# ------------------------------------------------------------------------------------------
# Tagger
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelTags:
    """One model's output for one clip.

    model: checkpoint name ("MTT_musicnn" or "MSD_musicnn").
    tag_names: the 50 tag names, in the order of the probability columns.
    patch_probs: (n_patches, 50) float32 sigmoid probabilities in [0, 1], one row per 2.99 s patch.
    mean: (50,) float32 mean of ``patch_probs`` over patches.
    peak: (50,) float32 max of ``patch_probs`` over patches.
    penultimate: (n_patches, 200) float32 penultimate layer (after its BatchNorm; any sign).
    """

    model: str
    tag_names: tuple[str, ...]
    patch_probs: np.ndarray
    mean: np.ndarray
    peak: np.ndarray
    penultimate: np.ndarray

    def top(self, k: int = 5, *, by: str = "mean") -> list[tuple[str, float]]:
        """The ``k`` tags with the highest ``mean`` (or ``peak``) probability, highest first."""
        scores = self.mean if by == "mean" else self.peak
        return [(self.tag_names[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:k]]

    def as_dict(self, *, by: str = "mean") -> dict[str, float]:
        """{tag name: mean (or peak) probability}."""
        scores = self.mean if by == "mean" else self.peak
        return {name: float(s) for name, s in zip(self.tag_names, scores)}


@dataclass(frozen=True)
class MusicTags:
    """musicnn output for one clip.

    mtt, msd: per-model ``ModelTags`` (MagnaTagATune: instruments, voice, character; Million
        Song Dataset: Last.fm genres, moods, decades). None for a model the tagger does not run.
    features: (200,) float32 MSD penultimate averaged over patches, then L2-normalised (unit
        length; all zeros only if the mean is exactly zero). None without the MSD model.
    patch_times_s: (n_patches,) float32 start of each patch in seconds (each lasts 2.99 s).
    duration_s: length of the input in seconds.
    padded: True when the clip was shorter than one patch (2.976 s) and was repeated to fill it.
    """

    mtt: ModelTags | None
    msd: ModelTags | None
    features: np.ndarray | None
    patch_times_s: np.ndarray
    duration_s: float
    padded: bool

    @property
    def n_patches(self) -> int:
        return int(self.patch_times_s.shape[0])


def _select_patches(total: int, max_patches: int | None) -> np.ndarray:
    """All patch indices, or ``max_patches`` evenly spaced ones (centres of equal stretches)."""
    if max_patches is None or max_patches >= total:
        return np.arange(total)
    k = np.arange(max_patches)
    return ((2 * k + 1) * total) // (2 * max_patches)


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextlib.contextmanager
def _one_cpu_thread():
    """torch on one intra-op thread for the block, restored when the last concurrent block ends.

    One patch's convolutions are too small to split: on the 2-core machine, two threads made a
    one-patch ``tag()`` 4x slower than one whenever another process held a core (0.81 s against
    0.21 s; ``benchmarks/musicnn_speed.py`` times one thread). The count is process-wide, so
    overlapping callers (app sessions) share one save/restore instead of racing.
    """
    global _threads_users, _threads_before
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)


class MusicTagger:
    """Both musicnn taggers (MTT and MSD) on one device, loaded once.

    Attributes: ``device`` (torch device string), ``model_names`` (the checkpoints run),
    ``tag_names`` ({model name: 50 tag names}).

    ``tag`` may be called from several threads at once without a lock: the models are in
    ``eval()`` and run under ``torch.inference_mode()``, so a forward pass writes nothing shared.
    """

    name: str = "musicnn"
    sample_rate: int = SAMPLE_RATE

    def __init__(self, *, device: str | None = None, models: tuple[str, ...] = ("MTT_musicnn", "MSD_musicnn")):
        self.device: str = get_device(device)
        for m in models:
            if m not in MODELS:
                raise ConfigError(f"unknown musicnn model {m!r}; choose from {sorted(MODELS)}")
        self.model_names: tuple[str, ...] = tuple(models)
        self.tag_names: dict[str, tuple[str, ...]] = {m: MODELS[m] for m in models}
        self._models = {m: load_musicnn(m, device=self.device) for m in models}
        # Patches per forward pass. On the CPU one at a time: the timbral maps of one patch
        # (187 x 59 x 204 floats, 9 MB) stay in cache: 10 patches of one model took 0.39 s of CPU
        # time one by one against 0.69 s in chunks of 4 and 1.06 s all at once (one thread). On CUDA
        # large batches are what makes it fast.
        self._chunk = 64 if self.device.startswith("cuda") else 1

    def predict_patches(self, patches: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Run every model on (n, 187, 96) float32 log-mel patches.

        Returns {model name: (probs (n, 50) float32 in [0, 1], penultimate (n, 200) float32)}.
        """
        x_all = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32))
        out = {}
        threads = _one_cpu_thread() if self.device == "cpu" else contextlib.nullcontext()
        with threads, torch.inference_mode():
            for name, model in self._models.items():
                probs, pen = [], []
                for start in range(0, x_all.shape[0], self._chunk):
                    x = x_all[start:start + self._chunk].to(self.device)
                    logits, penultimate = model(x)
                    probs.append(torch.sigmoid(logits).float().cpu())
                    pen.append(penultimate.float().cpu())
                n_classes = len(self.tag_names[name])
                out[name] = (
                    torch.cat(probs).numpy() if probs else np.zeros((0, n_classes), np.float32),
                    torch.cat(pen).numpy() if pen else np.zeros((0, PENULTIMATE_DIM), np.float32),
                )
        return out

    def tag(self, audio_16k: np.ndarray, *, max_patches: int | None = None) -> MusicTags:
        """Tag a clip with every loaded model.

        audio_16k: (n_samples,) float mono at 16 kHz, values in [-1, 1] (NaN/inf become 0).
        A clip shorter than 2.976 s is repeated to fill one patch; an empty clip raises
        ``EmptyMediaError``. max_patches: when the clip has more 2.99 s patches, only that many
        evenly spaced ones are run (cost is linear in patches; see benchmarks/musicnn_speed.py).
        """
        wave = np.asarray(audio_16k)
        if wave.ndim != 1:
            raise ValueError(f"audio must be mono with shape (n_samples,), got {wave.shape}")
        if not np.issubdtype(wave.dtype, np.floating):
            raise ValueError(f"audio must be float in [-1, 1], got dtype {wave.dtype}")
        if max_patches is not None and (not isinstance(max_patches, (int, np.integer)) or max_patches < 1):
            raise ConfigError(f"max_patches must be a positive integer or None, got {max_patches!r}")
        if wave.shape[0] == 0:
            raise EmptyMediaError("cannot tag an empty clip (0 samples)")
        wave = wave.astype(np.float32, copy=False)
        if not np.isfinite(wave).all():
            wave = np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)

        patches = mel_patches(wave)
        indices = _select_patches(patches.shape[0], max_patches)
        results = self.predict_patches(patches[indices])

        per_model: dict[str, ModelTags] = {}
        for name, (probs, pen) in results.items():
            per_model[name] = ModelTags(
                model=name, tag_names=self.tag_names[name], patch_probs=probs,
                mean=probs.mean(axis=0), peak=probs.max(axis=0), penultimate=pen,
            )
        features = None
        if "MSD_musicnn" in per_model:
            mean = per_model["MSD_musicnn"].penultimate.mean(axis=0)
            norm = float(np.linalg.norm(mean))
            features = (mean / norm if norm > 0 else mean).astype(np.float32)
        return MusicTags(
            mtt=per_model.get("MTT_musicnn"),
            msd=per_model.get("MSD_musicnn"),
            features=features,
            patch_times_s=(indices * PATCH_SECONDS).astype(np.float32),
            duration_s=wave.shape[0] / SAMPLE_RATE,
            padded=wave.shape[0] < MIN_SAMPLES,
        )


_TAGGERS: PerDevice[MusicTagger] = PerDevice(lambda device: MusicTagger(device=device))


def get_music_tagger(device: str | None = None) -> MusicTagger:
    """The process-wide ``MusicTagger`` (both models) for ``device`` (None:
    ``recsys.device.get_device()``), loaded once and shared by every session (``PerDevice``)."""
    return _TAGGERS.get(device)
