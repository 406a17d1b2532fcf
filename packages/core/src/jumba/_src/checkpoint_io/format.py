"""The checkpoint file format: one uncompressed zip (a `.npz`) holding `manifest.json` first
and then one `.npy` member per leaf.

The manifest describes the tree in plain JSON (dicts with their keys, lists, tuples,
namedtuples by field name, `None`, strings) and, per leaf, its path, dtype, shape, kind
(`jumba`/`numpy` array or Python/NumPy scalar) and the sha256 of its bytes. Loading reads
JSON and `.npy` data with `allow_pickle=False` only, so a checkpoint never executes code.

A file is written to a temporary name in the target directory, flushed and fsync'ed, renamed
over the target and the directory fsync'ed: a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from typing import Any

import numpy as np
import optree

from jumba._src import dtypes
from jumba._src.atomic_file import atomic_write
from jumba._src.runtime.array import Array
from jumba._src.tree_util import NAMESPACE, keystr, tree_flatten_with_path

FORMAT = "jumba-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"

_SCALAR_KINDS = {bool: "bool", int: "int", float: "float", complex: "complex"}


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, altered, or does not fit `like=`."""


# --- describing a tree ---------------------------------------------------------------------


def _encode_key(key, where: str):
    # Tagged so that 1 and "1" stay distinct keys through JSON.
    if isinstance(key, bool):
        return ["b", key]
    if isinstance(key, str):
        return ["s", key]
    if isinstance(key, int):
        return ["i", key]
    if isinstance(key, float):
        return ["f", key]
    if key is None:
        return ["n", None]
    raise CheckpointError(
        f"checkpoint_io.save: the dict at {where or 'the root'} has a key {key!r} of type "
        f"{type(key).__name__}; only str, int, float, bool and None keys can be saved. Use "
        "string keys instead.")


def _decode_key(tagged):
    return tagged[1]


def _describe_node(tree, counter: list[int], where: str) -> dict:
    """A JSON description of `tree` whose leaves are numbered in flattening order."""
    if isinstance(tree, str):
        return {"t": "str", "v": tree}
    if optree.tree_is_leaf(tree, none_is_leaf=False, namespace=NAMESPACE):
        counter[0] += 1
        return {"t": "leaf", "i": counter[0] - 1}
    out = optree.tree_flatten_one_level(tree, none_is_leaf=False, namespace=NAMESPACE)
    children, entries = out.children, out.entries
    kids = [_describe_node(c, counter, f"{where}/{e}") for c, e in zip(children, entries)]
    if tree is None:
        return {"t": "none"}
    if optree.is_namedtuple(tree):
        return {"t": "namedtuple", "name": type(tree).__name__,
                "fields": list(type(tree)._fields), "c": kids}
    if type(tree) is tuple:
        return {"t": "tuple", "c": kids}
    if type(tree) is list:
        return {"t": "list", "c": kids}
    if isinstance(tree, dict):
        kind = "odict" if type(tree).__name__ == "OrderedDict" else "dict"
        return {"t": kind, "keys": [_encode_key(k, where) for k in entries], "c": kids}
    # Any other registered node (dataclass, optimizer state, module): recorded by name and
    # entries; restored as a dict unless `like=` gives the class.
    return {"t": "node", "type": f"{type(tree).__module__}.{type(tree).__qualname__}",
            "entries": [str(e) for e in entries], "c": kids}


def _leaf_array(leaf, where: str) -> tuple[np.ndarray, str]:
    if isinstance(leaf, Array):
        arr, kind = np.asarray(leaf._value), "jumba"
    elif type(leaf) in _SCALAR_KINDS:
        arr, kind = np.asarray(leaf), _SCALAR_KINDS[type(leaf)]
    elif isinstance(leaf, np.generic):
        arr, kind = np.asarray(leaf), "numpy_scalar"
    elif isinstance(leaf, np.ndarray):
        arr, kind = leaf, "numpy"
    elif hasattr(leaf, "__array__") or hasattr(leaf, "__dlpack__"):
        arr, kind = np.asarray(leaf), "numpy"
    else:
        raise CheckpointError(
            f"checkpoint_io.save: the leaf at {where or 'the root'} is a "
            f"{type(leaf).__name__}, which is not an array or a number. Checkpoints hold "
            "arrays, Python/NumPy scalars, strings and None; convert it or drop it from the tree.")
    if arr.dtype.hasobject:
        raise CheckpointError(
            f"checkpoint_io.save: the leaf at {where} has dtype {arr.dtype} (Python objects), "
            "which cannot be saved without pickle. Convert it to a numeric array.")
    if np.dtype(arr.dtype.str) != arr.dtype:
        raise CheckpointError(
            f"checkpoint_io.save: the leaf at {where} has dtype {arr.dtype!r}, which has no "
            "portable NumPy description (e.g. bfloat16 from ml_dtypes). Cast it to a NumPy "
            "dtype such as float32 first.")
    return _contiguous(arr), kind


def _contiguous(arr: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(arr.reshape(-1).view(np.uint8)).hexdigest()


def _pathstr(path) -> str:
    return keystr(path, simple=True, separator="/") or "<root>"


def describe(pytree) -> tuple[dict, list[np.ndarray]]:
    """The manifest and the leaf arrays (contiguous, in flattening order) of `pytree`."""
    structure = _describe_node(pytree, [0], "")
    paths_leaves, _ = tree_flatten_with_path(pytree)
    leaves, arrays = [], []
    for path, leaf in paths_leaves:
        if isinstance(leaf, str):
            continue  # kept inline in the structure
        where = _pathstr(path)
        arr, kind = _leaf_array(leaf, where)
        arrays.append(arr)
        leaves.append({"path": where, "member": f"leaf_{len(leaves):05d}.npy",
                       "dtype": arr.dtype.str, "dtype_name": arr.dtype.name,
                       "shape": list(arr.shape), "kind": kind, "sha256": _sha256(arr)})
    manifest = {"format": FORMAT, "version": VERSION, "structure": structure, "leaves": leaves}
    return manifest, arrays


# --- writing ---------------------------------------------------------------------------------


def fsync_dir(directory: str):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save(path, pytree) -> str:
    """Save `pytree` to the file `path` atomically. See `jumba.checkpoint_io.save`."""
    path = os.path.abspath(os.fspath(path))
    manifest, arrays = describe(pytree)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, separators=(",", ":")))
            for entry, arr in zip(manifest["leaves"], arrays):
                with zf.open(entry["member"], "w", force_zip64=True) as m:
                    np.lib.format.write_array(m, arr, allow_pickle=False)
    fsync_dir(directory)
    return path


# --- reading ---------------------------------------------------------------------------------


def _scan_members(path: str) -> dict[str, bool]:
    """For a file whose zip directory is gone (truncated): member name -> complete?"""
    found = {}
    with open(path, "rb") as f:
        data_end = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 30 <= data_end:
            f.seek(pos)
            head = f.read(30)
            sig, _, _, _, _, _, _, csize, _, nlen, xlen = struct.unpack("<4sHHHHHLLLHH", head)
            if sig != b"PK\x03\x04":
                break
            name = f.read(nlen).decode("utf-8", "replace")
            extra = f.read(xlen)
            if csize == 0xFFFFFFFF:  # zip64: sizes in the extra field (usize, csize)
                i = 0
                while i + 4 <= len(extra):
                    tag, size = struct.unpack("<HH", extra[i:i + 4])
                    if tag == 1 and size >= 16:
                        csize = struct.unpack("<Q", extra[i + 12:i + 20])[0]
                        break
                    i += 4 + size
            start = pos + 30 + nlen + xlen
            found[name] = start + csize <= data_end
            pos = start + csize
    return found


def _truncation_error(path: str) -> CheckpointError:
    try:
        members = _scan_members(path)
    except (OSError, struct.error):
        members = {}
    if MANIFEST not in members:
        return CheckpointError(f"{path} is not a Jumba checkpoint, or is truncated before its "
                               "manifest (no zip directory and no manifest.json found).")
    try:
        with open(path, "rb") as f:
            f.seek(30)
            raw = f.read()
        start = raw.index(b"{")
        manifest, _ = json.JSONDecoder().raw_decode(raw[start:].decode("utf-8", "replace"))
        leaves = manifest["leaves"]
    except (ValueError, KeyError):
        return CheckpointError(f"{path} is truncated (its zip directory is missing).")
    for leaf in leaves:
        if not members.get(leaf["member"], False):
            return CheckpointError(
                f"{path} is truncated: leaf '{leaf['path']}' ({leaf['member']}) and the leaves "
                "after it are missing or incomplete. Restore an earlier checkpoint.")
    return CheckpointError(f"{path} is truncated (its zip directory is missing); every leaf "
                           "is present, but the file cannot be trusted.")


def read_manifest(zf: zipfile.ZipFile, path: str) -> dict:
    try:
        manifest = json.loads(zf.read(MANIFEST))
    except KeyError:
        raise CheckpointError(f"{path} is not a Jumba checkpoint (no {MANIFEST}).") from None
    except (zipfile.BadZipFile, ValueError) as e:
        raise CheckpointError(f"{path}: {MANIFEST} is damaged ({e}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Jumba checkpoint (its manifest has no "
                              f"'format': '{FORMAT}').")
    if manifest.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer Jumba (format version "
                              f"{manifest['version']} > {VERSION}); upgrade jumba to read it.")
    return manifest


def _read_leaf(zf: zipfile.ZipFile, path: str, entry: dict) -> np.ndarray:
    where = f"{path}: leaf '{entry['path']}' ({entry['member']})"
    try:
        with zf.open(entry["member"]) as m:
            arr = np.lib.format.read_array(m, allow_pickle=False)
    except KeyError:
        raise CheckpointError(f"{where} is missing from the file.") from None
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        raise CheckpointError(f"{where} is damaged ({e}).") from None
    if arr.dtype.str != entry["dtype"] or list(arr.shape) != entry["shape"]:
        raise CheckpointError(
            f"{where} is damaged: it holds {arr.dtype.name}{list(arr.shape)} but the manifest "
            f"says {entry['dtype_name']}{entry['shape']}.")
    if _sha256(_contiguous(arr)) != entry["sha256"]:
        raise CheckpointError(f"{where} is damaged: its sha256 checksum does not match the "
                              "manifest (the file was altered or corrupted).")
    return arr


def _to_array(arr: np.ndarray) -> Array:
    target = dtypes.canonicalize_dtype(arr.dtype)
    return Array(arr if arr.dtype == target else arr.astype(target))


def _from_kind(arr: np.ndarray, kind: str):
    if kind == "jumba":
        return _to_array(arr)
    if kind == "numpy":
        return arr
    if kind == "numpy_scalar":
        return arr[()]
    return {"bool": bool, "int": int, "float": float, "complex": complex}[kind](arr.item())


def _rebuild(node: dict, leaves: list):
    t = node["t"]
    if t == "leaf":
        return leaves[node["i"]]
    if t == "none":
        return None
    if t == "str":
        return node["v"]
    kids = [_rebuild(c, leaves) for c in node.get("c", [])]
    if t == "list":
        return kids
    if t == "tuple":
        return tuple(kids)
    if t == "namedtuple":  # the class is not recreated (that would mean running code)
        return dict(zip(node["fields"], kids))
    if t in ("dict", "odict"):
        d = {_decode_key(k): v for k, v in zip(node["keys"], kids)}
        if t == "odict":
            from collections import OrderedDict

            return OrderedDict(d)
        return d
    if t == "node":
        return dict(zip(node["entries"], kids))
    raise CheckpointError(f"unknown node type {t!r} in the checkpoint's structure")


def _string_positions(node: dict, out: list, counter: list[int]):
    t = node["t"]
    if t == "str":
        out.append((counter[0], node["v"]))
        counter[0] += 1
    elif t == "leaf":
        counter[0] += 1
    for c in node.get("c", []):
        _string_positions(c, out, counter)


def _like_leaf(arr: np.ndarray, kind: str, like_leaf, where: str):
    shape = getattr(like_leaf, "shape", None)
    dtype = getattr(like_leaf, "dtype", None)
    if shape is not None and tuple(shape) != arr.shape:
        raise CheckpointError(f"{where}: the checkpoint holds shape {arr.shape} but like= "
                              f"has shape {tuple(shape)}.")
    if dtype is not None and np.dtype(dtype) not in (arr.dtype,
                                                     dtypes.canonicalize_dtype(arr.dtype)):
        raise CheckpointError(f"{where}: the checkpoint holds dtype {arr.dtype} but like= "
                              f"has dtype {np.dtype(dtype)}.")
    if isinstance(like_leaf, np.ndarray):
        return arr
    if isinstance(like_leaf, np.generic):
        return arr[()]
    if type(like_leaf) in _SCALAR_KINDS:
        return type(like_leaf)(arr.item())
    if shape is not None:  # a jumba Array, a ShapeDtypeStruct, another array type
        return _to_array(arr)
    return _from_kind(arr, kind)


def restore(path, like=None):
    """Load the checkpoint file `path`. See `jumba.checkpoint_io.restore`."""
    path = os.path.abspath(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint_io.restore: no checkpoint at {path}.")
    try:
        zf = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile:
        raise _truncation_error(path) from None
    with zf:
        manifest = read_manifest(zf, path)
        entries = manifest["leaves"]
        arrays = [_read_leaf(zf, path, e) for e in entries]
    structure = manifest["structure"]
    if like is None:
        return _rebuild(structure, [_from_kind(a, e["kind"]) for a, e in zip(arrays, entries)])
    # Rebuild the full leaf list (arrays and inline strings) in flattening order.
    strings: list = []
    _string_positions(structure, strings, [0])
    total = len(arrays) + len(strings)
    like_paths_leaves, treedef = tree_flatten_with_path(like)
    if len(like_paths_leaves) != total:
        saved = [e["path"] for e in entries]
        wanted = [_pathstr(p) for p, _ in like_paths_leaves]
        raise CheckpointError(
            f"{path}: the checkpoint has {total} leaves but like= has {len(wanted)}; their "
            f"trees differ. Saved leaves: {saved[:8]}{' ...' if len(saved) > 8 else ''}; "
            f"like= leaves: {wanted[:8]}{' ...' if len(wanted) > 8 else ''}.")
    string_at = dict(strings)
    out: list[Any] = []
    it = iter(zip(arrays, entries))
    for i, (p, like_leaf) in enumerate(like_paths_leaves):
        if i in string_at:
            out.append(string_at[i])
            continue
        arr, entry = next(it)
        out.append(_like_leaf(arr, entry["kind"], like_leaf,
                              f"{path}: leaf '{entry['path']}' (like= leaf '{_pathstr(p)}')"))
    return treedef.unflatten(out)
