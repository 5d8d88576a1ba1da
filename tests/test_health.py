"""Training health: the detectors on metric histories and samples, engineered failures end to end,
divergence rollback, and the run report."""
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import run_module

from jgan import config as config_lib
from jgan.core.errors import UserError
from jgan.train import health
from jgan.train.hooks import DivergenceError, NonFiniteError, state_is_finite

# A healthy DCGAN run on the embedded digits (width 32, 4,000 steps), logged every 100 steps:
# (d_loss, g_loss, D(x), D(G(z)), G's gradient norm). D(x) peaks at 0.935 and d_loss wanders
# from 0.17 to 0.84: nothing here is a finding.
HEALTHY = [
    (0.258, 2.15, 0.92, 0.156, 10.526), (0.296, 2.546, 0.892, 0.159, 10.416), (0.247, 1.912, 0.862, 0.09, 8.114),
    (0.174, 2.621, 0.916, 0.08, 11.948), (0.201, 2.08, 0.912, 0.101, 10.676), (0.226, 1.997, 0.878, 0.088, 7.532),
    (0.248, 2.301, 0.867, 0.095, 8.828), (0.241, 2.139, 0.862, 0.081, 11.342), (0.357, 1.731, 0.797, 0.106, 9.416),
    (0.421, 2.776, 0.935, 0.282, 11.372), (0.841, 1.397, 0.756, 0.388, 4.962), (0.307, 2.68, 0.884, 0.161, 11.934),
    (0.534, 1.162, 0.68, 0.095, 8.589), (0.293, 2.168, 0.876, 0.136, 12.419), (0.701, 2.179, 0.847, 0.376, 8.535),
    (0.376, 1.812, 0.891, 0.217, 12.485), (0.449, 1.89, 0.825, 0.206, 13.717), (0.344, 1.649, 0.819, 0.121, 13.659),
    (0.454, 1.668, 0.778, 0.164, 12.119), (0.47, 1.608, 0.748, 0.125, 14.827), (0.379, 2.119, 0.845, 0.175, 16.501),
    (0.409, 1.486, 0.781, 0.118, 13.479), (0.359, 1.557, 0.819, 0.129, 12.932), (0.549, 1.888, 0.727, 0.167, 17.023),
    (0.338, 2.546, 0.881, 0.178, 20.958), (0.511, 2.056, 0.808, 0.232, 15.944), (0.594, 0.737, 0.681, 0.144, 10.546),
    (0.523, 2.412, 0.885, 0.304, 15.824), (0.527, 1.923, 0.83, 0.262, 16.228), (0.476, 2.143, 0.775, 0.175, 20.293),
    (0.545, 1.618, 0.797, 0.244, 13.127), (0.548, 2.272, 0.91, 0.335, 20.314), (0.501, 2.286, 0.818, 0.235, 17.168),
    (0.57, 1.605, 0.719, 0.182, 12.923), (0.513, 2.455, 0.867, 0.281, 20.062), (0.632, 1.997, 0.77, 0.262, 18.789),
    (0.561, 2.113, 0.823, 0.277, 21.003), (0.822, 1.785, 0.724, 0.347, 8.713), (0.545, 1.929, 0.766, 0.208, 18.51),
    (0.464, 2.24, 0.856, 0.242, 20.737)]


def _metrics(row, **overrides):
  names = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")
  return {**dict(zip(names, row)), "d_grad_norm": 10.0 + 40.0 * row[3], "params_finite": 1.0, **overrides}


def _monitor(tmp_path, **train):
  config = config_lib.base_config()
  config.train.update(train)
  lines = []
  monitor = health.HealthMonitor(100, 0, 0, config.train, str(tmp_path), print_fn=lines.append)
  monitor.start(0)
  return monitor, lines


def _feed(monitor, rows):
  for i, metrics in enumerate(rows):
    monitor((i + 1) * 100, None, metrics)
  return [(e["step"], e["kind"]) for e in monitor.fired]


def test_a_healthy_history_fires_nothing(tmp_path):
  monitor, lines = _monitor(tmp_path)
  assert _feed(monitor, [_metrics(r) for r in HEALTHY]) == []
  assert lines == []
  logged = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  assert all(r["health/loss_spike"] == 0 for r in logged)


def test_a_loss_spike_fires_once_per_episode(tmp_path):
  rows = [_metrics(r) for r in HEALTHY]
  for i in (21, 22):  # the main job's step-2200 event, lasting two checks
    rows[i] = _metrics(HEALTHY[i], d_loss=8.957, d_real=0.001, d_fake=0.0)
  rows[30] = _metrics(HEALTHY[30], g_loss=9.5)  # a second episode
  monitor, lines = _monitor(tmp_path)
  assert _feed(monitor, rows) == [(2200, "loss_spike"), (3100, "loss_spike")]
  assert len(lines) == 2 and lines[0].startswith("health: step 2200: loss_spike: d_loss=8.957")
  assert "config.train.d_lr" in lines[0]
  events = health.read_events(str(tmp_path))
  assert [(e["step"], e.get("episode")) for e in events] == [(2200, None), (2400, "end"), (3100, None), (3200, "end")]


def test_a_brief_discriminator_failure_fires_a_spike(tmp_path):
  # The main job's step-2200 event on this machine: each signal moves by 4-6 robust SDs, together.
  rows = [_metrics(r) for r in HEALTHY]
  rows[21] = _metrics(HEALTHY[21], d_loss=1.5, d_real=0.349, d_fake=0.03, d_grad_norm=250.0)
  monitor, lines = _monitor(tmp_path)
  assert _feed(monitor, rows) == [(2200, "loss_spike")]
  assert {m["metric"] for m in monitor.fired[0]["also"]} | {monitor.fired[0]["metric"]} >= {"d_real", "d_grad_norm"}


def test_oscillating_losses_fire_oscillation(tmp_path):
  rows = [_metrics(r) for r in HEALTHY[:20]]
  rows += [_metrics(HEALTHY[i], d_loss=2.5 if i % 2 else 0.3) for i in range(20, 32)]
  monitor, _ = _monitor(tmp_path)
  kinds = [k for _, k in _feed(monitor, rows)]
  assert kinds.count("loss_oscillation") == 1


def test_discriminator_overpowering_and_vanishing_generator_gradient(tmp_path):
  rows = [_metrics(r) for r in HEALTHY[:12]]
  rows += [_metrics(HEALTHY[i], d_real=0.99, d_fake=0.01, g_grad_norm=1e-3) for i in range(12, 20)]
  monitor, lines = _monitor(tmp_path, loss="minimax")
  assert _feed(monitor, rows) == [(1500, "g_gradient_vanishing"), (1700, "d_overpowering")]
  assert "config.train.loss='non_saturating'" in lines[0]


def test_divergence_raises(tmp_path):
  monitor, _ = _monitor(tmp_path)
  with pytest.raises(NonFiniteError, match="step 100: non-finite values in the parameters"):
    monitor(100, None, _metrics(HEALTHY[0], params_finite=0.0))
  with pytest.raises(NonFiniteError, match="g_loss"):
    monitor(200, None, _metrics(HEALTHY[0], g_loss=float("nan")))
  with pytest.raises(DivergenceError, match="g_loss=5e"):
    monitor(300, None, _metrics(HEALTHY[0], d_loss=0.0, g_loss=5e14))
  assert [e["kind"] for e in health.read_events(str(tmp_path))] == ["non_finite", "non_finite", "blow_up"]


@pytest.fixture(scope="module")
def digits():
  from jgan.data.embedded import load_embedded_arrays
  images, labels = load_embedded_arrays()
  return images[..., None], labels


def _image_probe(real):
  from jgan import features
  lenet = features.get("lenet-mnist")
  # The "generator" returns the images it is given as its state, in [-1, 1].
  return health.ImageProbe(lambda images: images.astype(np.float32) / 127.5 - 1.0, lenet, real, num_classes=10)


def test_sample_checks_on_real_collapsed_and_unbalanced_digits(digits):
  images, labels = digits
  probe = _image_probe(images[:512])
  stats = probe(images[512:1024])           # real digits: as diverse as real, balanced
  assert 0.9 < stats["diversity"] < 1.1 and stats["duplicates"] < 0.15
  assert health.judge_samples(stats) == {"low_diversity": None, "class_imbalance": None}
  noise = np.random.default_rng(0).integers(0, 3, (512, 28, 28, 1))
  collapsed = np.clip(images[1024:1025].astype(int) + noise, 0, 255).astype(np.uint8)
  found = health.judge_samples(probe(collapsed))
  assert found["low_diversity"] is not None and found["low_diversity"]["duplicates"] > 0.9
  assert found["class_imbalance"] is None   # implied by the collapse, not reported twice
  half = images[2000:][labels[2000:] < 5][:512]   # digits 0-4 only
  found = health.judge_samples(probe(half))
  assert found["low_diversity"] is None
  assert found["class_imbalance"] is not None and found["class_imbalance"]["rarest_class"] < 0.01


def test_mode_dropping_on_the_ring():
  from jgan.data import toy
  points, modes = toy.sample_toy("ring8", 2500, seed=0)
  centres, sigma = toy.toy_modes("ring8")
  probe = health.PointProbe(lambda state: state, centres, sigma)
  assert health.judge_samples(probe(points)) == {"mode_dropping": None}
  found = health.judge_samples(probe(points[modes < 6]))["mode_dropping"]
  assert found["modes"] == 6 and found["num_modes"] == 8 and found["hq"] > 95


@pytest.mark.parametrize("field,value", [("g_lr", float("inf")), ("d_lr", float("nan")), ("g_lr", -float("inf"))])
def test_non_finite_learning_rates_are_rejected_at_config_time(field, value):
  from jgan.tasks import validate
  config = config_lib.base_config()
  config.train[field] = value
  with pytest.raises(UserError, match=f"config.train.{field}"):
    validate(config)


@pytest.mark.parametrize("field,value", [("train.on_divergence", "retry"), ("train.rollback_lr_factor", 1.0),
                                         ("train.max_rollbacks", -1), ("log.health_every_steps", -5)])
def test_bad_health_fields_are_rejected(field, value):
  from jgan.tasks import validate
  config = config_lib.base_config()
  section, name = field.split(".")
  config[section][name] = value
  with pytest.raises(UserError, match=f"config.{field}"):
    validate(config)


def _run(smoke_config, tmp_path, name="run", **fields):
  from jgan.train.run import train
  config = smoke_config.copy_and_resolve_references()
  for path, value in fields.items():
    section, field = path.split("__")
    config[section][field] = value
  return train(config, str(tmp_path / name))


def _fired(workdir):
  return [e["kind"] for e in health.read_events(str(workdir)) if e.get("episode") != "end"]


def test_healthy_smoke_run_fires_nothing_and_writes_its_report(smoke_config, tmp_path):
  state = _run(smoke_config, tmp_path, log__report=True)
  workdir = tmp_path / "run"
  assert _fired(workdir) == []
  records = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  assert all(r["params_finite"] == 1.0 for r in records if "d_loss" in r)
  assert [r["step"] for r in records] == [2, 4, 6]   # the health scalars join the metrics lines
  assert all(r["health/loss_spike"] == 0 for r in records)
  assert all(v == 0 for r in records for k, v in r.items() if k.startswith("health/"))
  assert state_is_finite(state)
  page = (workdir / "report" / "index.html").read_text()
  images = re.findall(r"src='([^']+)'", page)
  assert {"losses.png", "d_probs.png", "grad_norms.png", "samples.png"} <= set(images)
  for image in images:
    assert (workdir / "report" / image).is_file(), image
  assert "No health findings" in page


def test_discriminator_lr_x50_fires_overpowering_only(smoke_config, tmp_path):
  _run(smoke_config, tmp_path, train__num_steps=20, train__d_lr=50 * 2e-4, log__health_warmup_steps=0,
       log__health_sample_every_steps=0)
  assert _fired(tmp_path / "run") == ["d_overpowering"]


def test_zeroed_latents_fire_low_diversity_only(smoke_config, tmp_path, monkeypatch):
  from jgan.tasks import gan
  monkeypatch.setattr(gan.GAN, "latents", lambda self, key, num: jnp.zeros((num, self.latent_dim), jnp.float32))
  _run(smoke_config, tmp_path, log__health_warmup_steps=0)
  assert _fired(tmp_path / "run") == ["low_diversity"]
  record = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl") if "health/diversity" in line][-1]
  assert record["health/duplicates"] == 1.0


def _checkpoint_states(workdir, like):
  from jgan.train.checkpoint import Checkpointer, abstract_like
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), use_async=False)
  sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  states = {step: checkpointer.restore(step, abstract_like(like, sharding)) for step in checkpointer.steps()}
  checkpointer.close()
  return states


def test_non_finite_parameters_roll_back_and_resume_deterministically(smoke_config, tmp_path):
  from jgan.infer.sampling import load
  from jgan.train.checkpoint import Checkpointer
  from jgan.train.hooks import state_is_finite
  # g_lr 1e35 makes G's weights overflow at once; the rollback scales both rates to 1e-3 and 2e-42.
  fields = dict(train__g_lr=1e35, train__rollback_lr_factor=1e-38, train__num_steps=8)
  state = _run(smoke_config, tmp_path, "straight", **fields)
  workdir = tmp_path / "straight"
  events = health.read_events(str(workdir))
  assert [e["kind"] for e in events] == ["non_finite", "rollback"]
  assert events[1]["restored_step"] == 0 and events[1]["lr_scale"] == pytest.approx(1e-38)
  assert int(state.step) == 8 and state_is_finite(state)
  checkpoints = _checkpoint_states(str(workdir), state)
  assert sorted(checkpoints) == [3, 6, 8] and all(state_is_finite(s) for s in checkpoints.values())
  # Stopped after the rollback and resumed: the same parameters (the rollback's rates come back).
  _run(smoke_config, tmp_path, "resumed", **{**fields, "train__num_steps": 6})
  resumed = _run(smoke_config, tmp_path, "resumed", **fields)
  for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(resumed), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  # A non-finite checkpoint (saved around the hooks) is refused by sampling.
  bad = jax.tree.map(lambda x: x * np.nan if jnp.issubdtype(x.dtype, jnp.floating) else x + 1, state)
  checkpointer = Checkpointer(str(workdir / "checkpoints"), use_async=False)
  checkpointer.save(9, bad.replace(step=jnp.asarray(9, jnp.int32)))
  checkpointer.close()
  with pytest.raises(UserError, match="non-finite weights"):
    load(str(workdir))


def test_divergence_stops_without_rollback(smoke_config, tmp_path):
  with pytest.raises(DivergenceError, match="on_divergence='stop'"):
    _run(smoke_config, tmp_path, train__on_divergence="stop", train__divergence_loss=1e-3)
  assert _fired(tmp_path / "run") == ["blow_up"]
  assert not os.listdir(tmp_path / "run" / "checkpoints")


def test_endless_divergence_gives_up_in_one_line(tmp_path, tfds_dir):
  workdir = tmp_path / "w"
  proc = run_module("experiments.dcgan", "--config=experiments/configs/dcgan.py:smoke", f"--workdir={workdir}",
                    f"--config.data.data_dir={tfds_dir}", "--config.train.g_lr=1e35", "--config.train.max_rollbacks=1",
                    "--config.log.report=False", "--config.log.tensorboard=False")
  assert proc.returncode == 3, proc.stderr[-3000:]
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and "giving up" in errors[0] and "after 1 rollbacks" in errors[0], proc.stderr[-3000:]
  assert "Traceback" not in proc.stderr
  assert "rollback 1 of 1" in proc.stdout
  assert not os.listdir(workdir / "checkpoints")   # nothing non-finite was ever saved


def _fake_run(workdir, offset=0.0):
  from jgan.data import images as image_lib
  os.makedirs(workdir / "samples")
  with open(workdir / "metrics.jsonl", "w") as f:
    for i, row in enumerate(HEALTHY):
      step = 100 * (i + 1)
      f.write(json.dumps({"step": step, **_metrics(row, d_loss=row[0] + offset)}) + "\n")
      if step % 500 == 0:
        f.write(json.dumps({"step": step, "health/diversity": 0.9, "health/duplicates": 0.02,
                            **{f"health/class_{k}": 0.1 for k in range(10)}}) + "\n")
        f.write(json.dumps({"step": step, "eval/fid": 50.0 - step / 100}) + "\n")
        grid = np.full((30, 30, 1), step % 255, np.uint8)
        image_lib.save_png(str(workdir / "samples" / f"step_{step:07d}.png"), grid)
  with open(workdir / "health.jsonl", "w") as f:
    f.write(json.dumps({"step": 2200, "kind": "loss_spike", "message": "d_loss=8.957 ..."}) + "\n")


def test_report_single_and_compare(tmp_path):
  from jgan.eval import report
  _fake_run(tmp_path / "a")
  _fake_run(tmp_path / "b", offset=0.2)
  path = report.write_report([str(tmp_path / "a")])
  page = open(path).read()
  images = re.findall(r"src='([^']+)'", page)
  assert set(images) == {"losses.png", "d_probs.png", "grad_norms.png", "diversity.png", "classes.png", "eval.png",
                         "samples.png"}
  assert all(os.path.getsize(os.path.join(os.path.dirname(path), i)) > 1000 for i in images)
  assert "loss_spike" in page and "2200" in page
  proc = run_module("experiments.report", f"--workdir={tmp_path / 'a'}", "--compare", str(tmp_path / "b"),
                    str(tmp_path / "a"), f"--out={tmp_path / 'cmp'}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  page = (tmp_path / "cmp" / "index.html").read_text()
  assert {"samples_0.png", "samples_1.png", "samples_2.png"} <= set(re.findall(r"src='([^']+)'", page))
  assert "a#1" in page and "a#3" in page


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(tmp_path, monkeypatch):
  import errno

  from jgan.eval import report
  _fake_run(tmp_path / "a")
  path = report.write_report([str(tmp_path / "a")])
  before = {f: (tmp_path / "a" / "report" / f).read_bytes() for f in os.listdir(os.path.dirname(path))}
  drawn = []
  real_strip = report._strip

  def full_disk(file, run):   # the disk fills up after the plots, while the sample strip is written
    drawn.append(file)
    real_strip(file, run)
    raise OSError(errno.ENOSPC, "No space left on device")
  monkeypatch.setattr(report, "_strip", full_disk)
  _fake_run(tmp_path / "b", offset=0.5)
  with pytest.raises(UserError, match=r"could not write the report into .*: No space left on device; free some"):
    report.write_report([str(tmp_path / "b")], out_dir=os.path.dirname(path))
  assert drawn and not os.path.exists(drawn[0])                       # the partial strip went with the staging
  after = {f: (tmp_path / "a" / "report" / f).read_bytes() for f in os.listdir(os.path.dirname(path))}
  assert after == before                                              # same files, same bytes, nothing beside


def test_episodes_pair_each_finding_with_the_end_that_closed_it():
  events = [{"step": 10, "kind": "low_diversity", "message": "a"},
            {"step": 20, "kind": "low_diversity", "episode": "end"},
            {"step": 30, "kind": "spike", "message": "b"},
            {"step": 40, "kind": "low_diversity", "message": "c"},
            {"step": 50, "kind": "spike", "episode": "end"},
            {"step": 60, "kind": "d_overpowering", "episode": "end"}]   # an end without a start is ignored
  pairs = [(e["step"], end) for e, end in health.episodes(events)]
  assert pairs == [(10, 20), (30, 50), (40, None)]


def test_an_early_sample_finding_says_it_often_passes(tmp_path):
  monitor, lines = _monitor(tmp_path, num_steps=4000)
  collapsed = {"diversity": 0.2, "duplicates": 0.99}
  monitor._fire(500, "low_diversity", collapsed)
  monitor._fire(2000, "class_imbalance", {"class_kl": 0.3, "rarest_class": 0.01, "rarest": 4, "commonest": 1,
                                          "commonest_share": 0.3})
  monitor._fire(500, "d_overpowering", {"d_real": 0.99, "d_fake": 0.01})
  early, late, not_sampled = (event["message"] for event in monitor.fired)
  assert "This early in the run (step 500 of 4000) it often passes by itself" in early
  assert "early in the run" not in late and "early in the run" not in not_sampled


def test_a_conditional_run_is_not_told_to_become_conditional(tmp_path):
  imbalance = {"class_kl": 0.3, "rarest_class": 0.01, "rarest": 4, "commonest": 1, "commonest_share": 0.3}
  messages = []
  for conditional in (False, True):
    (tmp_path / str(conditional)).mkdir()
    monitor, _ = _monitor(tmp_path / str(conditional), num_steps=100)
    monitor.probe = health.ImageProbe(lambda state: None, lambda images: {"features": np.zeros((2, 1))},
                                      np.zeros((2, 1, 1, 1), np.uint8), conditional=conditional)
    messages.append(monitor._fire(90, "class_imbalance", imbalance)["message"])
  unconditional, conditional = messages
  assert "a conditional G (config.model.num_classes=10)" in unconditional
  assert "does not follow its labels" in conditional and "num_classes=10" not in conditional



def test_a_run_with_an_infogan_code_is_not_told_to_pack(tmp_path):
  """PacGAN and an InfoGAN code exclude each other (validate_gan), so a coded run gets the code's weight as lever."""
  monitor, _ = _monitor(tmp_path, num_steps=100, info_weight=0.1)
  monitor.probe = health.ImageProbe(lambda state: None, lambda images: {"features": np.zeros((2, 1))},
                                    np.zeros((2, 1, 1, 1), np.uint8), coded=True)
  collapsed = monitor._fire(90, "low_diversity", {"diversity": 0.2, "duplicates": 0.99})["message"]
  imbalance = monitor._fire(90, "class_imbalance", {"class_kl": 0.3, "rarest_class": 0.01, "rarest": 4,
                                                    "commonest": 1, "commonest_share": 0.3})["message"]
  assert "pack" not in collapsed and "pack" not in imbalance
  assert "a lower config.train.info_weight (now 0.1)" in collapsed
  assert "a higher config.train.info_weight (now 0.1)" in imbalance


def test_advice_leaves_out_what_the_run_already_does(tmp_path):
  """A run with EMA 0.999 and R1 0.1 is not told to use them; the other options stay, as one sentence."""
  collapsed = {"diversity": 0.2, "duplicates": 0.99}
  monitor, _ = _monitor(tmp_path, num_steps=100, ema_decay=0.999, r1_gamma=0.1, g_lr=1e-3)
  message = monitor._fire(90, "low_diversity", collapsed)["message"]
  assert "Try config.train.pack=2 (PacGAN) or a lower config.train.g_lr (now 0.001)." in message
  assert "ema_decay" not in message and "r1_gamma" not in message
  (tmp_path / "plain").mkdir()
  plain, _ = _monitor(tmp_path / "plain", num_steps=100, augment="translation,cutout")
  message = plain._fire(90, "d_overpowering", {"d_real": 0.99, "d_fake": 0.01})["message"]
  assert "augment" not in message
  assert message.endswith("config.train.label_smoothing=0.1 or config.train.r1_gamma=0.1.")

