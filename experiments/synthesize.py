"""A labelled synthetic dataset from a trained run (GANs as data augmentation):

    python -m experiments.synthesize --workdir=runs/cgan --num=9000 --out=synth.npz
    python -m experiments.synthesize --workdir=runs/cgan --num=9000 --labels=3,8 --out=synth/ [--format=tfds]

Writes an .npz, a class-folder tree of PNGs or a tfds dataset directory, with a provenance record, resumably
and deterministically per --seed (jgan.infer.synthesize). Train on it with --config.data.source=OUT, or on a
mixture with real data: --config.data.source=mix:mnist10k,OUT@0.5.
"""
from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory written by a training experiment.")
_NUM = flags.DEFINE_integer("num", None, "Number of examples.")
_OUT = flags.DEFINE_string("out", None, "Output: NAME.npz, or a directory (class folders, or tfds with --format).")
_FORMAT = flags.DEFINE_enum("format", "auto", ["auto", "npz", "folder", "tfds"],
                            "auto: npz for a .npz name, folder otherwise.")
_LABELS = flags.DEFINE_string("labels", "balanced", "balanced (every class in turn) or classes k,... in turn.")
_TRUNCATION = flags.DEFINE_float("truncation", 0.0, "Truncated-normal latents in [-t, t] (BigGAN); 0 = off.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent draws.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the newest).")


def main(argv):
  del argv
  if not _WORKDIR.value:
    raise UserError("--workdir is required")
  if _NUM.value is None or _NUM.value < 1:
    raise UserError(f"--num={_NUM.value}: give a positive number of examples")
  from jgan.infer import synthesize
  fmt = synthesize.out_format(_OUT.value or "", _FORMAT.value)
  synthesize.check_out(_OUT.value, fmt)   # before loading the run and minutes of sampling
  if _TRUNCATION.value < 0:
    raise UserError(f"--truncation={_TRUNCATION.value} must be >= 0 (0: off)")
  from jgan.train import workdir as workdir_lib
  num_classes = workdir_lib.load_config(_WORKDIR.value).model.num_classes   # labels checked before weights load
  synthesize.parse_labels(_LABELS.value, num_classes, _WORKDIR.value)
  from jgan.infer.sampling import load
  sampler = load(_WORKDIR.value, _STEP.value)
  record = synthesize.synthesize(sampler, _NUM.value, _OUT.value, fmt, _LABELS.value, _SEED.value, _TRUNCATION.value)
  print(f"wrote {record['num']} examples ({record['format']}) from step {record['step']} of {record['run']} "
        f"to {_OUT.value}")


if __name__ == "__main__":
  cli.run(main)
