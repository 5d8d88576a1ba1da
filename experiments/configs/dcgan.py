"""DCGAN (Radford et al. 2016) on the embedded MNIST digits, sized for a 2-core CPU.

    python -m experiments.dcgan --workdir=runs/dcgan
    python -m experiments.dcgan --config=experiments/configs/dcgan.py:smoke --workdir=/tmp/smoke
    python -m experiments.dcgan --config.data.source=cifar10 --config.data.resolution=32 \
        --config.data.channels=3 --config.model.g_width=64 --config.model.d_width=64

Variants (the text after ':'): "" (default), "smoke" (a tiny model, a few steps),
"paper" (the 64x64 pytorch/examples model: width 64, nz 100).
"""
import ml_collections

from jgan import config as config_lib


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  # jgan.config.base_config() is the DCGAN main job: every field, its default and what it means.
  return config_lib.variant(arg, "dcgan", {"smoke": config_lib.smoke, "paper": _paper}, config_lib.base_config())


def _paper(config) -> None:
  config.data.resolution = 64
  config.model.g_width = 64
  config.model.d_width = 64
