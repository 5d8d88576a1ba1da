"""Writes the small torch-format files that tests/test_eval_torch_archive.py reads without torch.

    python tests/data/make_torch_fixtures.py      # needs torch (made with 2.13.0+cpu)

torch_state_zip.pth     torch.save, zip format (PyTorch >= 1.6)
torch_state_legacy.pth  torch.save(..., _use_new_zipfile_serialization=False), the pre-1.6 stream
                        (the format of older weight files such as pytorch-fid's)
torch_expected.npz      the same tensors as numpy arrays
The state dict mixes dtypes, a transposed (non-contiguous) tensor, two views
of one storage at different offsets, a 0-d tensor and an nn.Parameter.
"""
import collections
import os

import numpy as np
import torch

HERE = os.path.dirname(__file__)


def state() -> collections.OrderedDict:
  base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
  return collections.OrderedDict([
      ("conv.weight", torch.nn.Parameter(torch.linspace(-1, 1, 54).reshape(2, 3, 3, 3))),
      ("bn.running_mean", torch.tensor([0.5, -0.25], dtype=torch.float32)),
      ("bn.num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
      ("double", torch.tensor([[1.0, 2.0], [3.0, 4.5]], dtype=torch.float64)),
      ("half", torch.tensor([0.5, 1.5, -2.0], dtype=torch.float16)),
      ("transposed", base.t()),        # strides (1, 6)
      ("view_row2", base[2]),          # offset 12 into the same storage
      ("view_col", base[:, 1]),        # offset 1, stride 6
      ("ints", torch.tensor([1, -2, 3], dtype=torch.int32)),
  ])


def main():
  tensors = state()
  torch.save(tensors, os.path.join(HERE, "torch_state_zip.pth"))
  torch.save(tensors, os.path.join(HERE, "torch_state_legacy.pth"), _use_new_zipfile_serialization=False)
  np.savez(os.path.join(HERE, "torch_expected.npz"), **{k: v.detach().numpy() for k, v in tensors.items()})
  print("wrote", sorted(os.listdir(HERE)))


if __name__ == "__main__":
  main()
