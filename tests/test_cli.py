"""The command-line entry points: the smoke run, sampling, and one-line errors for bad input and faults."""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, module_env, run_module
from PIL import Image

SMOKE = "--config=experiments/configs/dcgan.py:smoke"


def _assert_one_line_error(proc, *needles, only_line=False):
  """Exit status 2 for a user's problem (3 for divergence), one `error:` line, no traceback; with
  `only_line`, nothing else on stderr."""
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(lines) == 1, proc.stderr[-2000:]
  for needle in needles:
    assert needle in lines[0], lines[0]
  if only_line:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.strip() == lines[0], proc.stderr[-2000:]


def test_smoke_run_then_sample_png_and_npz(tmp_path, tfds_dir):
  workdir = tmp_path / "run"
  cache = tmp_path / "xla"  # a run's own compilation cache (jgan.core.compile_cache), filled as it compiles
  proc = run_module("experiments.dcgan", SMOKE, f"--workdir={workdir}", f"--config.data.data_dir={tfds_dir}",
                    env={"JGAN_COMPILATION_CACHE": str(cache)})
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "step 6/6" in proc.stdout
  assert "first step: " in proc.stdout and str(cache) in proc.stdout
  assert len(list(cache.iterdir())) >= 2  # at least the initialisation and the train step
  # Every lookup is a read: a cache that can be written but not read (JAX's size cap without `filelock`) warns here.
  assert "Error reading persistent compilation cache" not in proc.stderr, proc.stderr[-3000:]
  for name in ("config.json", "metrics.jsonl", "samples/latest.png", "checkpoints/6"):
    assert (workdir / name).exists(), name
  assert list((workdir / "tensorboard").iterdir())
  proc = run_module("experiments.sample", f"--workdir={workdir}", "--num=5", f"--out={tmp_path / 's.npz'}", "--seed=3")
  assert proc.returncode == 0, proc.stderr[-3000:]
  images = np.load(tmp_path / "s.npz")["images"]
  assert images.dtype == np.uint8 and images.shape == (5, 28, 28, 1)
  proc = run_module("experiments.sample", f"--workdir={workdir}", "--num=5", f"--out={tmp_path / 's.png'}", "--seed=3")
  assert proc.returncode == 0 and Image.open(tmp_path / "s.png").size[0] > 28
  # Same seed, same samples.
  proc = run_module("experiments.sample", f"--workdir={workdir}", "--num=5", f"--out={tmp_path / 't.npz'}", "--seed=3")
  np.testing.assert_array_equal(np.load(tmp_path / "t.npz")["images"], images)


@pytest.mark.parametrize("args,needles", [
    (["--config.train.g_lr=-0.001"], ["config.train.g_lr", "positive"]),
    (["--config.train.no_such_field=3"], ["no_such_field"]),
    (["--config.data.source=no_such_dataset_xyz"], ["unknown dataset", "no_such_dataset_xyz"]),
    (["--config.data.source=/no/such/folder"], ["/no/such/folder"]),
])
def test_bad_training_input_gives_one_line(tmp_path, tfds_dir, args, needles):
  proc = run_module("experiments.dcgan", SMOKE, f"--workdir={tmp_path / 'w'}", f"--config.data.data_dir={tfds_dir}",
                    *args)
  _assert_one_line_error(proc, *needles)


def test_empty_folder_and_corrupt_image(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  proc = run_module("experiments.dcgan", SMOKE, f"--workdir={tmp_path / 'w1'}", f"--config.data.source={empty}")
  _assert_one_line_error(proc, "no images found")
  images = tmp_path / "images"
  images.mkdir()
  for i in range(20):
    Image.new("L", (28, 28), i).save(images / f"{i:02d}.png")
  (images / "zz_bad.png").write_bytes(b"not an image at all")
  proc = run_module("experiments.dcgan", SMOKE, f"--workdir={tmp_path / 'w2'}", f"--config.data.source={images}")
  _assert_one_line_error(proc, "zz_bad.png")


def test_sample_on_a_directory_without_a_run(tmp_path):
  proc = run_module("experiments.sample", f"--workdir={tmp_path}", f"--out={tmp_path / 'x.png'}")
  _assert_one_line_error(proc, "no jgan run")


SMOKE_ARGS = (SMOKE, "--config.log.tensorboard=False")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, tfds_dir):
  """An uninterrupted smoke run (6 steps, checkpoints 3 and 6): the reference the fault tests compare with."""
  workdir = tmp_path_factory.mktemp("reference") / "run"
  proc = run_module("experiments.dcgan", *SMOKE_ARGS, f"--config.data.data_dir={tfds_dir}", f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def _checkpoint(workdir, step):
  """The arrays of checkpoint `step` of a run, as numpy (read without a model)."""
  import jax
  import orbax.checkpoint as ocp

  from jgan.train.checkpoint import Checkpointer
  checkpointer = Checkpointer(str(workdir / "checkpoints"), use_async=False)
  try:
    tree = checkpointer.manager.restore(step, args=ocp.args.StandardRestore())
  finally:
    checkpointer.close()
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _metrics(workdir):
  import json
  with open(workdir / "metrics.jsonl") as f:
    return [{k: v for k, v in json.loads(line).items() if k != "images_per_s"} for line in f]


def _assert_same_run(workdir, reference):
  """Byte-identical sample grids, checkpoint arrays and logged metrics."""
  for name in ("samples/step_0000003.png", "samples/step_0000006.png", "samples/latest.png"):
    assert (workdir / name).read_bytes() == (reference / name).read_bytes(), name
  for x, y in zip(_checkpoint(workdir, 6), _checkpoint(reference, 6), strict=True):
    np.testing.assert_array_equal(x, y)
  assert _metrics(workdir) == _metrics(reference)


def _kill_when(workdir, tfds_dir, moment, timeout=240):
  """Starts the smoke run in `workdir` and SIGKILLs it as soon as moment(log text) holds.

  Returns True if the kill landed, False if the run ended first.
  """
  log_path = workdir.parent / f"{workdir.name}.log"
  with open(log_path, "w") as log:
    proc = subprocess.Popen([sys.executable, "-m", "experiments.dcgan", *SMOKE_ARGS,
                             f"--config.data.data_dir={tfds_dir}", f"--workdir={workdir}"],
                            cwd=REPO, env=module_env(), stdout=log, stderr=subprocess.STDOUT)
  deadline = time.time() + timeout
  killed = False
  while proc.poll() is None and time.time() < deadline:
    if moment(log_path.read_text()):
      os.kill(proc.pid, signal.SIGKILL)
      killed = True
      break
    time.sleep(0.005)
  proc.wait(timeout=60)
  return killed and proc.returncode == -signal.SIGKILL


def _saving(workdir):
  directory = workdir / "checkpoints"
  return directory.is_dir() and any("orbax-checkpoint-tmp" in name for name in os.listdir(directory))


def test_sigkilled_smoke_run_resumes_to_identical_samples(tmp_path, tfds_dir, smoke_run):
  # SIGKILL the same run at several moments (each a seeded few ms after its trigger), rerunning each
  # time; the end must match an uninterrupted run byte for byte.
  workdir = tmp_path / "run"
  rng = random.Random(11)

  def after(trigger):
    jitter, seen = rng.uniform(0.0, 0.02), []

    def moment(text):
      if not seen and trigger(text):
        seen.append(time.time())
      return bool(seen) and time.time() - seen[0] >= jitter
    return moment

  moments = [
      ("before the first checkpoint", after(lambda text: "from step 0 to 6" in text)),
      ("mid-save", lambda text: _saving(workdir)),
      ("after the last step", after(lambda text: "step 6/6" in text)),
  ]
  landed = []
  for i, (name, moment) in enumerate(moments):
    if _kill_when(workdir, tfds_dir, moment):
      landed.append(name)
    if i == 0:
      # Killed before any checkpoint (plus a leftover temporary folder, as if killed mid-save): sampling
      # says so in one line, with no orbax background-thread traceback after it.
      assert not [n for n in os.listdir(workdir / "checkpoints") if n.isdigit()]
      (workdir / "checkpoints" / "3.orbax-checkpoint-tmp-1").mkdir()
      (workdir / "checkpoints" / "3.orbax-checkpoint-tmp-1" / "x").write_bytes(b"partial")
      proc = run_module("experiments.sample", f"--workdir={workdir}", f"--out={tmp_path / 's.png'}")
      _assert_one_line_error(proc, "no checkpoint yet", only_line=True)
  print("kills that landed:", landed)
  assert len(landed) >= 2, landed  # a kill may come too late for a run that is already done
  done = run_module("experiments.dcgan", *SMOKE_ARGS, f"--config.data.data_dir={tfds_dir}", f"--workdir={workdir}")
  assert done.returncode == 0, done.stderr[-3000:]
  assert "Traceback" not in done.stderr
  _assert_same_run(workdir, smoke_run)


def test_unreadable_newest_checkpoint_is_moved_aside_and_written_again(tmp_path, tfds_dir, smoke_run):
  workdir = tmp_path / "run"
  shutil.copytree(smoke_run, workdir)
  rng = np.random.default_rng(0)
  damaged = {}
  for path in (workdir / "checkpoints" / "6").rglob("*"):
    if path.is_file() and path.parent.name == "d":  # the array data: tensorstore's DATA_LOSS path
      path.write_bytes(rng.integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes())
      damaged[path.relative_to(workdir / "checkpoints" / "6")] = path.read_bytes()
  assert damaged
  # Sampling falls back to step 3 with one line (it used to print a multi-KB spec and asyncio tracebacks).
  proc = run_module("experiments.sample", f"--workdir={workdir}", "--num=4", f"--out={tmp_path / 's.npz'}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  output = proc.stdout + proc.stderr
  assert "Traceback" not in output and "tensorstore" not in output and len(output) < 1000, output[-3000:]
  warnings = [line for line in output.splitlines() if "checkpoint step 6" in line]
  assert len(warnings) == 1 and "unreadable" in warnings[0], output
  assert "from step 3" in proc.stdout
  # Training moves the unreadable step aside (kept), says so in one line, and writes step 6 again.
  proc = run_module("experiments.dcgan", *SMOKE_ARGS, f"--config.data.data_dir={tfds_dir}", f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  output = proc.stdout + proc.stderr
  assert "Traceback" not in output and "tensorstore" not in output, output[-3000:]
  moved = [line for line in output.splitlines() if "moved it to" in line]
  assert len(moved) == 1 and "6.unreadable-1" in moved[0], output
  assert "from step 3 to 6" in proc.stdout
  kept = workdir / "checkpoints" / "6.unreadable-1"
  assert {p.relative_to(kept): p.read_bytes() for p in kept.rglob("*") if p.parent.name == "d"} == damaged
  _assert_same_run(workdir, smoke_run)


@pytest.mark.parametrize("config,needles", [
    ("/missing.py", ["/missing.py", "No such file"]),
    ("experiments/configs/dcgan.py:nope", ["nope", "smoke"]),
])
def test_bad_config_file_gives_one_line(tmp_path, config, needles):
  proc = run_module("experiments.dcgan", f"--config={config}", f"--workdir={tmp_path / 'w'}")
  _assert_one_line_error(proc, *needles, only_line=True)


def _mount_tmpfs(path, size):
  path.mkdir(exist_ok=True)
  proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
  if proc.returncode != 0:
    pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode(errors='replace').strip()}")


def _unmount(path):
  subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_sample_out_that_cannot_be_written_gives_one_line(tmp_path, smoke_run):
  (tmp_path / "file").write_text("a file, not a folder")
  (tmp_path / "folder.npz").mkdir()
  cases = [(tmp_path / "file" / "sub" / "s.npz", "cannot create the folder"),
           (tmp_path / "folder.npz", "is a folder")]
  readonly = tmp_path / "readonly"
  _mount_tmpfs(readonly, "1m")
  try:
    subprocess.run(["mount", "-o", "remount,ro", str(readonly)], check=True)
    cases.append((readonly / "s.npz", "not writable"))
    for out, needle in cases:
      proc = run_module("experiments.sample", f"--workdir={smoke_run}", "--num=4", f"--out={out}")
      _assert_one_line_error(proc, needle, only_line=True)
    assert not list(readonly.iterdir())
    assert not [p for p in tmp_path.rglob("*.tmp*")]
  finally:
    _unmount(readonly)


def _pages(path):
  return sum(-(-p.stat().st_size // 4096) * 4096 for p in path.rglob("*") if p.is_file())


def test_disk_full_during_a_run_gives_one_line_and_keeps_what_was_saved(tmp_path, tfds_dir, smoke_run):
  # A disk with room for the run up to checkpoint 3, not for checkpoint 6.
  room = sum(_pages(smoke_run / name) for name in ("checkpoints/3", "samples")) + 64 * 1024
  size = room + _pages(smoke_run / "checkpoints" / "6") // 2
  disk = tmp_path / "disk"
  _mount_tmpfs(disk, f"{size // 1024}k")
  try:
    workdir = disk / "run"
    proc = run_module("experiments.dcgan", *SMOKE_ARGS, f"--config.data.data_dir={tfds_dir}", f"--workdir={workdir}")
    _assert_one_line_error(proc, "no space left on device")
    assert proc.returncode == 2
    assert sorted(os.listdir(workdir / "checkpoints")) == ["3"]  # the partial step 6 was removed
    for x, y in zip(_checkpoint(workdir, 3), _checkpoint(smoke_run, 3), strict=True):
      np.testing.assert_array_equal(x, y)
    saved = sorted(os.listdir(workdir / "samples"))
    assert "step_0000003.png" in saved and not [n for n in saved if ".tmp" in n], saved
    for name in saved:
      assert (workdir / "samples" / name).read_bytes() == (smoke_run / "samples" / name).read_bytes(), name
  finally:
    _unmount(disk)


def test_npz_of_objects_gives_one_line(tmp_path):
  path = tmp_path / "objects.npz"
  np.savez(path, images=np.array([{"not": "pixels"}, None], dtype=object))
  proc = run_module("experiments.evaluate", f"--images={path}", "--ref=mnist10k", "--extractor=lenet-mnist")
  _assert_one_line_error(proc, str(path), "objects", only_line=True)

