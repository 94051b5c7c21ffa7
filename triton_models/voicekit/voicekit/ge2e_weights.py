"""Read a PyTorch checkpoint in torch's *legacy* (pre-zip, torch < 1.6) serialization with pickle and numpy only.

Resemblyzer's ``pretrained.pt`` (the GE2E speaker encoder's weights) is such a file. Layout, all little-endian:

1. a pickle of the magic number ``0x1950a86a20f9469cfc6c``,
2. a pickle of the protocol version (1001),
3. a pickle of system info (``{"little_endian": True, "type_sizes": {...}}``),
4. the pickled object itself (here a dict holding ``model_state``, an OrderedDict of tensors). Each tensor is
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``; its storage is a *persistent id*
   ``("storage", torch.FloatStorage, key, location, numel, view_metadata)``,
5. a pickle of the list of storage keys, in the order their data follows,
6. for each key: an int64 element count, then ``count * element_size`` raw bytes.

The unpickler resolves only the handful of globals such a checkpoint needs (OrderedDict, the tensor rebuild
functions, the storage types) and refuses every other one, so a hostile file cannot run code. Storages are read
lazily: only the ones the requested tensors use are kept; the rest (e.g. optimizer state) are skipped with seek.

:func:`load_zip_checkpoint` reads the *zip* serialization (torch >= 1.6; e.g. SpeechBrain's ECAPA-TDNN
``embedding_model.ckpt``) with the same guarded unpickler: ``<archive>/data.pkl`` holds the object, each storage
is the raw little-endian member ``<archive>/data/<key>``.
"""
from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch storage class name → numpy dtype (little-endian)
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "BFloat16Storage": None,
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class CheckpointError(ValueError):
    """The file is not a legacy torch checkpoint this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        code = _STORAGE_DTYPES.get(self.name)
        if code is None:
            raise CheckpointError(f"unsupported storage type torch.{self.name}")
        return np.dtype(code)


@dataclass(frozen=True)
class _StorageRef:
    key: str
    storage_type: _StorageType
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor not read yet: which storage, where in it, its shape and strides (in elements)."""

    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor without a storage")
    return TensorRef(storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"refusing to load global {module}.{name} from a checkpoint")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError("storage views are not supported")
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"unexpected storage type {storage_type!r}")
        return _StorageRef(str(key), storage_type, int(numel))


def _load_pickle(f: BinaryIO):
    return _Unpickler(f).load()


def _tensor_refs(obj, prefix: str = "") -> dict[str, TensorRef]:
    """Flatten nested dicts of tensors to {"a.b.c": TensorRef}."""
    found: dict[str, TensorRef] = {}
    if isinstance(obj, TensorRef):
        found[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found.update(_tensor_refs(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            found.update(_tensor_refs(value, f"{prefix}.{index}" if prefix else str(index)))
    return found


def load_legacy_checkpoint(path: str | Path, section: str | None = None) -> dict[str, np.ndarray]:
    """The tensors of a legacy torch checkpoint as float/int numpy arrays, keyed by their dotted path.

    ``section`` picks one top-level entry (e.g. ``"model_state"``), whose tensors are then keyed relative to it;
    storages no requested tensor uses are skipped.
    """
    with open(path, "rb") as f:
        try:
            magic = _load_pickle(f)
            if magic != MAGIC_NUMBER:
                raise CheckpointError(f"{path}: not a legacy torch checkpoint (a zip checkpoint needs torch>=1.6 "
                                      "or a zip reader)")
            protocol = _load_pickle(f)
            if protocol != PROTOCOL_VERSION:
                raise CheckpointError(f"{path}: unsupported protocol version {protocol}")
            sys_info = _load_pickle(f)
            if not sys_info.get("little_endian", False):
                raise CheckpointError(f"{path}: written on a big-endian machine")
            obj = _load_pickle(f)
            keys = [str(k) for k in _load_pickle(f)]
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError, KeyError, IndexError,
                OverflowError) as exc:
            raise CheckpointError(f"{path}: unreadable checkpoint: {exc!r}") from exc
        every = {ref.storage.key: ref.storage for ref in _tensor_refs(obj).values()}
        if section is not None:
            if not isinstance(obj, dict) or section not in obj:
                raise CheckpointError(f"{path}: no {section!r} in the checkpoint")
            obj = obj[section]
        refs = _tensor_refs(obj)
        wanted = {ref.storage.key for ref in refs.values()}
        storages: dict[str, np.ndarray] = {}
        for key in keys:
            header = f.read(8)
            if len(header) != 8:
                raise CheckpointError(f"{path}: truncated before storage {key}")
            (count,) = struct.unpack("<q", header)
            if key not in every:
                raise CheckpointError(f"{path}: storage {key} is not referenced by any tensor")
            if count != every[key].numel:
                raise CheckpointError(f"{path}: storage {key} holds {count} elements, its tensors expect "
                                      f"{every[key].numel}")
            dtype = every[key].storage_type.dtype
            size = count * dtype.itemsize
            if key not in wanted:  # e.g. optimizer state: skip it
                f.seek(size, 1)
                continue
            data = f.read(size)
            if len(data) != size:
                raise CheckpointError(f"{path}: truncated in storage {key}")
            storages[key] = np.frombuffer(data, dtype=dtype)
    return _materialise(refs, storages, path)


def _materialise(refs: dict[str, TensorRef], storages: dict[str, np.ndarray], path) -> dict[str, np.ndarray]:
    """Each tensor as its own array, cut from its storage by offset, shape and strides (checked to fit)."""
    tensors: dict[str, np.ndarray] = {}
    for name, ref in refs.items():
        base = storages.get(ref.storage.key)
        if base is None:
            raise CheckpointError(f"{path}: storage {ref.storage.key} of {name} is missing")
        itemsize = base.dtype.itemsize
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride, strict=True))
        if ref.offset < 0 or any(s < 0 for s in ref.stride) or (0 not in ref.shape and last >= base.size):
            raise CheckpointError(f"{path}: tensor {name} runs past its storage")
        view = np.lib.stride_tricks.as_strided(base[ref.offset:], shape=ref.shape,
                                               strides=tuple(s * itemsize for s in ref.stride), writeable=False)
        tensors[name] = np.array(view, dtype=base.dtype.newbyteorder("="))
    return tensors


def load_zip_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a zip-format torch checkpoint (``torch.save`` since torch 1.6) as numpy arrays keyed by
    their dotted path; no torch needed, and no global but the tensor-rebuilding ones is accepted."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
            if len(pickles) != 1:
                raise CheckpointError(f"{path}: not a zip torch checkpoint (no single <archive>/data.pkl)")
            root = pickles[0][:-len("data.pkl")]
            if root + "byteorder" in names and archive.read(root + "byteorder").strip() != b"little":
                raise CheckpointError(f"{path}: written on a big-endian machine")
            with archive.open(pickles[0]) as f:
                refs = _tensor_refs(_load_pickle(f))
            storages: dict[str, np.ndarray] = {}
            for ref in refs.values():
                key = ref.storage.key
                if key in storages:
                    continue
                dtype = ref.storage.storage_type.dtype
                data = archive.read(f"{root}data/{key}")
                if len(data) != ref.storage.numel * dtype.itemsize:
                    raise CheckpointError(f"{path}: storage {key} holds {len(data)} bytes, its tensors expect "
                                          f"{ref.storage.numel * dtype.itemsize}")
                storages[key] = np.frombuffer(data, dtype=dtype)
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, KeyError, pickle.UnpicklingError, EOFError, AttributeError, TypeError,
            ValueError, IndexError, OverflowError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint: {exc!r}") from exc
    return _materialise(refs, storages, path)
