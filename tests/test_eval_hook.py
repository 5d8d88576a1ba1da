"""Evaluation during training: metric curves in metrics.jsonl, the best checkpoint, then evaluate_run."""
import json
import os

import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.eval import evaluate_run
from jgan.eval.hook import BestCheckpoint, eval_config
from jgan.train.run import train


def test_training_evaluates_every_k_steps_and_keeps_the_best_checkpoint(smoke_config, tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  config = smoke_config
  config.train.num_steps = 6
  config.eval = eval_config(every_steps=2, metrics="fid,pr", num_samples=64, num_reference=256,
                            extractor="lenet-mnist", best_metric="fid")
  workdir = str(tmp_path / "run")
  train(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  evals = [r for r in records if "eval/fid" in r]
  assert [r["step"] for r in evals] == [2, 4, 6]
  assert all(np.isfinite(r["eval/fid"]) and 0 <= r["eval/precision"] <= 1 for r in evals)
  best = min(evals, key=lambda r: r["eval/fid"])["step"]
  assert sorted(int(d) for d in os.listdir(os.path.join(workdir, "best")) if d.isdigit()) == [best]
  # The run can be scored afterwards from its newest checkpoint, against its own training data.
  result = evaluate_run(workdir, "fid", num=64, num_reference=256)
  assert result["provenance"]["run"]["step"] == 6
  assert result["provenance"]["extractor"] == "lenet-mnist"  # the default for MNIST runs
  assert result["provenance"]["reference"]["name"] == "mnist10k"


@pytest.mark.parametrize("metric,best_step", [("precision", 2), ("fid", 4)])
def test_best_checkpoint_keeps_only_the_best(tmp_path, metric, best_step):
  state = {"w": np.arange(3.0)}
  best = BestCheckpoint(str(tmp_path / "best"), metric)
  for step, value in ((1, 0.4), (2, 0.7), (3, 0.5), (4, 0.1), (5, 0.3)):
    best.save(step, state, value)
  assert best.steps() == [best_step]  # precision is maximised, FID minimised
  best.close()


def test_a_best_metric_that_is_not_scored_is_refused(smoke_config, tmp_path, monkeypatch):
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  config = smoke_config
  config.eval = eval_config(every_steps=2, metrics="fid", num_samples=16, num_reference=64,
                            extractor="lenet-mnist", best_metric="precision")
  with pytest.raises(UserError, match="best_metric='precision'"):
    train(config, str(tmp_path / "run"))
