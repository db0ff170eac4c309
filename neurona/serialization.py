"""Saving and loading tensors and checkpoints as safetensors files.

    nr.save(model.state_dict(), "model.safetensors")
    model.load_state_dict(nr.load("model.safetensors"))

    nr.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": 3, "rng": nr.get_rng_state()}, "checkpoint.safetensors")
    ckpt = nr.load("checkpoint.safetensors")       # the same nested dict back

Why safetensors and not pickle (what ``torch.save`` uses)?  Unpickling a file runs
whatever code the file asks for, so opening a stranger's ``.pt`` file can take over your
computer.  A safetensors file is only a JSON header plus raw numbers: loading it cannot
run code.  It is also the format the model hubs use, so weights travel between neurona
and PyTorch.

File layout (the safetensors format)::

    8 bytes        N, the header length (little-endian unsigned 64-bit)
    N bytes        JSON header: {tensor name: {dtype, shape, data_offsets}, "__metadata__": {...}}
    the rest       the tensors' bytes, one after the other

How a nested checkpoint fits in: every tensor in the nested structure goes into the file
under a dotted name made from its path (``optimizer.state.0.exp_avg``); everything that
is not a tensor -- numbers, strings, lists, the shape of the tree itself -- is written as
JSON into the header's ``__metadata__`` under the key ``neurona.tree``.  ``load`` reads
that tree back and puts each tensor in its place.  A flat ``state_dict`` keeps its own
names, so PyTorch reads the file with ``safetensors.torch.load_file`` unchanged.

Writing is atomic: the bytes go to a temporary file in the same directory, which is
flushed to disk and then renamed over the target in one step (``os.replace``).  A crash
in the middle leaves the previous file untouched.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile

import numpy as np
import safetensors.numpy

from .backend import device as _device
from .tensor import Tensor

__all__ = ["save", "load"]

TREE_KEY = "neurona.tree"        # where the nested structure lives in __metadata__
FORMAT_VERSION = 1

_TORCH_HELP = ("In PyTorch, convert it with\n"
               "    from safetensors.torch import save_file\n"
               "    save_file(model.state_dict(), 'model.safetensors')\n"
               "and load 'model.safetensors' instead.")


# =========================================================================== save

def save(obj, path) -> None:
    """Write ``obj`` to ``path`` as a safetensors file, atomically.

    ``obj`` is a dict of tensors (a ``state_dict``) or a nested checkpoint: dicts, lists
    and tuples holding tensors, NumPy arrays, numbers, strings, bools and None.
    ``neurona.load(path)`` gives back the same structure.
    """
    tensors = {}
    tree = _encode(obj, "", tensors)
    metadata = {TREE_KEY: json.dumps({"version": FORMAT_VERSION, "tree": tree})}
    data = safetensors.numpy.save(tensors, metadata=metadata)
    _atomic_write(os.fspath(path), data)


def _encode(obj, name: str, tensors: dict):
    """Turn ``obj`` into JSON, moving each tensor into ``tensors`` under a dotted name.

    JSON objects in the result are always tags, so nothing is ambiguous:
    ``{"tensor": name}``, ``{"ndarray": name}``, ``{"tuple": [...]}`` and
    ``{"dict": [[key, value], ...]}`` (a list of pairs keeps int keys, such as the
    parameter ids in an optimizer's state, and the order of the keys).
    """
    if isinstance(obj, Tensor):
        return {"tensor": _add_tensor(tensors, name, np.asarray(obj.detach()))}
    if isinstance(obj, np.ndarray):
        return {"ndarray": _add_tensor(tensors, name, obj)}
    if isinstance(obj, np.generic):                     # np.float32(1.5) -> 1.5
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        pairs = []
        for key, value in obj.items():
            if isinstance(key, np.generic):
                key = key.item()
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise TypeError(f"neurona.save: dictionary keys must be strings or numbers, "
                                f"but {_where(name)} has the key {key!r}")
            pairs.append([key, _encode(value, _join(name, key), tensors)])
        return {"dict": pairs}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, _join(name, i), tensors) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"tuple": items}
    raise TypeError(
        f"neurona.save can't store {_where(name)}, an object of type {type(obj).__name__}: "
        "a checkpoint holds tensors, arrays, numbers, strings, bools, None and "
        "dicts/lists/tuples of those (use obj.state_dict() for modules and optimizers)")


def _add_tensor(tensors: dict, name: str, array: np.ndarray) -> str:
    """Store ``array`` under ``name`` (made unique if taken) and return the name used."""
    name = name or "tensor"
    unique, n = name, 1
    while unique in tensors:
        unique, n = f"{name}#{n}", n + 1
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    tensors[unique] = array if array.flags.c_contiguous else array.copy(order="C")
    return unique


def _join(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _where(name: str) -> str:
    return f"the entry '{name}'" if name else "the object"


def atomic_write(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either the old file or the new one.

    1. write everything to a temporary file next to ``path`` (same file system),
    2. flush Python's buffer and ``os.fsync`` so the bytes are on the disk,
    3. ``os.replace`` the temporary file over ``path`` (atomic on POSIX and Windows),
    4. ``fsync`` the directory, so the rename itself survives a power cut.
    If anything fails, the temporary file is removed and the old ``path`` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_bytes(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


_atomic_write = atomic_write


def _write_bytes(f, data: bytes, chunk: int = 1 << 24) -> None:
    """Write ``data`` to the open file ``f`` in chunks of 16 MiB."""
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        f.write(view[start:start + chunk])


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (not possible on Windows: skipped there)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# =========================================================================== load

def load(path, map_location=None):
    """Read a safetensors file written by ``neurona.save`` (or by any safetensors writer).

    Returns the nested structure that was saved, with neurona tensors in place of the
    tensors (NumPy arrays stay arrays).  A file without neurona's tree -- for instance
    one written by ``safetensors.torch.save_file`` -- gives a flat dict name -> tensor.
    ``map_location`` (``'cpu'``, ``'cuda'``, a device) says where the tensors go;
    the CPU by default.
    """
    path = os.fspath(path)
    data = _read_checked(path)
    header = _parse_header(path, data)
    _check_dtypes(path, header)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as e:  # SafetensorError, or a ValueError from NumPy
        raise ValueError(f"{path!r} is not a valid safetensors checkpoint (is it truncated "
                         f"or corrupt?): {e}") from None
    device = None if map_location is None else _device(map_location)
    tree_json = (header.get("__metadata__") or {}).get(TREE_KEY)
    if tree_json is None:       # a plain safetensors file: a flat state dict
        names = [k for k in header if k != "__metadata__"]   # the file's order
        return {k: Tensor(arrays[k], device=device) for k in names}
    try:
        tree = json.loads(tree_json)["tree"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path!r} is not a valid safetensors checkpoint: its "
                         f"'{TREE_KEY}' metadata is not neurona's JSON tree") from None
    return _decode(tree, arrays, device, path)


def _decode(node, arrays: dict, device, path: str):
    """The inverse of ``_encode``: rebuild the structure, fetching tensors by name."""
    if isinstance(node, list):
        return [_decode(v, arrays, device, path) for v in node]
    if not isinstance(node, dict):
        return node                                  # a number, string, bool or None
    if "dict" in node:
        return {k: _decode(v, arrays, device, path) for k, v in node["dict"]}
    if "tuple" in node:
        return tuple(_decode(v, arrays, device, path) for v in node["tuple"])
    if "tensor" in node:
        return Tensor(_array(arrays, node["tensor"], path), device=device)
    if "ndarray" in node:
        return np.array(_array(arrays, node["ndarray"], path))   # a writable copy
    raise ValueError(f"{path!r}: unknown entry {node!r} in the checkpoint's tree")


def _array(arrays: dict, name: str, path: str) -> np.ndarray:
    if name not in arrays:
        raise ValueError(f"{path!r} is not a valid safetensors checkpoint: its tree names "
                         f"the tensor '{name}', which the file does not hold")
    return arrays[name]


def _read_checked(path: str) -> bytes:
    """Read the whole file, refusing pickles (PyTorch's .pt/.pth/.bin) with advice."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"neurona.load: no such file: {path!r}")
    with open(path, "rb") as f:
        data = f.read()
    if _looks_like_pickle(data):
        raise ValueError(
            f"{path!r} looks like a pickle file (what torch.save writes: .pt, .pth, .bin, "
            ".ckpt). neurona only accepts safetensors files, because unpickling a file can "
            "run arbitrary code.\n" + _TORCH_HELP)
    return data


def _looks_like_pickle(data: bytes) -> bool:
    """True for pickles (protocol 2+ starts with 0x80) and torch's zip archives ('PK').

    A safetensors file starts with the 8-byte length of its JSON header, whose first byte
    can be 0x80 too (a header of 128 + 256 k bytes); its 9th byte is then the header's
    ``{``, which a pickle's is not."""
    if data[:4] == b"PK\x03\x04":
        return True
    return data[:1] == b"\x80" and data[8:9] != b"{"


def _parse_header(path: str, data: bytes) -> dict:
    """Check the 8-byte length and the JSON header; return the header as a dict."""
    bad = f"{path!r} is not a valid safetensors checkpoint"
    if len(data) < 8:
        raise ValueError(f"{bad}: the file has only {len(data)} bytes (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{bad}: its header says {n} bytes of JSON follow, but the file has "
                         f"only {len(data) - 8} more (truncated?)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{bad}: its header is not JSON (corrupt, or another format). "
                         + _TORCH_HELP) from None
    if not isinstance(header, dict):
        raise ValueError(f"{bad}: its header is not a JSON object")
    return header


def _check_dtypes(path: str, header: dict) -> None:
    """bfloat16 and float8 have no NumPy dtype: say how to convert instead of failing later."""
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        dtype = str(info.get("dtype", ""))
        if dtype == "BF16" or dtype.startswith("F8"):
            raise ValueError(
                f"{path!r}: the tensor '{name}' is stored as {dtype}, which NumPy (and so "
                "neurona) cannot hold. In PyTorch, save a float32 copy:\n"
                "    from safetensors.torch import save_file\n"
                "    save_file({k: v.float() for k, v in state_dict.items()}, "
                "'model.safetensors')")
