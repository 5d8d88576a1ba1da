"""The PyTorch peer of the feature benchmark computes what jgan computes (skipped without torch)."""
import numpy as np
import pytest

from jgan import features
from jgan.bench import features as bench_features
from jgan.data.embedded import load_embedded_arrays
from jgan.features import lenet


def test_torch_lenet_matches_jgan_features_and_logits():
  torch = pytest.importorskip("torch")
  digits = load_embedded_arrays()[0][:32, ..., None]
  ours = features.get("lenet-mnist")(digits)
  with torch.inference_mode():
    feats, logits = bench_features.torch_lenet(lenet.load_params()[0])(
        torch.from_numpy(np.ascontiguousarray(digits.transpose(0, 3, 1, 2))))
  np.testing.assert_allclose(feats.numpy(), ours["features"], rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(logits.numpy(), ours["logits"], rtol=1e-4, atol=1e-4)
