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


def test_without_filelock_the_cache_stays_uncapped_and_readable(tmp_path, monkeypatch, restore_jax_cache_config):
  # JAX's size cap needs `filelock` for every read; without the package a capped cache is written but never read.
  jax.config.update("jax_compilation_cache_max_size", -1)
  monkeypatch.setattr(compile_cache, "_has_filelock", lambda: False)
  assert compile_cache.enable({"JGAN_COMPILATION_CACHE": str(tmp_path / "c")}) == str(tmp_path / "c")
  assert jax.config.jax_compilation_cache_max_size == -1
  monkeypatch.setattr(compile_cache, "_has_filelock", lambda: True)
  compile_cache.enable({"JGAN_COMPILATION_CACHE": str(tmp_path / "c")})
  assert jax.config.jax_compilation_cache_max_size == compile_cache.MAX_BYTES


def test_entries_of_an_uncapped_cache_get_access_times_so_the_cap_can_evict(tmp_path, restore_jax_cache_config):
  from jax._src import lru_cache  # JAX's own capped cache reads what backfill_access_times writes
  folder = tmp_path / "c"
  folder.mkdir()
  (folder / "old-cache").write_bytes(b"x" * 10)     # written while the cache had no cap: no access time
  (folder / "kept-cache").write_bytes(b"y" * 10)
  (folder / "kept-atime").write_bytes((123).to_bytes(8, "little"))
  os.utime(folder / "old-cache", ns=(5_000_000_000, 7_000_000_000))
  assert compile_cache.backfill_access_times(str(folder)) == 1
  assert int.from_bytes((folder / "old-atime").read_bytes(), "little") == 7_000_000_000
  assert int.from_bytes((folder / "kept-atime").read_bytes(), "little") == 123
  assert compile_cache.backfill_access_times(str(folder)) == 0
  cache = lru_cache.LRUCache(str(folder), max_size=25)
  cache.put("new", b"z" * 10)                       # evicts the oldest ("kept", then nothing more) without error
  assert (folder / "new-cache").exists() and not (folder / "kept-cache").exists() and (folder / "old-cache").exists()
