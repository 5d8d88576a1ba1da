"""Evaluation during training: metric curves in metrics.jsonl, the best checkpoint, then evaluate_run."""
import json
import os

import jax
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
  config.model.info_codes = 10   # the main job's InfoGAN code, which code_purity reads
  config.eval = eval_config(every_steps=2, metrics="fid,pr,code_purity", num_samples=64, num_reference=256,
                            extractor="lenet-mnist", best_metric="fid")
  workdir = str(tmp_path / "run")
  train(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  evals = [r for r in records if "eval/fid" in r]
  assert [r["step"] for r in evals] == [2, 4, 6]
  assert all(np.isfinite(r["eval/fid"]) and 0 <= r["eval/precision"] <= 1 for r in evals)
  # 64 samples over 10 code values: each value has 6 or 7, so its commonest digit holds at least 1/7 of them.
  assert all(1 / 7 <= r["eval/code_purity_min"] <= r["eval/code_purity"] <= 1 for r in evals)
  assert all(1 <= r["eval/code_classes"] <= 10 for r in evals)
  best = min(evals, key=lambda r: r["eval/fid"])["step"]
  assert sorted(int(d) for d in os.listdir(os.path.join(workdir, "best")) if d.isdigit()) == [best]
  # The run can be scored afterwards from its newest checkpoint, against its own training data.
  result = evaluate_run(workdir, "fid,code_purity", num=64, num_reference=256)
  assert result["provenance"]["run"]["step"] == 6
  assert result["provenance"]["extractor"] == "lenet-mnist"  # the default for MNIST runs
  assert result["provenance"]["reference"]["name"] == "mnist10k"
  scores = result["scores"]
  assert len(scores["code_top_class"]) == len(scores["code_top_share"]) == 10
  assert scores["code_purity"] == pytest.approx(np.mean(scores["code_top_share"]))
  assert scores["code_purity_min"] == min(scores["code_top_share"])
  assert scores["code_classes"] == len(set(scores["code_top_class"]))


def test_eval_samples_take_generates_default_labels_batch_by_batch(smoke_config):
  """The in-training samples' codes (what code_purity compares with) are the labels generate used to pick by
  itself: GAN.shown_labels from 0 in every batch of 256."""
  from jgan import tasks
  from jgan.eval.hook import sample_labels
  smoke_config.model.info_codes = 10
  gan = tasks.make_task(smoke_config, (28, 28, 1))
  labels = sample_labels(gan, 0, 300)
  np.testing.assert_array_equal(labels, np.concatenate([np.arange(256) % 10, np.arange(44) % 10]))
  smoke_config.model.info_codes = 0
  assert sample_labels(tasks.make_task(smoke_config, (28, 28, 1)), 0, 300) is None


def test_stacked_mnist_is_scored_on_independent_draws_of_the_codes():
  """VEEGAN/PacGAN score independent samples of G: Stacked MNIST's codes are drawn at random, as in training, so
  the mode counts are not evened out by the grid's labels (each value equally often); other metrics keep those."""
  from experiments.configs import stacked_mnist
  from jgan import tasks
  from jgan.core import rng
  from jgan.eval.api import score_labels
  gan = tasks.make_task(stacked_mnist.get_config("smoke"), (28, 28, 3))
  key = jax.random.key(3)
  drawn = score_labels(gan, ("stacked_mnist", "code_purity"), 26_000, key)
  np.testing.assert_array_equal(drawn, np.asarray(gan.fake_labels(rng.named(key, "labels"), 26_000)))
  counts = np.bincount(drawn, minlength=1000)
  assert counts.min() < 20 and counts.max() > 32   # Poisson(26) spread, not 26 each
  shown = score_labels(gan, ("code_purity",), 26_000, key)
  assert np.bincount(shown, minlength=1000).tolist() == [26] * 1000


def test_code_purity_needs_a_run_with_a_code(smoke_config, tmp_path, monkeypatch):
  from jgan.eval import evaluate
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  images = np.zeros((20, 28, 28, 1), np.uint8)
  with pytest.raises(UserError, match="score a run"):
    evaluate(images, None, "code_purity", extractor="lenet-mnist")
  smoke_config.eval = eval_config(every_steps=2, metrics="code_purity", num_samples=16)
  with pytest.raises(UserError, match="draws no class code"):
    train(smoke_config, str(tmp_path / "run"))


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


def test_stacked_mnist_is_scored_during_training_without_a_feature_extractor(tmp_path, monkeypatch):
  from experiments.configs import stacked_mnist
  from jgan import features
  monkeypatch.setenv("JGAN_CACHE", str(tmp_path / "cache"))
  config = stacked_mnist.get_config("smoke")
  config.log.tensorboard = False
  config.log.report = False
  config.train.num_steps = 4
  config.eval = eval_config(every_steps=2, metrics="stacked_mnist", num_samples=64, best_metric="kl")
  real_get = features.get

  def only_lenet(name, weights=None):  # Inception over RGB stacks would be minutes of work for nothing
    assert name in ("lenet-mnist", "lenet"), name
    return real_get(name, weights)
  monkeypatch.setattr(features, "get", only_lenet)
  workdir = str(tmp_path / "run")
  train(config, workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    evals = [r for r in map(json.loads, f) if "eval/kl" in r]
  assert [r["step"] for r in evals] == [2, 4]
  for r in evals:
    assert 1 <= r["eval/modes"] <= 64
    # The exact split of the KL (jgan.metrics.stacked_mnist.channel_metrics) holds in what the hook wrote.
    assert r["eval/kl"] == pytest.approx(r["eval/channel_kl"] + r["eval/dependence_kl"], abs=1e-9)
    assert 0 <= r["eval/share_min"] <= 0.1 <= r["eval/share_max"] <= 1
  assert len([d for d in os.listdir(os.path.join(workdir, "best")) if d.isdigit()]) == 1
