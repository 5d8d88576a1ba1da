"""Sample a trained run: python -m experiments.sample --workdir=DIR --num=N --out=FILE.png|FILE.npz [--seed=S]
[--labels=7 | --labels=0,1,2] (class-conditional runs; default: 0, 1, ..., K-1 in turn)."""
import jax
from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError
from jgan.infer.sampling import check_out_path, load, write_samples

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory written by a training experiment.")
_NUM = flags.DEFINE_integer("num", 64, "Number of samples.")
_OUT = flags.DEFINE_string("out", "samples.png", "Output: .png grid or .npz with `images` uint8 (N, H, W, C).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent draws.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")
_LABELS = flags.DEFINE_list("labels", None, "Classes of a conditional run, repeated to --num (default 0..K-1 in turn).")


def main(argv):
  del argv
  if not _WORKDIR.value:
    raise UserError("--workdir is required")
  check_out_path(_OUT.value)  # before the minutes of sampling
  sampler = load(_WORKDIR.value, _STEP.value)
  labels = None
  if _LABELS.value:
    try:
      labels = [int(v) for v in _LABELS.value]
    except ValueError:
      raise UserError(f"--labels={','.join(_LABELS.value)}: give class numbers, e.g. --labels=7 or "
                      "--labels=0,1,2") from None
  samples = sampler.sample(jax.random.key(_SEED.value), _NUM.value, labels=labels)
  write_samples(samples, _OUT.value)
  print(f"wrote {len(samples)} samples from step {sampler.step} to {_OUT.value}")


if __name__ == "__main__":
  cli.run(main)
