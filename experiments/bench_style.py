"""How close CycleGAN gets to a style whose ground truth is known (issue 14, task 2).

    python -m experiments.bench_style --workdir=runs/bench_style --seeds=3 [--num_steps=N] [--paired_steps=N]
    python -m experiments.bench_style --workdir=runs/cyclegan_style        # --seeds=0: score one existing run

Domain A: CIFAR-10 photos (half of train), domain B: the other half through `jgan.data.stylise.stylise`
(posterise, colour grade, edge ink), config experiments/configs/cyclegan.py:style (--config_variant).
With --seeds=N it trains (or resumes) that config once per seed under WORKDIR/seed{k}; then, on
--num_test held-out test photos x, it prints PSNR (dB) and SSIM against stylise(x) of

  identity        x itself (no translation)
  histogram       x's channels matched to domain B's pooled histograms (a per-pixel colour map)
  CycleGAN G(x)   the unpaired model of each seed
  paired L1       the same generator trained with L1 on (a, stylise(a)) for A's training photos,
                  --paired_steps steps of the CycleGAN's batch size (an upper bound; one per seed)

as mean +- the half-width of a 95% t interval over the seeds. --references_only skips the CycleGAN: the
other rows for the config alone (the style config, --num_steps overriding its steps).
"""
from __future__ import annotations

from absl import flags

from jgan.core import cli

_WORKDIR = flags.DEFINE_string("workdir", "runs/bench_style", "Root of the per-seed runs (or one run, --seeds=0).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Train and score this many seeds; 0 scores the run in --workdir.")
_VARIANT = flags.DEFINE_string("config_variant", "style", "Variant of experiments/configs/cyclegan.py to train.")
_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per CycleGAN run (0: the config's).")
_PAIRED = flags.DEFINE_integer("paired_steps", -1, "Steps of the paired L1 bound (-1: the CycleGAN's steps).")
_NUM_TEST = flags.DEFINE_integer("num_test", 1000, "Held-out test photos scored.")
_REFERENCES_ONLY = flags.DEFINE_bool("references_only", False, "Score identity, histogram and paired L1 only "
                                     "(per seed of the paired training), training no CycleGAN.")
_NUM_REF = flags.DEFINE_integer("num_reference", 2000, "Domain B images pooled for the histogram baseline.")


def reference_rows(config, generator, num_test: int, num_reference: int, paired_steps: int):
  """(held-out photos x, stylise(x), {row: {"psnr", "ssim"}} of identity, histogram and paired L1) for
  `config` (a style config: its data, seed, batch size and g_lr) and its `generator` module."""
  from jgan.bench import translate_quality as tq
  from jgan.core.errors import UserError
  from jgan.data import stylise, unpaired
  data = config.data
  if (data.source_a, data.source_b) != stylise.DOMAINS:
    raise UserError(f"the run translates {data.source_a} <-> {data.source_b}; this measurement needs "
                    f"{' <-> '.join(stylise.DOMAINS)} (experiments/configs/cyclegan.py:style)")
  test_data = unpaired.data_like(data, domain_limit=num_test)
  x = unpaired.open_domain(f"{stylise.DOMAINS[0]}:test", test_data).read_all()["x"]
  target = stylise.stylise(x)
  reference = unpaired.open_domain(f"{stylise.DOMAINS[1]}:train", unpaired.data_like(data, domain_limit=num_reference))
  rows = {"identity": tq.quality(x, target),
          "histogram": tq.quality(tq.match_histograms(x, reference.read_all()["x"]), target)}
  steps = config.train.num_steps if paired_steps < 0 else paired_steps
  if steps:
    photos = unpaired.open_domain(f"{stylise.DOMAINS[0]}:train", data).read_all()["x"]
    predict = tq.train_paired(generator, photos, stylise.stylise(photos), steps, config.seed,
                              config.train.batch_size, config.train.g_lr)
    rows["paired L1"] = tq.quality(predict(x), target)
  return x, target, rows


def _print_rows(where: str, rows: dict) -> None:
  print(f"  {where}: " + ", ".join(f"{k} {v['psnr']:.2f} dB / {v['ssim']:.3f}" for k, v in rows.items()), flush=True)


def score_run(folder: str, num_test: int, num_reference: int, paired_steps: int) -> dict:
  """{row: {"psnr", "ssim"}} for the run in `folder` (see the module docstring)."""
  from jgan.bench import translate_quality as tq
  from jgan.infer import translate
  model = translate.load(folder)
  x, target, rows = reference_rows(model.config, model.task.generator, num_test, num_reference, paired_steps)
  rows = {"identity": rows["identity"], "histogram": rows["histogram"],
          "CycleGAN G(x)": tq.quality(model.translate(x, "a2b"), target),
          **{k: v for k, v in rows.items() if k == "paired L1"}}
  _print_rows(f"{folder} (step {model.step})", rows)
  return rows


def score_references(config, seed: int, num_test: int, num_reference: int, paired_steps: int) -> dict:
  """The rows of `score_run` but CycleGAN's, for `config` with `seed`: no CycleGAN is trained."""
  from jgan.tasks import element_shape, make_task
  config = config.copy_and_resolve_references()
  config.seed = seed
  task = make_task(config, element_shape(config.data))
  rows = reference_rows(config, task.generator, num_test, num_reference, paired_steps)[2]
  _print_rows(f"seed {seed}, no CycleGAN", rows)
  return rows


def main(argv):
  del argv
  from experiments.configs import cyclegan as configs
  from jgan.bench import translate_quality as tq
  config = configs.get_config(_VARIANT.value)
  if _STEPS.value:
    config.train.num_steps = _STEPS.value
  if _REFERENCES_ONLY.value:
    folders = range(max(1, _SEEDS.value))
    results = [score_references(config, seed, _NUM_TEST.value, _NUM_REF.value, _PAIRED.value) for seed in folders]
  else:
    folders = tq.train_seeds(config, _WORKDIR.value, _SEEDS.value) if _SEEDS.value else [_WORKDIR.value]
    results = [score_run(f, _NUM_TEST.value, _NUM_REF.value, _PAIRED.value) for f in folders]
  print(f"\nphoto -> stylised photo, {_NUM_TEST.value} held-out photos, {len(folders)} seed(s) "
        "(mean +- 95% CI half-width)")
  print("| method | PSNR (dB) | SSIM |")
  print("| --- | ---: | ---: |")
  for name in results[0]:
    print(f"| {name} | {tq.format_ci([r[name]['psnr'] for r in results])} | "
          f"{tq.format_ci([r[name]['ssim'] for r in results], 3)} |")


if __name__ == "__main__":
  cli.run(main)
