"""The GPU speed script runs end to end on a CPU (tiny sizes), and its stand-ins compute what they claim."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jgan.bench import features as bench_features
from jgan.bench import speed
from jgan.data.embedded import load_embedded_arrays
from jgan.features import get, inception

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_random_inception_has_the_fid_networks_shapes():
  extractor = bench_features.random_inception_extractor()
  inception._check_params(jax.tree.map(np.asarray, extractor.params), "random")  # raises on any other shape
  flat = inception.flatten(jax.tree.map(np.asarray, extractor.params))
  assert all(np.all(v == 1.0) for k, v in flat.items() if k.endswith("/var"))  # BN divides by sqrt(var + eps)
  kernel = flat["mixed_4/conv/kernel"]   # 1x1, 768 -> 192
  assert abs(kernel.std() * np.sqrt(768 / 2.0) - 1.0) < 0.05   # He scaling keeps activations in range
  assert extractor.weights_source.startswith("random")


def test_bench_gpu_script_prints_every_row_on_a_cpu(tmp_path):
  checked = load_embedded_arrays()[0][:64, ..., None]
  np.savez(tmp_path / "lenet.npz", features=get("lenet-mnist")(checked)["features"])
  out = tmp_path / "rows.json"
  done = subprocess.run(
      [sys.executable, "-m", "experiments.bench_gpu", "--batch_sizes=4", "--steps=3", "--steps_per_call=1",
       "--inception_images=2", "--lenet_images=64", f"--check_lenet={tmp_path / 'lenet.npz'}",
       "--weights=/nonexistent/inception.npz", "--nomain_job", f"--json={out}"],
      cwd=REPO, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  result = json.loads(out.read_text())
  jgan_rows = {(r["row"], r["precision"]) for r in result["rows"] if r["row"].startswith("jgan")}
  assert jgan_rows == {("jgan/device k=1", "bfloat16"), ("jgan/device k=1", "float32")}
  assert all(r["images_per_s"] > 0 and r["batch"] == 4 for r in result["rows"])
  assert result["lenet-mnist_check"]["max_abs_diff"] < 1e-4  # same device here: only the batch differs
  assert result["inception"]["weights"].startswith("random") and result["inception"]["features_per_s"] > 0
  assert "goal" in done.stdout and "jgan's best at batch 4" in done.stdout


def test_torch_dcgan_logits_and_the_tuned_step_run_on_the_cpu():
  torch = pytest.importorskip("torch")
  torch.manual_seed(0)
  g, d_sigmoid = speed._torch_dcgan(64, 3, 8, 16)
  torch.manual_seed(0)
  _, d_logits = speed._torch_dcgan(64, 3, 8, 16, sigmoid=False)
  x = torch.rand(2, 3, 64, 64) * 2 - 1
  with torch.no_grad():
    np.testing.assert_allclose(torch.sigmoid(d_logits(x)).numpy(), d_sigmoid(x).numpy(), rtol=1e-6, atol=1e-7)
    assert g(torch.randn(2, 16, 1, 1)).shape == (2, 3, 64, 64)
  images = np.random.default_rng(0).integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
  assert speed.bench_torch_tuned(images, 64, 3, 8, 16, batch_size=4, steps=3, warmup=1, device="cpu") > 0
