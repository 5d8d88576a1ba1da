"""GANs as data augmentation, measured: CAS per conditional family, few labels, data-efficient GAN training.

    python -m experiments.augment_study --workdir=runs/augment_study
    python -m experiments.augment_study --config=experiments/configs/augment_study.py:smoke --workdir=/tmp/study

Trains the study's GANs and LeNets (resuming finished GANs from --workdir), prints one Markdown table (seeds,
mean, 95% CI) and writes it with every value to workdir/table.md and workdir/results.json. The protocols and
the held-out split are described in jgan.eval.augmentation and jgan.data.splits.
"""
import json
import os
import time

from absl import flags
from ml_collections import config_flags

from jgan.core import cli

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/augment_study.py", "Study config.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/augment_study", "Where the study's GAN runs and results go.")


def main(argv):
  del argv
  from jgan.eval import augmentation
  from jgan.eval.provenance import environment
  start = time.time()
  study, workdir = _CONFIG.value, _WORKDIR.value
  os.makedirs(workdir, exist_ok=True)
  rows = augmentation.run_study(study, workdir)
  table = augmentation.format_table(rows)
  seconds = time.time() - start
  print(table)
  print(f"study: {seconds / 60:.1f} min wall")
  with open(os.path.join(workdir, "table.md"), "w") as f:
    f.write(table + "\n")
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump({"rows": rows, "config": study.to_dict(), "seconds": seconds, **environment()}, f, indent=1,
              default=list)


if __name__ == "__main__":
  cli.run(main)
