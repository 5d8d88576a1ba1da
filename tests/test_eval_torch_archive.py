"""The restricted unpickler: torch files read without torch, and nothing executed from them."""
import io
import os
import pathlib
import pickle
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
