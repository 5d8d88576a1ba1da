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

as mean +- the half-width of a 95% t interval over the seeds.
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
_NUM_REF = flags.DEFINE_integer("num_reference", 2000, "Domain B images pooled for the histogram baseline.")


def score_run(folder: str, num_test: int, num_reference: int, paired_steps: int) -> dict:
  """{row: {"psnr", "ssim"}} for the run in `folder` (see the module docstring)."""
  from jgan.bench import translate_quality as tq
  from jgan.core.errors import UserError
  from jgan.data import stylise, unpaired
  from jgan.infer import translate
  model = translate.load(folder)
  data = model.config.data
  if (data.source_a, data.source_b) != stylise.DOMAINS:
    raise UserError(f"{folder} translates {data.source_a} <-> {data.source_b}; this measurement needs "
                    f"{' <-> '.join(stylise.DOMAINS)} (experiments/configs/cyclegan.py:style)")
  test_data = unpaired.data_like(data, domain_limit=num_test)
  x = unpaired.open_domain(f"{stylise.DOMAINS[0]}:test", test_data).read_all()["x"]
  target = stylise.stylise(x)
  reference = unpaired.open_domain(f"{stylise.DOMAINS[1]}:train", unpaired.data_like(data, domain_limit=num_reference))
  rows = {"identity": tq.quality(x, target),
          "histogram": tq.quality(tq.match_histograms(x, reference.read_all()["x"]), target),
          "CycleGAN G(x)": tq.quality(model.translate(x, "a2b"), target)}
  steps = model.config.train.num_steps if paired_steps < 0 else paired_steps
  if steps:
    photos = unpaired.open_domain(f"{stylise.DOMAINS[0]}:train", data).read_all()["x"]
    predict = tq.train_paired(model.task.generator, photos, stylise.stylise(photos), steps, model.config.seed,
                              model.config.train.batch_size, model.config.train.g_lr)
    rows["paired L1"] = tq.quality(predict(x), target)
  print(f"  {folder} (step {model.step}): " + ", ".join(f"{k} {v['psnr']:.2f} dB / {v['ssim']:.3f}"
                                                       for k, v in rows.items()), flush=True)
  return rows


def main(argv):
  del argv
  from experiments.configs import cyclegan as configs
  from jgan.bench import translate_quality as tq
  if _SEEDS.value:
    folders = tq.train_seeds(configs.get_config(_VARIANT.value), _WORKDIR.value, _SEEDS.value, _STEPS.value)
  else:
    folders = [_WORKDIR.value]
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
