"""The persistent compilation cache: where it lives, how to turn it off, and that a bad folder only warns."""
from __future__ import annotations

import os

import jax
import pytest

from jgan.core import compile_cache


def test_resolve_order(tmp_path):
  home = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
  assert compile_cache.resolve(home) == str(tmp_path / "xdg" / "jgan" / "xla")
  assert compile_cache.resolve({"HOME": str(tmp_path)}).endswith(os.path.join(".cache", "jgan", "xla"))
  assert compile_cache.resolve({**home, "JAX_COMPILATION_CACHE_DIR": "/j"}) == "/j"  # JAX's own setting is kept
  ours = {**home, "JAX_COMPILATION_CACHE_DIR": "/j", "JGAN_COMPILATION_CACHE": str(tmp_path / "mine")}
  assert compile_cache.resolve(ours) == str(tmp_path / "mine")
  for off in ("off", "0", "False", " no "):
    assert compile_cache.resolve({**ours, "JGAN_COMPILATION_CACHE": off}) is None


@pytest.fixture
def restore_jax_cache_config():
  names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
           "jax_compilation_cache_max_size")
  saved = {name: getattr(jax.config, name) for name in names}
  yield
  for name, value in saved.items():
    jax.config.update(name, value)


def test_enable_points_jax_at_the_folder(tmp_path, restore_jax_cache_config):
  path = compile_cache.enable({"JGAN_COMPILATION_CACHE": str(tmp_path / "c")})
  assert path == str(tmp_path / "c") and os.path.isdir(path)
  assert jax.config.jax_compilation_cache_dir == path
  assert jax.config.jax_persistent_cache_min_compile_time_secs == compile_cache.MIN_COMPILE_SECONDS
  assert jax.config.jax_compilation_cache_max_size == compile_cache.MAX_BYTES


def test_a_folder_that_cannot_be_made_turns_the_cache_off_with_one_warning(tmp_path, capsys,
                                                                         restore_jax_cache_config):
  (tmp_path / "file").write_text("not a folder")
  before = jax.config.jax_compilation_cache_dir
  assert compile_cache.enable({"JGAN_COMPILATION_CACHE": str(tmp_path / "file" / "c")}) is None
  assert jax.config.jax_compilation_cache_dir == before
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "compilation cache off" in err[0] and "JGAN_COMPILATION_CACHE" in err[0]
  assert compile_cache.enable({"JGAN_COMPILATION_CACHE": "off"}) is None
