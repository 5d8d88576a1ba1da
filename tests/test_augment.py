"""GANs as data augmentation: the study split, the mixing source, the synthesize CLI and the study's smoke run."""
import json
import os

import jax
import numpy as np
import pytest
from conftest import run_module

from jgan import config as config_lib
from jgan.core.errors import UserError
from jgan.data import embedded, sources, splits


def _data(source, split="train"):
  data = config_lib.base_config().data
  data.source, data.split = source, split
  return data


# ---------------------------------------------------------------- the split

def test_heldout_split_is_disjoint_from_everything_the_study_trains_on():
  images, labels = embedded.load_embedded_arrays()
  heldout, pool = set(splits.heldout_indices().tolist()), set(splits.pool_indices().tolist())
  assert len(heldout) == splits.HELD_OUT and not heldout & pool and heldout | pool == set(range(len(images)))
  subsets = [set(splits.split_indices(f"pool:{n}", labels, 10).tolist()) for n in (100, 500, 1000)]
  assert subsets[0] <= subsets[1] <= subsets[2] <= pool
  assert np.bincount(labels[sorted(subsets[0])], minlength=10).tolist() == [10] * 10
  # lenet-mnist (the FID features) was trained on exactly the pool: experiments.train_lenet's split, seed 0.
  from experiments import train_lenet
  from jgan.features import lenet
  (_, _), (test_x, test_y) = train_lenet.split(splits.SPLIT_SEED)
  np.testing.assert_array_equal(test_x[..., 0], images[splits.heldout_indices()])
  assert lenet.load_params()[1]["seed"] == splits.SPLIT_SEED
  # Every GAN and classifier of the study reads a pool split; the test set is heldout.
  from experiments.configs import augment_study
  from jgan.eval import augmentation
  study = augment_study.get_config("")
  for family in augmentation.FAMILIES:
    assert augmentation.gan_config(study, family, "pool:100").data.split.startswith("pool")
  heldout_pixels = {image.tobytes() for image in images[splits.heldout_indices()]}
  pool_read = sources.open_source(_data("mnist10k", "pool")).read_all()["x"]
  assert not heldout_pixels & {image[..., 0].tobytes() for image in pool_read}


def test_unknown_split_is_one_line():
  with pytest.raises(UserError, match="pool:N"):
    sources.open_source(_data("mnist10k", "pool:0"))
  with pytest.raises(UserError, match="heldout"):
    sources.open_source(_data("mnist10k", "validation"))


# ---------------------------------------------------------------- mixing

def test_mix_source_gives_the_requested_ratio(tmp_path):
  synth = tmp_path / "synth.npz"
  np.savez(synth, images=np.full((300, 28, 28, 1), 255, np.uint8), labels=np.arange(300) % 10, num_classes=10)
  for ratio in (0.25, 0.5, 0.8):
    source = sources.open_source(_data(f"mix:mnist10k,{synth}@{ratio}", "pool:100"))
    arrays = source.read_all()
    is_synth = arrays["x"].reshape(len(arrays["x"]), -1).min(axis=1) == 255
    assert abs(is_synth.mean() - ratio) <= 1 / source.length
    assert is_synth.sum() >= 300 and (~is_synth).sum() >= 100   # every example of both sets appears
    assert source.num_classes == 10 and set(arrays["label"].tolist()) == set(range(10))
  # Batches of the training pipeline: synthetic in the ratio, on average.
  from jgan.core import sharding
  from jgan.data.pipeline import make_feeder
  source = sources.open_source(_data(f"mix:mnist10k,{synth}@0.25", "pool:100"))
  feeder = make_feeder(source, _data("mnist10k"), 32, sharding.make_mesh(1), seed=0)
  fractions = [float(np.mean(np.asarray(feeder.make_batch(feeder.next_feed(s), s, jax.random.key(0))["x"])
                             .reshape(32, -1).min(axis=1) == 1.0)) for s in range(feeder.steps_per_epoch)]
  assert abs(np.mean(fractions) - 0.25) < 0.03
  for bad in ("mix:mnist10k@0.5", f"mix:mnist10k,{synth}@1.5", f"mix:mnist10k,{synth}"):
    with pytest.raises(UserError, match="mix:REAL,SYNTH@R"):
      sources.open_source(_data(bad))


# ---------------------------------------------------------------- synthesize

@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
  """A smoke-trained class-conditional run (seconds)."""
  from experiments.configs import cgan
  from jgan.train.run import train
  config = cgan.get_config("smoke")
  config.data.split = "pool"   # no tfds preparation needed
  config.data.placement = "host"   # the program of the study's smoke GANs: one compilation (cache) for both
  config.log.tensorboard, config.log.report = False, False
  config.log.health_every_steps = config.log.health_sample_every_steps = 0
  workdir = str(tmp_path_factory.mktemp("cgan"))
  train(config, workdir)
  return workdir


def test_synthesize_round_trips_every_format(cgan_run, tmp_path):
  import tensorflow_datasets as tfds

  from jgan.infer import sampling, synthesize
  sampler = sampling.load(cgan_run)
  want = np.resize([3, 7], 10)
  outs = {"npz": str(tmp_path / "s.npz"), "folder": str(tmp_path / "folder"), "tfds": str(tmp_path / "tfds")}
  for fmt, out in outs.items():
    record = synthesize.synthesize(sampler, 10, out, fmt, labels="3,7", seed=1, chunk=4)
    assert record["class_counts"][3] == record["class_counts"][7] == 5 and record["step"] == sampler.step
    provenance = json.load(open(synthesize.provenance_path(out, fmt)))
    assert provenance["seed"] == 1 and provenance["config"]["model.num_classes"] == 10 and provenance["jgan_version"]
    assert not os.path.exists(out + ".partial")
  data = np.load(outs["npz"])
  np.testing.assert_array_equal(data["labels"], want)
  assert data["images"].dtype == np.uint8 and data["images"].shape == (10, 28, 28, 1)
  assert sorted(os.listdir(outs["folder"])) == ["3", "7", "provenance.json"]
  assert len(os.listdir(os.path.join(outs["folder"], "7"))) == 5
  builder = tfds.builder_from_directory(outs["tfds"])
  records = builder.as_data_source(split="train")
  got = sorted((int(r["label"]), r["image"].tobytes()) for r in records)
  assert got == sorted(zip(want.tolist(), (image.tobytes() for image in data["images"])))   # same seed, same set
  for out in outs.values():   # every format is a training source
    arrays = sources.open_source(_data(out)).read_all()
    assert len(arrays["x"]) == 10
  assert sources.open_source(_data(outs["tfds"])).num_classes == 10


def test_synthesize_is_deterministic_and_resumes(cgan_run, tmp_path):
  from jgan.infer import sampling, synthesize
  sampler = sampling.load(cgan_run)
  first = str(tmp_path / "a.npz")
  synthesize.synthesize(sampler, 9, first, seed=5, chunk=4)
  # A run killed after its first chunk: the chunk stays in OUT.partial and a rerun draws only the rest
  # (a marked chunk shows it was reused, not drawn again).
  resumed = str(tmp_path / "b.npz")
  partial = resumed + ".partial"
  os.makedirs(partial)
  request = {"run": os.path.abspath(cgan_run), "step": sampler.step, "seed": 5, "num": 9, "labels": "balanced",
             "truncation": 0.0, "chunk": 4}
  json.dump(request, open(os.path.join(partial, "request.json"), "w"))
  np.savez(os.path.join(partial, "chunk_00000.npz"), images=np.zeros((4, 28, 28, 1), np.uint8))
  synthesize.synthesize(sampler, 9, resumed, seed=5, chunk=4)
  images = np.load(resumed)["images"]
  assert not images[:4].any()
  np.testing.assert_array_equal(images[4:], np.load(first)["images"][4:])
  assert not os.path.exists(partial)
  # Another request into the same partial folder is refused, not mixed in.
  os.remove(resumed)
  os.remove(synthesize.provenance_path(resumed, "npz"))
  os.makedirs(partial)
  json.dump({**request, "seed": 4}, open(os.path.join(partial, "request.json"), "w"))
  with pytest.raises(UserError, match="other settings"):
    synthesize.synthesize(sampler, 9, resumed, seed=5, chunk=4)
  np.testing.assert_array_equal(np.load(first)["labels"], np.arange(9) % 10)
  other = str(tmp_path / "c.npz")
  synthesize.synthesize(sampler, 9, other, seed=6, chunk=4)
  assert not np.array_equal(np.load(other)["images"], np.load(first)["images"])


def _one_line_error(proc, *needles):
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
  lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(lines) == 1, proc.stderr[-2000:]
  for needle in needles:
    assert needle in lines[0], lines[0]


def test_synthesize_cli(cgan_run, tmp_path):
  out = tmp_path / "cli.npz"
  proc = run_module("experiments.synthesize", f"--workdir={cgan_run}", "--num=6", "--labels=2", f"--out={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert np.load(out)["labels"].tolist() == [2] * 6
  # An unconditional run refuses --labels (checked from its config, before any weights load).
  unconditional = tmp_path / "unconditional"
  unconditional.mkdir()
  config = json.load(open(os.path.join(cgan_run, "config.json")))
  config["model"]["num_classes"] = 0
  json.dump(config, open(unconditional / "config.json", "w"))
  proc = run_module("experiments.synthesize", f"--workdir={unconditional}", "--num=6", "--labels=2",
                    f"--out={tmp_path / 'u.npz'}")
  _one_line_error(proc, "unconditional")
  for num in ("0", "-3"):
    proc = run_module("experiments.synthesize", f"--workdir={cgan_run}", f"--num={num}", f"--out={tmp_path / 'n.npz'}")
    _one_line_error(proc, "--num")
  blocker = tmp_path / "file"
  blocker.write_text("")
  proc = run_module("experiments.synthesize", f"--workdir={cgan_run}", "--num=2", f"--out={blocker / 'x.npz'}")
  _one_line_error(proc, "--out")
  proc = run_module("experiments.synthesize", f"--workdir={cgan_run}", "--num=2", "--labels=12",
                    f"--out={tmp_path / 'l'}")
  _one_line_error(proc, "0..9")


# ---------------------------------------------------------------- the study

def test_study_smoke_prints_the_table(tmp_path, capsys):
  from experiments.configs import augment_study
  from jgan.eval import augmentation
  study = augment_study.get_config("smoke")
  rows = augmentation.run_study(study, str(tmp_path))
  table = augmentation.format_table(rows)
  settings = [r["setting"] for r in rows]
  assert "train on real (pool)" in settings and "train on cgan samples" in settings
  assert any("DiffAugment" in s for s in settings) and rows[-1]["protocol"] == "translated"
  for r in rows[:-1]:
    assert r["n"] == (1 if r["metric"] == "FID" else study.classifier.seeds) and np.isfinite(r["mean"])
  assert table.count("\n") == len(rows) + 1
  assert abs(augmentation.t_quantile(2) - 4.3027) < 1e-3   # Student t, 97.5%, 2 degrees of freedom
