"""The command-line entry points: the smoke run, sampling, and one-line errors for bad input."""
import numpy as np
import pytest
from conftest import run_module
from PIL import Image

SMOKE = "--config=experiments/configs/dcgan.py:smoke"


def _assert_one_line_error(proc, *needles):
  assert proc.returncode != 0
  assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
  lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(lines) == 1, proc.stderr[-2000:]
  for needle in needles:
    assert needle in lines[0], lines[0]


def test_smoke_run_then_sample_png_and_npz(tmp_path, tfds_dir):
  workdir = tmp_path / "run"
  proc = run_module("experiments.dcgan", SMOKE, f"--workdir={workdir}", f"--config.data.data_dir={tfds_dir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "step 6/6" in proc.stdout
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


def test_sigkilled_run_resumes_to_the_same_generator(tmp_path, tfds_dir):
  import os
  import signal
  import subprocess
  import sys
  import time

  from conftest import REPO
  args = [SMOKE, f"--config.data.data_dir={tfds_dir}", "--config.train.num_steps=400",
          "--config.log.checkpoint_every_steps=20", "--config.log.every_steps=20",
          "--config.log.sample_every_steps=400", "--config.log.tensorboard=False"]
  killed = tmp_path / "killed"
  proc = subprocess.Popen([sys.executable, "-m", "experiments.dcgan", *args, f"--workdir={killed}"], cwd=REPO,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 240
  while time.time() < deadline and not (killed / "checkpoints" / "40").exists() and proc.poll() is None:
    time.sleep(0.05)
  os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  steps_at_kill = sorted(int(n) for n in os.listdir(killed / "checkpoints") if n.isdigit())
  assert steps_at_kill and steps_at_kill[-1] < 400, steps_at_kill
  for workdir in (killed, tmp_path / "straight"):
    done = run_module("experiments.dcgan", *args, f"--workdir={workdir}")
    assert done.returncode == 0, done.stderr[-2000:]
    out = run_module("experiments.sample", f"--workdir={workdir}", "--num=8", f"--out={workdir / 's.npz'}")
    assert out.returncode == 0, out.stderr[-2000:]
  np.testing.assert_array_equal(np.load(killed / "s.npz")["images"], np.load(tmp_path / "straight" / "s.npz")["images"])
