"""Fuzzes jgan.features.torch_archive.load with crafted and damaged PyTorch weight files.

    python tests/scripts/fuzz_torch_archive.py SEED CASES CANARY_DIR

Runs in its own process (tests/test_eval_torch_archive.py starts it) because a
memory-unsafe read would kill it with SIGSEGV rather than raise. Every case
must either return a tree whose arrays hold bytes of the file's own storages
(for crafted tensors: exactly the elements torch would view) or raise one
UserError; anything else is printed and the script exits with status 1. The
pickles built here name os.system, builtins.exec & co. with commands that
would create files in CANARY_DIR: none may appear.

Archives are built by hand (no torch): a small pickle protocol-2 writer, zip
members `archive/data.pkl` + `archive/data/<key>` for the zip format, and the
legacy stream (magic, protocol, system info, object pickle, storage keys, then
each storage as an int64 element count and its bytes).
"""
from __future__ import annotations

import collections
import io
import math
import os
import pathlib
import pickle
import random
import struct
import sys
import zipfile

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from jgan.core.errors import UserError  # noqa: E402
from jgan.features import torch_archive  # noqa: E402

# ------------------------------------------------------------------ a pickle protocol-2 writer


class Global:
  def __init__(self, module: str, name: str):
    self.module, self.name = module, name


class Call:
  """fn(*args) through REDUCE."""

  def __init__(self, fn, *args):
    self.fn, self.args = fn, args


class PersistentId:
  def __init__(self, value):
    self.value = value


class OrderedPairs:
  """collections.OrderedDict() then SETITEMS, as torch writes a state dict."""

  def __init__(self, pairs):
    self.pairs = list(pairs)


class Raw:
  """Opcodes written as they are."""

  def __init__(self, data: bytes):
    self.data = data


def _emit(obj, out: bytearray) -> None:
  if isinstance(obj, Raw):
    out += obj.data
  elif obj is None:
    out += b"N"
  elif obj is True:
    out += b"\x88"
  elif obj is False:
    out += b"\x89"
  elif isinstance(obj, int):
    out += pickle.dumps(obj, protocol=2)[2:-1]
  elif isinstance(obj, float):
    out += b"G" + struct.pack(">d", obj)
  elif isinstance(obj, str):
    data = obj.encode("utf-8", "surrogatepass")
    out += b"X" + struct.pack("<I", len(data)) + data
  elif isinstance(obj, tuple):
    out += b"("
    for item in obj:
      _emit(item, out)
    out += b"t"
  elif isinstance(obj, list):
    out += b"]("
    for item in obj:
      _emit(item, out)
    out += b"e"
  elif isinstance(obj, dict):
    out += b"}("
    for key, value in obj.items():
      _emit(key, out)
      _emit(value, out)
    out += b"u"
  elif isinstance(obj, Global):
    out += b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n"
  elif isinstance(obj, Call):
    _emit(obj.fn, out)
    _emit(tuple(obj.args), out)
    out += b"R"
  elif isinstance(obj, PersistentId):
    _emit(obj.value, out)
    out += b"Q"
  elif isinstance(obj, OrderedPairs):
    _emit(Call(Global("collections", "OrderedDict")), out)
    out += b"("
    for key, value in obj.pairs:
      _emit(key, out)
      _emit(value, out)
    out += b"u"
  else:
    raise TypeError(type(obj))


def dumps(obj) -> bytes:
  out = bytearray(b"\x80\x02")
  _emit(obj, out)
  return bytes(out + b".")


# ------------------------------------------------------------------ torch files

DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
          "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
          "ByteStorage": np.uint8, "BoolStorage": np.bool_, "BFloat16Storage": None}


def tensor(key: str, storage_type: str, numel, offset, size, stride, legacy: bool):
  pid = ("storage", Global("torch", storage_type), key, "cpu", numel) + ((None,) if legacy else ())
  return Call(Global("torch._utils", "_rebuild_tensor_v2"), PersistentId(pid), offset, size, stride, False,
              OrderedPairs([]))


def zip_file(tree_pickle: bytes, storages: dict[str, bytes], root: str = "archive") -> bytes:
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
    archive.writestr(f"{root}/data.pkl", tree_pickle)
    for key, raw in storages.items():
      archive.writestr(f"{root}/data/{key}", raw)
  return buffer.getvalue()


def legacy_file(tree_pickle: bytes, storages: dict[str, tuple[int, bytes]], keys=None) -> bytes:
  out = bytearray()
  out += dumps(0x1950A86A20F9469CFC6C) + dumps(1001)
  out += dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}})
  out += tree_pickle
  out += dumps(list(storages) if keys is None else keys)
  for numel, raw in storages.values():
    out += struct.pack("<q", numel) + raw
  return bytes(out)


def storage_bytes(rng: random.Random, storage_type: str, numel: int) -> bytes:
  dtype = DTYPES[storage_type]
  itemsize = 2 if dtype is None else np.dtype(dtype).itemsize
  return bytes(rng.getrandbits(8) for _ in range(numel * itemsize))


def storage_array(storage_type: str, raw: bytes) -> np.ndarray:
  dtype = DTYPES[storage_type]
  if dtype is None:
    return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
  if dtype == np.bool_:
    return np.frombuffer(raw, np.uint8) != 0
  return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype)


def expected_view(flat: np.ndarray, offset, size, stride):
  """What torch would return, by explicit index arithmetic: ("refuse", None) for a view outside the
  storage or with negative or non-integer numbers, ("large", None) past 16 MiB (not built here), else
  ("ok", array)."""
  values = (offset, *size, *stride)
  if len(size) != len(stride) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                         for v in values):
    return "refuse", None
  if any(s == 0 for s in size):
    try:
      return "ok", np.zeros(size, flat.dtype)
    except ValueError:  # numpy cannot shape even an empty array with an axis this long
      return "refuse", None
  last = offset + sum((s - 1) * st for s, st in zip(size, stride))
  if last >= flat.size:
    return "refuse", None
  if math.prod(size) * flat.dtype.itemsize > (16 << 20):
    return "large", None
  index = np.full(size, offset, np.int64)
  for axis, (s, st) in enumerate(zip(size, stride)):
    shape = [1] * len(size)
    shape[axis] = s
    index = index + (np.arange(s, dtype=np.int64) * (st if s > 1 else 0)).reshape(shape)
  return "ok", flat[index]


# ------------------------------------------------------------------ checks

class Failure(Exception):
  pass


def walk(tree, seen=None):
  """Yields every leaf of a loaded tree; fails on anything but arrays, plain values and containers."""
  seen = set() if seen is None else seen
  if id(tree) in seen:
    return
  seen.add(id(tree))
  if isinstance(tree, np.ndarray):
    yield tree
  elif isinstance(tree, torch_archive.ScriptObject):
    yield from walk(tree.attributes, seen)
  elif isinstance(tree, dict):
    for key, value in tree.items():
      yield from walk(key, seen)
      yield from walk(value, seen)
  elif isinstance(tree, (list, tuple)):
    for value in tree:
      yield from walk(value, seen)
  elif tree is None or isinstance(tree, (bool, int, float, str, bytes, complex)):
    return
  else:
    raise Failure(f"returned a {type(tree).__name__}: {tree!r:.200}")


def check_inside_file(tree, data: bytes) -> None:
  """Every element of every returned array is a run of the file's bytes (storages are stored as they are)."""
  for array in walk(tree):
    if array.dtype == object:
      raise Failure("returned an object array")
    if not array.flags.owndata and array.base is not None and not isinstance(array.base, np.ndarray):
      raise Failure("returned a view of foreign memory")
    if array.size == 0:
      continue
    raw = np.ascontiguousarray(array)
    if raw.dtype == np.float32 and array.dtype == np.float32:
      # bfloat16 storages come back widened: compare their upper halves
      chunks = {raw.view(np.uint8).reshape(-1, 4)[i].tobytes() for i in range(min(raw.size, 64))}
      halves = {c[2:] for c in chunks}
      if all(c in data for c in chunks) or all(h in data for h in halves):
        continue
      raise Failure(f"returned float32 values not in the file: {raw.ravel()[:8]}")
    itemsize = raw.dtype.itemsize
    flat = raw.view(np.uint8).reshape(-1, itemsize)
    for i in range(min(len(flat), 64)):
      if flat[i].tobytes() not in data:
        raise Failure(f"returned an element not in the file: {flat[i].tobytes()!r}")


def load_expecting(data: bytes, what: str):
  """(tree or None): the tree, or None after a UserError; raises Failure for anything else."""
  try:
    tree = torch_archive.load(data)
  except UserError as e:
    message = str(e)
    if "\n" in message or len(message) > 2000:
      raise Failure(f"{what}: a UserError that is not one short line: {message[:300]!r}") from None
    return None
  except Exception as e:  # noqa: BLE001 - the very thing this script looks for
    raise Failure(f"{what}: raised {type(e).__name__}: {str(e)[:300]}") from None
  list(walk(tree))
  return tree


# ------------------------------------------------------------------ case generators

def _int_choice(rng: random.Random, valid_max: int):
  roll = rng.random()
  if roll < 0.55:
    return rng.randint(0, max(0, valid_max))
  return rng.choice([-1, -2, -256, -(1 << 24), -(1 << 62), 1 << 24, 1 << 31, 1 << 62, 1 << 64, 1 << 100,
                     True, 1.5, "3", None, (1,), -0])


def crafted_tensor_case(rng: random.Random) -> None:
  storage_type = rng.choice(list(DTYPES))
  numel = rng.randint(0, 24)
  raw = storage_bytes(rng, storage_type, numel)
  flat = storage_array(storage_type, raw)
  ndim = rng.randint(0, 4)
  size = tuple(_int_choice(rng, 5) if rng.random() < 0.9 else rng.choice([0, 1 << 16]) for _ in range(ndim))
  stride = tuple(_int_choice(rng, 6) for _ in range(ndim if rng.random() < 0.95 else ndim + 1))
  offset = _int_choice(rng, numel)
  legacy = rng.random() < 0.5
  node = tensor("0", storage_type, numel, offset, size, stride, legacy)
  pickled = dumps(OrderedPairs([("w", node)]))
  data = legacy_file(pickled, {"0": (numel, raw)}) if legacy else zip_file(pickled, {"0": raw})
  what = f"tensor {storage_type}[{numel}] offset={offset!r} size={size!r} stride={stride!r} legacy={legacy}"
  tree = load_expecting(data, what)
  status, expected = expected_view(flat, offset, size, stride)
  if status == "refuse":
    if tree is not None:
      raise Failure(f"{what}: returned {tree['w'].shape} for a view torch would refuse")
    return
  if status == "large":  # the reader may refuse it (its expansion budget) or return it
    if tree is not None and tree["w"].shape != tuple(size):
      raise Failure(f"{what}: wrong shape {tree['w'].shape}")
    return
  if tree is None:
    raise Failure(f"{what}: refused a valid view")
  got = tree["w"]
  if got.shape != expected.shape or got.dtype != expected.dtype:
    raise Failure(f"{what}: got {got.shape} {got.dtype}, expected {expected.shape} {expected.dtype}")
  if got.tobytes() != expected.tobytes():
    raise Failure(f"{what}: wrong values")


def regression_cases() -> None:
  """The reads that went outside the buffer before the checks (SIGSEGV, heap bytes as weights)."""
  raw = np.arange(4, dtype=np.float32).tobytes()
  for offset, size, stride in [(-(1 << 24), (1 << 24,), (1,)), (-256, (256,), (1,)), (3, (4,), (-1,)),
                               (0, (2, 2), (2, -1)), (-1, (), ()), (0, (-3,), (1,)), (4, (), ()),
                               (1 << 62, (1,), (1,)), (0, (1 << 62, 0), (1, 1)), (0, (1,), (1 << 70,))]:
    for legacy in (False, True):
      node = tensor("0", "FloatStorage", 4, offset, size, stride, legacy)
      pickled = dumps(OrderedPairs([("w", node)]))
      data = legacy_file(pickled, {"0": (4, raw)}) if legacy else zip_file(pickled, {"0": raw})
      what = f"regression offset={offset} size={size} stride={stride} legacy={legacy}"
      tree = load_expecting(data, what)
      status, expected = expected_view(np.arange(4, dtype=np.float32), offset, size, stride)
      if status == "refuse" and tree is not None:
        raise Failure(f"{what}: returned an array")
      if status == "ok" and (tree is None or not np.array_equal(tree["w"], expected)):
        raise Failure(f"{what}: wrong result")


DANGEROUS = [("os", "system"), ("posix", "system"), ("builtins", "exec"), ("builtins", "eval"),
             ("__builtin__", "eval"), ("subprocess", "call"), ("builtins", "open"), ("builtins", "getattr"),
             ("torch._utils", "__builtins__"), ("torch._utils", "_rebuild_tensor_v2.__globals__"),
             ("collections", "namedtuple"), ("numpy", "frombuffer"), ("numpy.core.multiarray", "_reconstruct"),
             ("torch", "load"), ("torch.serialization", "load"), ("__torch__", "__class__"),
             ("jgan.features.torch_archive", "_ALLOWED"), ("pickle", "loads"), ("shutil", "rmtree")]


def dangerous_case(rng: random.Random, canary: str) -> None:
  module, name = rng.choice(DANGEROUS)
  target = os.path.join(canary, f"pwned-{module}-{name}")
  command = f"touch {target}"
  arg = rng.choice([command, f"open({target!r}, 'w')", target, (command,)])
  payload = Call(Global(module, name), *(arg if isinstance(arg, tuple) else (arg,)))
  tree = OrderedPairs([("w", payload)]) if rng.random() < 0.5 else [payload, {"k": payload}]
  pickled = dumps(tree)
  data = zip_file(pickled, {}) if rng.random() < 0.5 else legacy_file(pickled, {})
  if rng.random() < 0.3:
    data = pickled  # a bare pickle
  tree = load_expecting(data, f"dangerous {module}.{name}")
  # __torch__.* classes become inert ScriptObject records; every other name must be refused.
  if tree is not None and not module.startswith("__torch__"):
    raise Failure(f"dangerous {module}.{name}: returned a tree")


OPCODES = [b"(", b")", b"]", b"}", b"t", b"e", b"a", b"u", b"s", b"R", b"b", b"Q", b"N", b"\x88", b"\x89",
           b"K\x05", b"J\xff\xff\xff\xff", b"X\x03\x00\x00\x00abc", b"X\xff\xff\xff\x7fab", b"q\x00", b"h\x00",
           b"r\x00\x00\x00\x00", b"j\x00\x00\x00\x00", b"0", b"2", b"\x81", b"\x85", b"\x86", b"\x87", b"1",
           b"\x8a\x01\xff", b"\x8b\xff\xff\xff\x7f\x01", b"G" + struct.pack(">d", float("nan")),
           b"ctorch._utils\n_rebuild_tensor_v2\n", b"ccollections\nOrderedDict\n", b"ctorch\nFloatStorage\n",
           b"c__torch__.m\nM\n", b"ctorch.jit._pickle\nbuild_intlist\n", b"ctorch\nQInt8Storage\n", b"c\n\n",
           b"\x95" + struct.pack("<Q", 1 << 40), b"B\xff\xff\xff\x7f", b"C\x05abc", b"\x8c\x01a", b"\x93",
           b"X\x07\x00\x00\x00storage", b"X\x03\x00\x00\x00cpu", b"X\x01\x00\x00\x000", b"."]


def opcode_soup_case(rng: random.Random) -> None:
  body = b"".join(rng.choice(OPCODES) for _ in range(rng.randint(1, 40)))
  pickled = b"\x80\x02" + body + (b"." if rng.random() < 0.8 else b"")
  raw = np.arange(8, dtype=np.float32).tobytes()
  kind = rng.random()
  if kind < 0.4:
    data = zip_file(pickled, {"0": raw})
  elif kind < 0.8:
    data = legacy_file(pickled, {"0": (8, raw)})
  else:
    data = pickled
  tree = load_expecting(data, f"opcodes {pickled[:80]!r}")
  if tree is not None:
    check_inside_file(tree, data)


def structure_cases() -> None:
  """Cycles, shared subtrees, deep nesting, odd headers: refused or read, quickly."""
  raw = np.arange(4, dtype=np.float32).tobytes()
  self_list = b"\x80\x02]q\x00h\x00a."  # a list that contains itself
  laughs = bytearray(b"\x80\x02K\x01q\x00")
  for i in range(1, 64):  # 2^63 paths through 64 shared lists
    laughs += b"(h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"lq" + bytes([i])
  laughs += b"."
  deep = b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b"."
  tensor_twice = dumps([tensor("0", "FloatStorage", 4, 0, (4,), (1,), False)] * 2)
  cases = {
      "self-referencing list": zip_file(self_list, {}),
      "billion laughs": zip_file(bytes(laughs), {}),
      "deep nesting": zip_file(deep, {}),
      "zip without data.pkl": zip_file(b"", {}).replace(b"archive/data.pkl", b"archive/other.pk"),
      "missing storage": zip_file(dumps(OrderedPairs([("w", tensor("9", "FloatStorage", 4, 0, (4,), (1,),
                                                                     False))])), {"0": raw}),
      "short storage": zip_file(dumps(OrderedPairs([("w", tensor("0", "FloatStorage", 400, 0, (4,), (1,),
                                                                     False))])), {"0": raw}),
      "odd storage bytes": zip_file(dumps(OrderedPairs([("w", tensor("0", "FloatStorage", 1, 0, (1,), (1,),
                                                                         False))])), {"0": raw[:5]}),
      "bare storage": zip_file(dumps({"s": PersistentId(("storage", Global("torch", "FloatStorage"), "0", "cpu",
                                                                   4))}), {"0": raw}),
      "bare global": zip_file(dumps({"f": Global("torch._utils", "_rebuild_tensor_v2")}), {}),
      "unsupported storage": zip_file(dumps(OrderedPairs([("w", tensor("0", "QInt8Storage", 4, 0, (4,), (1,),
                                                                          False))])), {"0": raw}),
      "shared tensor": zip_file(tensor_twice, {"0": raw}),
      "legacy bad magic": dumps(12345) + dumps(1001),
      "legacy keys not a list": legacy_file(dumps([]), {}, keys=7),
      "legacy unknown key": legacy_file(dumps([]), {}, keys=["9"]),
      "legacy negative numel": legacy_file(dumps([tensor("0", "FloatStorage", 4, 0, (4,), (1,), True)]),
                                           {"0": (-5, raw)}),
      "legacy huge numel": legacy_file(dumps([tensor("0", "FloatStorage", 4, 0, (4,), (1,), True)]),
                                       {"0": ((1 << 62), raw)}),
      "legacy truncated": legacy_file(dumps([tensor("0", "FloatStorage", 4, 0, (4,), (1,), True)]),
                                      {"0": (4, raw)})[:-3],
      "empty": b"",
      "not a pickle": b"\x00" * 64,
  }
  bomb = io.BytesIO()
  with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("archive/data.pkl", b"\x80\x02N." + b"\x00" * (64 << 20))
  cases["zip bomb"] = bomb.getvalue()
  for what, data in cases.items():
    tree = load_expecting(data, what)
    if tree is not None:
      check_inside_file(tree, data)
  shared = torch_archive.load(zip_file(tensor_twice, {"0": raw}))
  if not all(np.array_equal(x, np.arange(4, dtype=np.float32)) for x in shared):
    raise Failure("two tensors on one storage do not both come back")


def mutation_case(rng: random.Random, seeds: list[bytes]) -> None:
  data = bytearray(rng.choice(seeds))
  for _ in range(rng.randint(1, 8)):
    roll = rng.random()
    if roll < 0.5 and data:
      data[rng.randrange(len(data))] = rng.getrandbits(8)
    elif roll < 0.65 and data:
      del data[rng.randrange(len(data)):][:rng.randint(1, 64)]
    elif roll < 0.8:
      at = rng.randrange(len(data) + 1)
      data[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 16)))
    elif roll < 0.9 and data:
      data = data[:rng.randrange(len(data))]
    elif data:
      start = rng.randrange(len(data))
      chunk = data[start:start + rng.randint(1, 64)]
      at = rng.randrange(len(data) + 1)
      data[at:at] = chunk
  data = bytes(data)
  tree = load_expecting(data, f"mutation of {len(data)} bytes")
  if tree is None:
    return
  stored = True
  if data[:4] == b"PK\x03\x04":
    try:
      with zipfile.ZipFile(io.BytesIO(data)) as archive:
        stored = all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    except Exception:  # noqa: BLE001
      stored = False
  if stored:
    check_inside_file(tree, data)


def seed_files(rng: random.Random) -> list[bytes]:
  seeds = [(REPO / "tests/data" / name).read_bytes() for name in ("torch_state_zip.pth", "torch_state_legacy.pth")]
  for legacy in (False, True):
    raw = np.arange(24, dtype=np.float32).tobytes()
    tree = OrderedPairs([("a", tensor("0", "FloatStorage", 24, 0, (4, 6), (6, 1), legacy)),
                         ("b", tensor("0", "FloatStorage", 24, 1, (6, 4), (1, 6), legacy)),
                         ("c", tensor("1", "HalfStorage", 3, 0, (3,), (1,), legacy))])
    half = np.array([0.5, 1.5, -2.0], np.float16).tobytes()
    pickled = dumps(tree)
    seeds.append(legacy_file(pickled, {"0": (24, raw), "1": (3, half)}) if legacy
                 else zip_file(pickled, {"0": raw, "1": half}))
  return seeds


def main() -> int:
  seed, cases, canary = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
  rng = random.Random(seed)
  counts = collections.Counter()
  try:
    regression_cases()
    counts["regression"] += 1
    structure_cases()
    counts["structure"] += 1
    seeds = seed_files(rng)
    for i in range(cases):
      kind = ("tensor", "tensor", "mutation", "mutation", "opcodes", "dangerous")[i % 6]
      if kind == "tensor":
        crafted_tensor_case(rng)
      elif kind == "mutation":
        mutation_case(rng, seeds)
      elif kind == "opcodes":
        opcode_soup_case(rng)
      else:
        dangerous_case(rng, canary)
      counts[kind] += 1
  except Failure as e:
    print(f"FAIL after {dict(counts)}: {e}", flush=True)
    return 1
  planted = os.listdir(canary)
  if planted:
    print(f"FAIL: code ran: {planted}", flush=True)
    return 1
  print(f"OK {dict(counts)}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
