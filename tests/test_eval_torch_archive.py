"""The restricted unpickler: torch files read without torch, and nothing executed from them."""
import io
import os
import pathlib
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.features import torch_archive

DATA = pathlib.Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["torch_state_zip.pth", "torch_state_legacy.pth"])
def test_torch_save_files_load_as_numpy(name):
  tree = torch_archive.load(str(DATA / name))
  with np.load(DATA / "torch_expected.npz") as expected:
    assert list(tree) == list(expected.files)
    for key in expected.files:
      assert tree[key].dtype == expected[key].dtype, key
      np.testing.assert_array_equal(tree[key], expected[key], err_msg=key)
  assert tree["transposed"].flags.c_contiguous  # strided views come back as owned copies


class _Boom:
  def __reduce__(self):
    return (os.system, ("echo pwned > /dev/null",))


def test_pickles_that_run_code_are_refused_before_running(tmp_path):
  payload = pickle.dumps({"weight": _Boom()}, protocol=2)
  with pytest.raises(torch_archive.UnsafeArchiveError, match="refusing to load .*system") as error:
    torch_archive.load(payload)  # the legacy path: starts with the pickle itself
  assert "\n" not in str(error.value)
  # Inside a zip as data.pkl, too.
  path = tmp_path / "evil.pt"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", payload)
  with pytest.raises(torch_archive.UnsafeArchiveError):
    torch_archive.load(str(path))


class _Layer:
  pass


def test_torchscript_module_classes_become_inert_records():
  # Pickle an object of an ordinary class, then rename its GLOBAL to a TorchScript-style class that
  # exists nowhere: the unpickler must rebuild a plain record, never import or call anything.
  layer = _Layer()
  layer.stride, layer.padding = 2, [0, 3]
  payload = pickle.dumps({"layer": layer}, protocol=2)
  original = f"c{_Layer.__module__}\n_Layer\n".encode()
  assert original in payload
  payload = payload.replace(original, b"c__torch__.fake\nConv2dLayer\n")
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, "w") as archive:
    archive.writestr("model/data.pkl", payload)
  tree = torch_archive.load(buffer.getvalue())
  record = tree["layer"]
  assert isinstance(record, torch_archive.ScriptObject)
  assert record.qualified_name == "__torch__.fake.Conv2dLayer"
  assert record.attributes == {"stride": 2, "padding": [0, 3]}
  assert torch_archive.module_tensors(tree) == {"layer.stride": 2, "layer.padding": [0, 3]}


def test_files_that_are_not_torch_files_are_user_errors(tmp_path):
  path = tmp_path / "notes.pth"
  path.write_bytes(b"not a pickle at all")
  with pytest.raises(UserError, match="not a PyTorch weights file"):
    torch_archive.load(str(path))


def _builder():
  """tests/scripts/fuzz_torch_archive.py: a hand-written pickle writer and the two torch file layouts."""
  import importlib.util
  spec = importlib.util.spec_from_file_location("fuzz_torch_archive", DATA.parent / "scripts/fuzz_torch_archive.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("offset,size,stride", [
    (-256, (256,), (1,)),   # clamped by flat[offset:], then read 1 KiB of heap as "weights"
    (-1, (), ()),
    (3, (4,), (-1,)),       # a negative stride walks backwards out of the storage
    (0, (2, 2), (2, -1)),
    (0, (-3,), (1,)),
    (4, (), ()),            # one past the end
    (2, (2,), (2,)),        # the last element it reads is 4: past the end
    (0, (True,), (1,)),     # not whole numbers
    (0.5, (1,), (1,)),
])
def test_tensor_views_outside_their_storage_are_refused(legacy, offset, size, stride):
  b = _builder()
  raw = np.arange(4, dtype=np.float32).tobytes()
  pickled = b.dumps(b.OrderedPairs([("w", b.tensor("0", "FloatStorage", 4, offset, size, stride, legacy))]))
  data = b.legacy_file(pickled, {"0": (4, raw)}) if legacy else b.zip_file(pickled, {"0": raw})
  with pytest.raises(UserError, match="corrupt weights file") as error:
    torch_archive.load(data)
  assert "\n" not in str(error.value)


@pytest.mark.parametrize("legacy", [False, True])
def test_valid_strided_views_read_exactly_their_elements(legacy):
  b = _builder()
  flat = np.arange(12, dtype=np.float32)
  tensors = {"t": (1, (3, 2), (1, 3)), "broadcast": (5, (2, 3), (0, 1)), "scalar": (11, (), ()),
             "last": (0, (4, 3), (3, 1)), "one": (7, (1, 1), (99, 99))}
  pickled = b.dumps(b.OrderedPairs([(k, b.tensor("0", "FloatStorage", 12, *v, legacy)) for k, v in tensors.items()]))
  data = b.legacy_file(pickled, {"0": (12, flat.tobytes())}) if legacy else b.zip_file(pickled, {"0": flat.tobytes()})
  tree = torch_archive.load(data)
  for key, (offset, size, stride) in tensors.items():
    np.testing.assert_array_equal(tree[key], b.expected_view(flat, offset, size, stride)[1], err_msg=key)
    assert tree[key].flags.c_contiguous and tree[key].flags.owndata


def test_fuzzed_weight_files_give_arrays_from_the_file_or_one_user_error(tmp_path):
  # In a subprocess: before the bounds checks a crafted offset made numpy read 64 MiB outside the buffer (SIGSEGV).
  canary = tmp_path / "canary"
  canary.mkdir()
  proc = subprocess.run([sys.executable, str(DATA.parent / "scripts/fuzz_torch_archive.py"), "11", "1500",
                         str(canary)], capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
  assert proc.stdout.startswith("OK"), proc.stdout
  assert not list(canary.iterdir())
