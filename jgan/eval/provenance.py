"""What a score was computed with, recorded next to every score.

`environment()` gives the software side (jgan and jax versions, backend);
`array_identity()` the content hash of an image set. Together with the
extractor's own record (name, weights SHA-256, resize) and the sample counts
and seed they make a score reproducible and its cache key unambiguous.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os

import jax
import numpy as np


def jgan_version() -> str:
  try:
    return importlib.metadata.version("jgan")
  except importlib.metadata.PackageNotFoundError:
    # Running from a checkout that was never pip-installed: read the version it declares.
    import tomllib
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "pyproject.toml")
    try:
      with open(path, "rb") as f:
        return tomllib.load(f)["project"]["version"] + "+checkout"
    except (OSError, KeyError, ValueError):
      return "unknown"


def environment() -> dict:
  return {"jgan_version": jgan_version(), "jax_version": jax.__version__,
          "backend": jax.default_backend(), "num_devices": jax.device_count()}


def array_sha256(images: np.ndarray) -> str:
  """SHA-256 of an array's dtype, shape and bytes."""
  images = np.ascontiguousarray(images)
  digest = hashlib.sha256(f"{images.dtype.str}|{images.shape}|".encode())
  digest.update(images.tobytes())
  return digest.hexdigest()
