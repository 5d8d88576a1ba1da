"""The benchmark's baselines and scores: mean fill, Telea, hole scores, the low-rank FID."""
import builtins

import numpy as np
import pytest

from jgan.bench import repair as baselines
from jgan.metrics import fid


def _data():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
  masks = np.zeros((4, 16, 16, 1), np.float32)
  masks[:, 4:12, 5:11] = 1
  return images, masks


def test_mean_fill_uses_the_known_pixels_mean_and_keeps_the_rest():
  images, masks = _data()
  out = baselines.mean_fill(images, masks)
  hole = np.broadcast_to(masks.astype(bool), images.shape)
  np.testing.assert_array_equal(out[~hole], images[~hole])
  expected = np.round(images[0][~hole[0]].reshape(-1, 3).mean(0))
  np.testing.assert_array_equal(out[0, 8, 8], expected)


def test_telea_fills_only_the_hole_or_reports_cv2_missing(monkeypatch):
  images, masks = _data()
  pytest.importorskip("cv2")
  out = baselines.telea_fill(images, masks)
  hole = np.broadcast_to(masks.astype(bool), images.shape)
  np.testing.assert_array_equal(out[~hole], images[~hole])
  real_import = builtins.__import__
  monkeypatch.setattr(builtins, "__import__",
                      lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "cv2"
                      else real_import(name, *a, **k))
  assert baselines.telea_fill(images, masks) is None   # the bench then prints "Telea skipped"


def test_hole_scores_measure_only_the_hole():
  images, masks = _data()
  perfect = baselines.hole_scores(images, images, masks)
  assert perfect["l1"] == 0 and perfect["psnr"] > 90 and perfect["ssim"] == pytest.approx(1.0)
  damaged = images.copy()
  damaged[:, 2, 2:14] = 255 - damaged[:, 2, 2:14]   # outside the hole: PSNR/L1 in the hole do not see it
  outside = baselines.hole_scores(damaged, images, masks)
  assert outside["l1"] == 0 and outside["ssim"] < 1
  off = images.astype(np.int32)
  off[:, 4:12, 5:11] += 10
  scores = baselines.hole_scores(np.clip(off, 0, 255).astype(np.uint8), images, masks)
  assert scores["psnr"] < 30 and scores["l1"] > 0


def test_low_rank_fid_equals_the_metrics_fid():
  rng = np.random.default_rng(1)
  a = rng.normal(size=(20, 64))
  b = rng.normal(size=(25, 64)) * 1.3 + 0.2
  assert baselines.fid_low_rank(a, b) == pytest.approx(fid.fid(a, b), rel=1e-6)
  assert baselines.fid_low_rank(a, a) == pytest.approx(0.0, abs=1e-6)
