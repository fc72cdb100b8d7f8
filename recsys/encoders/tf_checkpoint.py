"""Read a TensorFlow (V2 format) checkpoint without TensorFlow.

A TF checkpoint ``<prefix>`` is two files:

* ``<prefix>.index``: a LevelDB-format sorted string table (SSTable). Keys are variable names;
  each value is a ``BundleEntryProto`` (protobuf) saying where the tensor lies. The entry with
  the empty key is the ``BundleHeaderProto``.
* ``<prefix>.data-00000-of-00001`` (one shard here): the raw little-endian tensor bytes, one after
  another, at the offsets the index gives.

Only what TF writes for ordinary, unpartitioned variables is supported: uncompressed blocks,
one shard, numeric dtypes, no tensor slices. Anything else raises ``CheckpointError`` rather than
being guessed at. No pickle, no protobuf library: the protobuf wire format is decoded by hand
(varints and length-delimited fields are all a ``BundleEntryProto`` uses).

Usage::

    ckpt = read_checkpoint("/path/to/MSD_musicnn/")   # prefix: here the file names start with "."
    ckpt.names()                  # sorted variable names
    ckpt["dense/kernel"]          # numpy array, shape and dtype from the index
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RecsysError

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "TensorEntry",
    "crc32c",
    "masked_crc32c",
    "parse_sstable",
    "read_checkpoint",
    "read_index",
]

# LevelDB table footer: two BlockHandles padded to 40 bytes, then this 8-byte magic number.
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5              # 1 byte compression type + 4 bytes masked crc32c
_NO_COMPRESSION = 0

# TensorFlow DataType enum (types.proto) -> numpy little-endian dtypes. Strings/resources are
# not supported: they never hold model weights.
_DTYPES = {
    1: np.dtype("<f4"),   # DT_FLOAT
    2: np.dtype("<f8"),   # DT_DOUBLE
    3: np.dtype("<i4"),   # DT_INT32
    4: np.dtype("u1"),    # DT_UINT8
    5: np.dtype("<i2"),   # DT_INT16
    6: np.dtype("i1"),    # DT_INT8
    9: np.dtype("<i8"),   # DT_INT64
    10: np.dtype("?"),    # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    19: np.dtype("<f2"),  # DT_HALF
}


class CheckpointError(RecsysError):
    """The checkpoint files are missing, malformed, or use a feature this reader does not support."""


# ------------------------------------------------------------------------------------------
# Wire-format helpers
# ------------------------------------------------------------------------------------------
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, next position)."""
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise CheckpointError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise CheckpointError("varint longer than 64 bits")


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of a protobuf message, in order.

    Varints (wire type 0) give ints, length-delimited fields (2) give bytes, fixed32/fixed64
    (5/1) give ints. Groups (3/4) are obsolete and rejected.
    """
    fields = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise CheckpointError("truncated length-delimited protobuf field")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire}")
        fields.append((number, wire, value))
    return fields


# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, as LevelDB and TF use.
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)
del _i, _c


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (pure Python: 0.58 s of CPU for 3 MB measured, so only used on request)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """LevelDB/TF's masked CRC: rotate right by 15 bits and add a constant (so a CRC of data
    that itself holds CRCs does not degenerate)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------
# SSTable
# ------------------------------------------------------------------------------------------
def _block_handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _read_block(table: bytes, offset: int, size: int) -> bytes:
    if offset + size + _BLOCK_TRAILER > len(table):
        raise CheckpointError("block handle points past the end of the index file")
    compression = table[offset + size]
    if compression != _NO_COMPRESSION:
        raise CheckpointError(f"compressed index block (type {compression}) is not supported")
    return table[offset:offset + size]


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    """Decode one LevelDB block: prefix-compressed (key, value) pairs, then the restart array
    (uint32 offsets) and its length (uint32), which only speed up seeks and are skipped here."""
    if len(block) < 4:
        raise CheckpointError("index block shorter than its restart count")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * num_restarts
    if end < 0:
        raise CheckpointError("index block restart array is larger than the block")
    entries = []
    pos = 0
    key = b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_len > end:
            raise CheckpointError("corrupt index block entry")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_len]))
        pos += value_len
    return entries


def parse_sstable(table: bytes) -> dict[bytes, bytes]:
    """All (key, value) pairs of a LevelDB-format table held in memory (the whole file)."""
    if len(table) < _FOOTER_SIZE:
        raise CheckpointError("index file is shorter than a table footer")
    footer = table[-_FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, 40)[0] != _TABLE_MAGIC:
        raise CheckpointError("index file lacks the LevelDB table magic number: not a TF checkpoint index")
    _meta_off, _meta_size, pos = _block_handle(footer, 0)  # metaindex: empty in TF bundles
    index_off, index_size, _ = _block_handle(footer, pos)
    out: dict[bytes, bytes] = {}
    for _last_key, handle in _block_entries(_read_block(table, index_off, index_size)):
        off, size, _ = _block_handle(handle, 0)
        for key, value in _block_entries(_read_block(table, off, size)):
            out[key] = value
    return out


# ------------------------------------------------------------------------------------------
# Tensor bundle
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies: dtype, shape, shard, byte offset and size in the data file, and the
    masked CRC-32C of its bytes (0 when the writer left it out)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for number, _wire, value in _proto_fields(buf):
        if number == 2:  # repeated Dim dim
            size = 0
            for n2, _w2, v2 in _proto_fields(value):
                if n2 == 1:
                    size = v2
            if size >= 1 << 63:  # negative int64 (-1: unknown dimension)
                raise CheckpointError("tensor shape has an unknown dimension")
            dims.append(size)
        elif number == 3 and value:  # unknown_rank
            raise CheckpointError("tensor shape has unknown rank")
    return tuple(dims)


def _parse_entry(name: str, buf: bytes) -> TensorEntry:
    dtype_code, shape, shard, offset, size, crc = 0, (), 0, 0, 0, 0
    for number, _wire, value in _proto_fields(buf):
        if number == 1:
            dtype_code = value
        elif number == 2:
            shape = _parse_shape(value)
        elif number == 3:
            shard = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 6:
            crc = value
        elif number == 7:
            raise CheckpointError(f"tensor {name!r} is saved in slices (partitioned variable): not supported")
    if dtype_code not in _DTYPES:
        raise CheckpointError(f"tensor {name!r} has unsupported TF dtype code {dtype_code}")
    dtype = _DTYPES[dtype_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        raise CheckpointError(f"tensor {name!r}: index says {size} bytes, shape {shape} x {dtype} needs {expected}")
    return TensorEntry(name, dtype, shape, shard, offset, size, crc)


def _files(prefix: str | Path):
    """(index file, shard number and count -> data file) for a prefix. A folder ``d/`` means
    the files ``d/.index`` and ``d/.data-*``: the musicnn wheel's checkpoints were saved with a
    prefix ending in a slash."""
    text = str(prefix)
    if text.endswith(("/", "\\")) or Path(text).is_dir():
        folder = Path(text)
        return folder / ".index", lambda shard, n: folder / f".data-{shard:05d}-of-{n:05d}"
    p = Path(text)
    return p.parent / f"{p.name}.index", lambda shard, n: p.parent / f"{p.name}.data-{shard:05d}-of-{n:05d}"


def read_index(prefix: str | Path) -> tuple[dict[str, TensorEntry], int]:
    """Parse ``<prefix>.index``: ({name: TensorEntry}, number of data shards)."""
    index_file, _ = _files(prefix)
    if not index_file.is_file():
        raise CheckpointError(f"checkpoint index {index_file} not found")
    table = parse_sstable(index_file.read_bytes())
    header = table.pop(b"", None)
    if header is None:
        raise CheckpointError(f"{index_file} has no bundle header (empty key): not a TF V2 checkpoint")
    num_shards, endianness = 1, 0
    for number, _wire, value in _proto_fields(header):
        if number == 1:
            num_shards = value
        elif number == 2:
            endianness = value
    if endianness != 0:
        raise CheckpointError("big-endian checkpoint: not supported")
    entries = {}
    for key, value in table.items():
        name = key.decode("utf-8")
        entries[name] = _parse_entry(name, value)
    return entries, num_shards


class Checkpoint:
    """The tensors of one checkpoint, read lazily from its data file(s).

    ``checkpoint[name]`` -> numpy array (a copy, writable). ``entries`` maps names to
    ``TensorEntry``. ``verify_crc=True`` checks every tensor read against its CRC-32C (pure
    Python, slow: for tests and debugging).
    """

    def __init__(self, prefix: str | Path, *, verify_crc: bool = False):
        self.prefix = str(prefix)
        self.entries, self.num_shards = read_index(prefix)
        _, data_file = _files(prefix)
        self._data_files = {s: data_file(s, self.num_shards) for s in range(self.num_shards)}
        for path in self._data_files.values():
            if not path.is_file():
                raise CheckpointError(f"checkpoint data shard {path} not found")
        self._sizes = {s: p.stat().st_size for s, p in self._data_files.items()}
        for e in self.entries.values():
            if e.shard not in self._sizes or e.offset + e.size > self._sizes[e.shard]:
                raise CheckpointError(f"tensor {e.name!r} lies outside its data shard")
        self.verify_crc = verify_crc

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            e = self.entries[name]
        except KeyError:
            raise CheckpointError(f"checkpoint {self.prefix} has no tensor {name!r}") from None
        with open(self._data_files[e.shard], "rb") as fh:
            fh.seek(e.offset)
            raw = fh.read(e.size)
        if len(raw) != e.size:
            raise CheckpointError(f"tensor {name!r} is truncated in the data file")
        if self.verify_crc and e.crc32c and masked_crc32c(raw) != e.crc32c:
            raise CheckpointError(f"tensor {name!r} fails its CRC-32C check")
        return np.frombuffer(raw, dtype=e.dtype).reshape(e.shape).copy()

    def read_all(self, names=None) -> dict[str, np.ndarray]:
        """{name: array} for ``names`` (default: every tensor)."""
        wanted = self.names() if names is None else list(names)
        return {n: self[n] for n in wanted}


def read_checkpoint(prefix: str | Path, *, verify_crc: bool = False) -> Checkpoint:
    """Open the checkpoint at ``prefix`` (a path prefix, or a folder whose files are ``.index`` and
    ``.data-*``)."""
    return Checkpoint(prefix, verify_crc=verify_crc)
