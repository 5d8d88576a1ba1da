"""Shared fixtures: tiny configs, a private tfds data dir, the shared real data."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tfds_dir(tmp_path_factory) -> str:
  """A tfds data dir private to this test session (the embedded set is built into it once)."""
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture
def smoke_config(tfds_dir):
  """The dcgan smoke config, unlocked for edits, writing no TensorBoard files and no run report."""
  from experiments.configs import dcgan
  config = dcgan.get_config("smoke")
  config.data.data_dir = tfds_dir
  config.log.tensorboard = False
  config.log.report = False
  return config


def module_env(env: dict | None = None) -> dict:
  """The environment of a `python -m experiments.*` subprocess: this session's compilation cache, plus `env`."""
  import jax
  cache = {"JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir or "",
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
  return {**os.environ, **cache, **(env or {})}


def run_module(module: str, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
  """Runs `python -m module args` from the repo root; returns the completed process (text output)."""
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=module_env(env), capture_output=True,
                        text=True, timeout=timeout)


def pytest_xdist_auto_num_workers(config):
  """`-n auto` (pyproject's addopts): one worker per usable core, at most 4.

  Each worker imports JAX and compiles its own programs, so a many-core machine gets a few workers,
  not one per core. PYTEST_XDIST_AUTO_NUM_WORKERS still overrides this (pytest-xdist reads it only in
  its own implementation of this hook, which this one replaces).
  """
  del config
  if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").isdigit():
    return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
  return max(1, min(cores, 4))


def pytest_configure(config):
  # Many tests compile the same tiny programs in fresh closures; a persistent
  # compilation cache shared by the session turns the repeats into cache hits.
  import tempfile

  import jax
  cache = os.environ.get("JGAN_TEST_JAX_CACHE") or os.path.join(tempfile.gettempdir(), "jgan-test-jax-cache")
  jax.config.update("jax_compilation_cache_dir", cache)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
