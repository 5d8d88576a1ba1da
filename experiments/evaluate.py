"""Score a trained run or any two image sets; prints one JSON object (scores + provenance).

    python -m experiments.evaluate --workdir=runs/dcgan --metrics=fid,kid,pr --num=10000
    python -m experiments.evaluate --images=samples.npz --ref=mnist10k --extractor=lenet-mnist
    python -m experiments.evaluate --images=DIR_OR_ZIP --ref=../shared/data/cifar10-jpeg.zip --ref_split=test

--images/--ref take an `.npz` with `images` uint8 NHWC, a folder or zip of
images, or a dataset name (mnist10k, a tfds name). --extractor is inception
(weights: see jgan.features.weights; --weights=PATH to choose) or lenet-mnist;
a --workdir run defaults to lenet-mnist on MNIST and inception otherwise.
Metrics: fid, kid, pr (precision/recall), dc (density/coverage), is, confident,
class_kl, stacked_mnist, code_purity (a --workdir run with a class code: does each value draw one digit).
"""
import json

from absl import flags

from jgan.core import cli
from jgan.core.errors import UserError
from jgan.eval import evaluate, evaluate_run

_WORKDIR = flags.DEFINE_string("workdir", None, "A training run to sample and score against its training data.")
_IMAGES = flags.DEFINE_string("images", None, "Images to score (.npz, folder, zip or dataset name).")
_REF = flags.DEFINE_string("ref", None, "Reference images (.npz, folder, zip or dataset name).")
_REF_SPLIT = flags.DEFINE_string("ref_split", "train", "Split of a reference folder/zip/dataset (train/test).")
_IMAGES_SPLIT = flags.DEFINE_string("images_split", "train", "Split of an --images folder/zip/dataset (train/test; "
                                    "the embedded mnist10k also has heldout and pool).")
_METRICS = flags.DEFINE_string("metrics", "fid", "Comma-separated: fid,kid,pr,dc,is,class_kl,confident,stacked_mnist,"
                               "code_purity.")
_EXTRACTOR = flags.DEFINE_string("extractor", None, "inception or lenet-mnist (default: inception; for a "
                                 "--workdir run on MNIST, lenet-mnist).")
_WEIGHTS = flags.DEFINE_string("weights", None, "Extractor weights file (.pt, .pth, .whl, .npz).")
_NUM = flags.DEFINE_integer("num", None, "Samples to draw from --workdir (default 10000) or a subset of --images.")
_NUM_REF = flags.DEFINE_integer("num_ref", None, "Seeded random subset of the reference (default: all).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the samples and subsets.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step of --workdir (default: newest).")
_RESOLUTION = flags.DEFINE_integer("resolution", 0, "Read folders/zips/datasets at this size (0: the other set's).")
_CHANNELS = flags.DEFINE_integer("channels", 0, "Read folders/zips/datasets with this many channels (0: auto).")
_BATCH = flags.DEFINE_integer("batch_size", 0, "Extraction batch (0: the extractor's default).")
_NO_CACHE = flags.DEFINE_boolean("no_cache", False, "Recompute reference features instead of using the cache.")


def main(argv):
  del argv
  if _NUM.value is not None and _NUM.value < 1:
    raise UserError(f"--num={_NUM.value} must be positive")
  common = dict(weights=_WEIGHTS.value, batch_size=_BATCH.value or None, cache=not _NO_CACHE.value,
                num_reference=_NUM_REF.value, seed=_SEED.value)
  if _WORKDIR.value:
    if _IMAGES.value:
      raise UserError("give either --workdir or --images, not both")
    result = evaluate_run(_WORKDIR.value, _METRICS.value, num=_NUM.value or 10000, step=_STEP.value,
                          extractor=_EXTRACTOR.value, **common)
  elif _IMAGES.value:
    result = evaluate(_IMAGES.value, _REF.value, _METRICS.value, extractor=_EXTRACTOR.value or "inception",
                      num=_NUM.value, resolution=_RESOLUTION.value, channels=_CHANNELS.value,
                      reference_split=_REF_SPLIT.value, images_split=_IMAGES_SPLIT.value, **common)
  else:
    raise UserError("give --workdir=RUN or --images=PATH (with --ref=PATH_OR_DATASET)")
  print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
  cli.run(main)
