"""The task contract, checked for every registered task, and the package's shape.

Every task in jgan.tasks.REGISTRY must: init from a root key, run one jitted
step on a tiny batch with finite metrics, keep its state's tree structure,
shapes and dtypes, and resume from a checkpoint to the very same next step.
A new task registers itself and names its smoke config in SMOKE_CONFIGS.
"""
import ast
import importlib
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan import config as config_lib
from jgan import tasks
from jgan.core import rng
from jgan.core.errors import UserError
from jgan.train.checkpoint import Checkpointer, abstract_like

# task -> (experiments config module, variant) of its smoke config
SMOKE_CONFIGS = {
    "gan": ("dcgan", "smoke"),
    "bigan": ("bigan", "smoke"),
    "inpaint": ("inpaint", "smoke"),
    "superres": ("srgan", "smoke"),
    "cyclegan": ("cyclegan", "smoke"),
}
PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "jgan"


def test_every_registered_task_has_a_smoke_config():
  assert set(tasks.REGISTRY) == set(SMOKE_CONFIGS)


def _smoke(name: str):
  module, variant = SMOKE_CONFIGS[name]
  config = importlib.import_module(f"experiments.configs.{module}").get_config(variant)
  config.train.batch_size = 4 if name in ("inpaint", "superres", "cyclegan") else 8
  config.model.mbstd_group = 4
  return config


def _batch(key, task, config, shape):
  rows = config.train.batch_size * task.batch_multiple
  x = jax.random.uniform(rng.named(key, "x"), (rows, *shape), jnp.float32, -1.0, 1.0)
  x_b = jax.random.uniform(rng.named(key, "x_b"), (rows, *shape), jnp.float32, -1.0, 1.0)  # a second domain
  return {"x": x, "x_b": x_b, "label": jax.random.randint(rng.named(key, "label"), (rows,), 0, 10, jnp.int32)}


def _layout(tree):
  return jax.tree.structure(tree), [(x.shape, x.dtype) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", sorted(SMOKE_CONFIGS))
def test_task_contract(name, tmp_path):
  config = _smoke(name)
  shape = tasks.element_shape(config.data)
  task = tasks.make_task(config, shape)
  assert isinstance(task, tasks.Task)
  state = task.init(jax.random.key(0), jnp.zeros((1, *shape), jnp.float32))
  step = jax.jit(task.train_step)
  key = jax.random.key(1)

  state1, metrics = step(state, _batch(rng.named(key, "b1"), task, config, shape), rng.named(key, "s1"))
  assert metrics and all(np.isfinite(float(v)) for v in metrics.values()), metrics
  assert int(state1.step) == 1
  assert _layout(state1) == _layout(state)

  checkpointer = Checkpointer(str(tmp_path / "ckpt"), keep=2, use_async=False)
  checkpointer.save(1, state1)
  restored = checkpointer.restore(1, abstract_like(jax.eval_shape(lambda: state1), None))
  checkpointer.close()
  batch2, key2 = _batch(rng.named(key, "b2"), task, config, shape), rng.named(key, "s2")
  continued, m_continued = step(state1, batch2, key2)
  resumed, m_resumed = step(restored, batch2, key2)
  for a, b in zip(jax.tree.leaves((continued, m_continued)), jax.tree.leaves((resumed, m_resumed))):
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key)
                                             else a), np.asarray(jax.random.key_data(b)
                                             if jnp.issubdtype(b.dtype, jax.dtypes.prng_key) else b))

  preview = jax.jit(task.preview)(state1, rng.named(key, "preview"), _batch(key, task, config, shape))
  assert preview.ndim == len(shape) + 1 and bool(jnp.all(jnp.isfinite(preview)))
  if isinstance(task, tasks.Generative):
    samples, _ = task.generate(task.sampling_state(state1, key), task.latents(key, 3), key=key)
    assert samples.shape == (3, *shape)


@pytest.mark.parametrize("name,field,value", [
    ("inpaint", "train.n_critic", 2),            # repair: one D step per G step
    ("inpaint", "train.ema_decay", 0.999),       # repair: no EMA of the repairer
    ("superres", "train.augment", "translation"),
    ("bigan", "train.r1_gamma", 1.0),
    ("bigan", "model.num_classes", 10),
    ("gan", "train.pretrain_steps", 100),        # a repair field on a GAN
    ("gan", "model.w_dim", 64),                  # a stylegan field on the dcgan model
    ("gan", "repair.min_area", 0.2),
    ("cyclegan", "train.ema_decay", 0.999),      # cyclegan: no EMA of the generators
    ("cyclegan", "model.latent_dim", 64),
    ("gan", "data.source_b", "photos/"),         # a cyclegan data field on a GAN
])
def test_a_field_the_task_would_ignore_is_refused(name, field, value):
  config = _smoke(name)
  section, key = field.split(".")
  config[section][key] = value
  with pytest.raises(UserError, match=f"config.{field}=.*has no effect on task {name!r}"):
    tasks.validate(config)


@pytest.mark.parametrize("field,value,match", [
    ("train.g_lr", float("inf"), "must be finite"),
    ("train.d_lr", float("nan"), "must be positive"),
    ("train.optimizer", "sgd", "use one of adam, rmsprop"),
    ("model.dtype", "bfloat16", "float32 only"),
])
def test_bad_values_are_refused_with_one_line(field, value, match):
  config = _smoke("gan") if field != "model.dtype" else importlib.import_module(
      "experiments.configs.stylegan").get_config("smoke")
  section, key = field.split(".")
  config[section][key] = value
  with pytest.raises(UserError, match=match):
    tasks.make_task(config, tasks.element_shape(config.data))


def test_an_older_runs_config_gets_the_schema_defaults():
  old = {"seed": 3, "data": {"source": "mnist10k"}, "train": {"batch_size": 8}}
  merged = config_lib.with_defaults(old)
  assert merged.seed == 3 and merged.train.batch_size == 8
  assert merged.train.r1_every == config_lib.base_config().train.r1_every
  assert merged.task == "gan"


# ---------------------------------------------------------------- the package's shape

def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
  """(imported module, names) of every `import`/`from ... import` in the file, at any depth."""
  module = _module_name(path)
  package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield alias.name, []
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
      yield base, [alias.name for alias in node.names]


def _graph():
  modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
  edges = {}
  for name, path in modules.items():
    targets = set()
    for base, names in _imports(path):
      if not base.startswith("jgan"):
        continue
      for imported in names or [""]:
        full = f"{base}.{imported}" if imported else base
        targets.add(full if full in modules else base)
    # A module importing from its own package (jgan.tasks.gan: `from jgan.tasks import base`) finds the
    # package already initialising; only that edge is left out.
    edges[name] = {t for t in targets if t in modules and not (name + ".").startswith(t + ".")}
  return modules, edges


def test_no_import_cycle_between_jgan_modules():
  _, edges = _graph()
  state = {}

  def visit(node, stack):
    state[node] = "open"
    for nxt in sorted(edges[node]):
      if state.get(nxt) == "open":
        raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
      if nxt not in state:
        visit(nxt, stack + [nxt])
    state[node] = "done"

  for node in sorted(edges):
    if node not in state:
      visit(node, [node])


def test_no_module_imports_another_modules_private_names():
  modules, _ = _graph()
  offenders = [f"{name} imports {base}.{n}" for name, path in modules.items() for base, names in _imports(path)
               if base.startswith("jgan") for n in names if n.startswith("_") and n != "__version__"]
  assert not offenders, offenders


CONFIG_VARIANTS = [("dcgan", v) for v in ("", "smoke", "paper")] + [
    (n, v) for n in ("gan", "lsgan", "wgan", "wgan_gp", "sngan", "bigan", "stylegan", "toy2d") for v in ("", "smoke")
] + [("cgan", v) for v in ("", "smoke", "sngan", "sngan_smoke")] + [
    (n, v) for n in ("inpaint", "srgan") for v in ("", "smoke", "cifar")] + [
    ("cyclegan", v) for v in ("", "smoke", "horse2zebra")] + [
    ("bench", v) for v in ("default", "paper64", "main", "gpu")] + [
    ("stacked_mnist", v) for v in ("", "smoke", "dcgan")]


@pytest.mark.parametrize("name,variant", CONFIG_VARIANTS)
def test_every_shipped_config_validates(name, variant):
  module = importlib.import_module(f"experiments.configs.{name}")
  configs = [module.get_config(variant)]
  if name == "toy2d":   # every recipe of the benchmark table is a config of its own
    configs += [module.recipe_config(configs[0], r) for r in module.RECIPES]
  for config in configs:
    tasks.validate(config_lib.with_defaults(config))
