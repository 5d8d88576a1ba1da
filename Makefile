PYTHON ?= python

.PHONY: install test dcgan sample bench lint

install:
	$(PYTHON) -m pip install -e '.[test]'

test:
	$(PYTHON) -m pytest tests

dcgan:
	$(PYTHON) -m experiments.dcgan --workdir=runs/dcgan

sample:
	$(PYTHON) -m experiments.sample --workdir=runs/dcgan --num=100 --out=runs/dcgan/samples.png

bench:
	$(PYTHON) -m experiments.bench

lint:
	$(PYTHON) -m ruff check jgan experiments tests
