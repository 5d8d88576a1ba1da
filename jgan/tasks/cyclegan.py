"""CycleGAN as a task of the training loop: unpaired translation between domains A and B.

Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks" (arXiv:1703.10593). Two generators G: A -> B and F: B -> A, two PatchGAN critics
D_A (real A vs F(b)) and D_B (real B vs G(a)); networks "g", "f", "d_a", "d_b" of the state.

One step, on batch {"x": a (B, H, W, C), "x_b": b (B, H, W, C)} (`jgan.data.unpaired`):
  1. G and F together minimise
       adv(D_B(G(a))) + adv(D_A(F(b)))
       + cycle_weight * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)                       (eq. 2)
       + identity_weight * cycle_weight * (|G(b) - b|_1 + |F(a) - a|_1)         (sec. 5.2, 7.1)
     with the LSGAN objective (sec. 4, 7.1): adv(s) = mean((s - 1)^2), as the authors' MSE (the
     registry's least-squares G loss carries a 1/2, undone here); other `train.loss` values use the
     registry's G loss as it is. |.|_1 is the mean absolute error.
  2. The fakes G(a), F(b) of step 1 (made before the update, as in the authors' code) go through the
     image pools (`pool_query`), which return, image by image, either the new fake or one
     generated at an earlier step (Shrivastava et al. 2017).
  3. D_A and D_B each minimise the registry's D loss of (real, pooled fakes); for least squares
     that is 1/2 (mean((D(real) - 1)^2) + mean(D(fake)^2)): the paper's "divide the objective by 2".

With `model.code_dim` = k > 0 (not in the paper; default 0), G becomes one-to-many. The paper's G is a
function, so where one a has many plausible b (a digit over any texture) it can only draw one of them, the
same for every input; here G(a, z) also takes a code z ~ U(-1, 1)^k and F(b) also returns a code in
[-1, 1]^k (both `ResnetGenerator(code_dim=k)`), and the cycles carry it, as Augmented CycleGAN
(Almahairi et al. 2018, arXiv:1802.10151) does with separate encoders:
  a, z -> G(a, z) -> F(G(a, z)) = (rec_a, rec_z):  |rec_a - a|_1 + |rec_z - z|_1 (the code must be visible in G's image)
  b -> F(b) = (fake_a, z_b) -> G(fake_a, z_b):      |G(fake_a, z_b) - b|_1          (F reads the code that redraws b)
both weighted by cycle_weight; the identity terms use the zero code.

The pools are part of the state (`CycleGANState.pool`: per direction, the images and how many
are filled), updated from the step's key: the step is pure and jittable, and a resumed run
continues bit for bit.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jgan import config as config_lib
from jgan.core import rng
from jgan.core.errors import UserError
from jgan.models import factory
from jgan.objectives import losses
from jgan.objectives.losses import DLoss, GLoss
from jgan.tasks import base
from jgan.tasks.gan import validate_optimization
from jgan.tasks.state import GANState, apply_net, init_net
from jgan.train import optim

GENERATORS = ("g", "f")      # g: A -> B, f: B -> A
CRITICS = ("d_a", "d_b")     # d_a judges domain A (real a vs F(b)), d_b domain B (real b vs G(a))
DIRECTIONS = ("a2b", "b2a")


@struct.dataclass
class CycleGANState(GANState):
  """GANState plus the two image pools: {"a": {"images": (P, H, W, C), "count": int32}, "b": ...};
  pool "b" holds generated B images (G's) for D_B, pool "a" generated A images (F's) for D_A."""
  pool: dict = struct.field(default_factory=dict)


# ---------------------------------------------------------------- the image pool

def pool_init(size: int, shape) -> dict:
  """An empty pool of `size` images of `shape` (H, W, C)."""
  return {"images": jnp.zeros((size, *shape), jnp.float32), "count": jnp.zeros((), jnp.int32)}


def pool_query(pool: dict, images: jax.Array, key: jax.Array) -> tuple[dict, jax.Array]:
  """(new pool, the images D sees) for a batch of new fakes `images` (B, H, W, C), image by image:

  while the pool holds fewer than its size, the new image is stored and returned; once full, with
  probability 1/2 a uniformly chosen stored image is returned and the new one takes its place,
  else the new image is returned and the pool is unchanged. A pool of size 0 returns `images`.
  Pure: the randomness is `key`'s (`pool_draws`).
  """
  return pool_update(pool, images, pool_draws(key, images.shape[0]))


def pool_draws(key: jax.Array, batch: int, pools: int | None = None) -> jax.Array:
  """The uniforms `pool_update` consumes: (batch, 2) ((pools, batch, 2) when `pools` is given), one random call."""
  return jax.random.uniform(key, (batch, 2) if pools is None else (pools, batch, 2))


def pool_update(pool: dict, images: jax.Array, draws: jax.Array) -> tuple[dict, jax.Array]:
  """`pool_query` with its randomness given: draws (B, 2) in [0, 1): per image, the coin (< 0.5: swap)
  and the position of the stored image it swaps with."""
  size = pool["images"].shape[0]
  if size == 0:
    return pool, images

  def one(carry, item):
    stored, count = carry
    image, (coin, where) = item
    full = count >= size
    swap = full & (coin < 0.5)
    index = jnp.where(full, jnp.minimum((where * size).astype(jnp.int32), size - 1), jnp.minimum(count, size - 1))
    old = stored[index]
    stored = stored.at[index].set(jnp.where(full & ~swap, old, image))
    return (stored, jnp.minimum(count + 1, size)), jnp.where(swap, old, image)

  (stored, count), out = jax.lax.scan(one, (pool["images"], pool["count"]), (images.astype(jnp.float32), draws))
  return {"images": stored, "count": count}, out.astype(images.dtype)


# ---------------------------------------------------------------- initialisation

LECUN_TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def lecun_init(modules: dict, key: jax.Array, example: jax.Array) -> dict:
  """{name: params} for the conv nets `modules` ({name: module}), with flax's default initialisers'
  distributions (kernels lecun-normal: truncated normal of variance 1 / fan_in; biases 0), all kernels
  drawn by ONE random call: XLA:CPU compiles each random draw for seconds, and the four networks
  have ~60 kernels.
  """
  shapes = {name: jax.eval_shape(lambda m=m: init_net(m, jax.random.key(0), example))[0]
            for name, m in modules.items()}
  flat, treedef = jax.tree_util.tree_flatten_with_path(shapes)
  sizes = []
  for path, leaf in flat:
    kind = path[-1].key
    if kind not in ("kernel", "bias"):
      raise ValueError(f"lecun_init knows kernels and biases, not {jax.tree_util.keystr(path)}")
    sizes.append(leaf.size if kind == "kernel" else 0)
  draws = jax.random.truncated_normal(key, -2.0, 2.0, (sum(sizes),), jnp.float32)
  leaves, offset = [], 0
  for (_, leaf), size in zip(flat, sizes):
    if size:
      fan_in = size // leaf.shape[-1]
      std = (1.0 / fan_in) ** 0.5 / LECUN_TRUNCATED_STD
      leaves.append((draws[offset:offset + size] * std).reshape(leaf.shape).astype(leaf.dtype))
      offset += size
    else:
      leaves.append(jnp.zeros(leaf.shape, leaf.dtype))
  return jax.tree_util.tree_unflatten(treedef, leaves)


# ---------------------------------------------------------------- losses

def l1(a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.mean(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)))


def cycle_loss(a, rec_a, b, rec_b) -> jax.Array:
  """|F(G(a)) - a|_1 + |G(F(b)) - b|_1 (mean absolute errors), eq. 2 of Zhu et al."""
  return l1(rec_a, a) + l1(rec_b, b)


def identity_loss(a, f_of_a, b, g_of_b) -> jax.Array:
  """|G(b) - b|_1 + |F(a) - a|_1: each generator leaves its own target domain alone."""
  return l1(g_of_b, b) + l1(f_of_a, a)


@dataclasses.dataclass(frozen=True)
class CycleGANTask:
  """See the module docstring. `generator`/`discriminator` are the architectures; G and F (D_A and
  D_B) are two parameter sets of the same module."""
  generator: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  d_loss: DLoss
  g_loss: GLoss
  g_loss_scale: float = 2.0      # least squares: mean((s - 1)^2), the registry's loss x 2
  cycle_weight: float = 10.0
  identity_weight: float = 0.5   # a fraction of cycle_weight
  pool_size: int = 50
  label_smoothing: float = 0.0

  @property
  def batch_multiple(self) -> int:
    return 1

  def init(self, root_key: jax.Array, example_x: jax.Array) -> CycleGANState:
    init_key = rng.named(root_key, "init")
    modules = {**{n: self.generator for n in GENERATORS}, **{n: self.discriminator for n in CRITICS}}
    params = lecun_init(modules, init_key, example_x[:1])
    stats = {name: {} for name in modules}
    optimizers = {**{n: self.g_optimizer for n in GENERATORS}, **{n: self.d_optimizer for n in CRITICS}}
    fresh = GANState.fresh(root_key, params, stats, optimizers)
    shape = example_x.shape[1:]
    return CycleGANState(step=fresh.step, rng=fresh.rng, params=fresh.params, batch_stats=fresh.batch_stats,
                         opt_state=fresh.opt_state, ema_params={},
                         pool={"a": pool_init(self.pool_size, shape), "b": pool_init(self.pool_size, shape)})

  # ---------------------------------------------------------------- networks
  @property
  def code_dim(self) -> int:
    return getattr(self.generator, "code_dim", 0)

  def _net(self, module, params, x):
    return apply_net(module, params, {}, x, train=False)[0]

  def _gen(self, params, x, code=None):
    """(image, code read by the generator, or None when code_dim is 0)."""
    if not self.code_dim:
      return self._net(self.generator, params, x), None
    return apply_net(self.generator, params, {}, x, code, train=False)[0]

  def draw_codes(self, key: jax.Array, batch: int) -> jax.Array | None:
    """G's codes z ~ U(-1, 1)^code_dim, (batch, code_dim); None when G takes none."""
    return jax.random.uniform(key, (batch, self.code_dim), minval=-1.0, maxval=1.0) if self.code_dim else None

  def translate(self, params: dict, x: jax.Array, direction: str = "a2b", code: jax.Array | None = None) -> jax.Array:
    """x (B, H, W, C) in [-1, 1], H and W multiples of 4 -> G(x, code) (a2b) or F(x) (b2a).
    code (B, code_dim): G's code (a2b, code_dim > 0 only; None = zeros, the middle of its range)."""
    if direction not in DIRECTIONS:
      raise UserError(f"direction {direction!r}: use a2b or b2a")
    return self._gen(params["g" if direction == "a2b" else "f"], x, code if direction == "a2b" else None)[0]

  def _critic(self, params, x):
    return self._net(self.discriminator, params, x)

  # ---------------------------------------------------------------- the step
  def _generator_loss(self, g_params: dict, d_params: dict, a, b, z=None):
    fake_b, _ = self._gen(g_params["g"], a, z)
    fake_a, code_b = self._gen(g_params["f"], b)
    rec_a, rec_z = self._gen(g_params["f"], fake_b)
    rec_b, _ = self._gen(g_params["g"], fake_a, code_b)
    adv_g = self.g_loss_scale * self.g_loss(self._critic(d_params["d_b"], fake_b))
    adv_f = self.g_loss_scale * self.g_loss(self._critic(d_params["d_a"], fake_a))
    cycle = cycle_loss(a, rec_a, b, rec_b)
    loss = adv_g + adv_f + self.cycle_weight * cycle
    terms = {"adv_g": adv_g, "adv_f": adv_f, "cycle": cycle}
    if self.code_dim:
      code_cycle = jnp.mean(jnp.abs(rec_z - z))
      loss = loss + self.cycle_weight * code_cycle
      terms["code_cycle"] = code_cycle
    if self.identity_weight > 0:
      identity = identity_loss(a, self._gen(g_params["f"], a)[0], b, self._gen(g_params["g"], b)[0])
      loss = loss + self.identity_weight * self.cycle_weight * identity
      terms["identity"] = identity
    return loss, (terms, fake_a, fake_b)

  def _critic_loss(self, d_params: dict, a, b, pooled_a, pooled_b):
    scores = {}
    total = 0.0
    for name, real, fake in (("d_a", a, pooled_a), ("d_b", b, pooled_b)):
      real_s, fake_s = self._critic(d_params[name], real), self._critic(d_params[name], fake)
      loss = self.d_loss(real_s, fake_s, self.label_smoothing)
      total = total + loss
      scores.update({f"{name}_loss": loss, f"{name}_real": jnp.mean(real_s), f"{name}_fake": jnp.mean(fake_s)})
    return total, scores

  def train_step(self, state: CycleGANState, batch: dict, key: jax.Array) -> tuple[CycleGANState, dict]:
    """One step on batch {"x": domain A, "x_b": domain B}; key: this step's key."""
    a, b = batch["x"], batch["x_b"]
    if a.ndim != 4 or a.shape != b.shape:
      raise ValueError(f"cyclegan needs batches of images of one shape, got {a.shape} and {b.shape}")
    g_params = {n: state.params[n] for n in GENERATORS}
    d_params = {n: state.params[n] for n in CRITICS}
    z = self.draw_codes(rng.named(key, "code"), a.shape[0])
    (g_total, (terms, fake_a, fake_b)), g_grads = jax.value_and_grad(self._generator_loss, has_aux=True)(
        g_params, d_params, a, b, z)
    for name in GENERATORS:
      state = optim.apply_gradients(state, name, g_grads[name], self.g_optimizer)

    draws = pool_draws(rng.named(key, "pool"), a.shape[0], pools=2)
    pool_a, pooled_a = pool_update(state.pool["a"], jax.lax.stop_gradient(fake_a), draws[0])
    pool_b, pooled_b = pool_update(state.pool["b"], jax.lax.stop_gradient(fake_b), draws[1])
    (d_total, scores), d_grads = jax.value_and_grad(self._critic_loss, has_aux=True)(
        d_params, a, b, pooled_a, pooled_b)
    for name in CRITICS:
      state = optim.apply_gradients(state, name, d_grads[name], self.d_optimizer)

    metrics = {"g_loss": g_total, "d_loss": d_total, **terms, **scores,
               "d_real": 0.5 * (scores["d_a_real"] + scores["d_b_real"]),
               "d_fake": 0.5 * (scores["d_a_fake"] + scores["d_b_fake"]),
               "g_grad_norm": optax.tree.norm(g_grads), "d_grad_norm": optax.tree.norm(d_grads)}
    return state.replace(step=state.step + 1, pool={"a": pool_a, "b": pool_b}), metrics

  # ---------------------------------------------------------------- the sample grid
  def preview(self, state: CycleGANState, key: jax.Array, batch: dict) -> jax.Array:
    """Triples real A | G(A) | F(G(A)) for the first half of the grid, then real B | F(B) | G(F(B)).

    With 6 examples per domain the grid (6 columns) has 3 rows of A triples, then 3 of B triples;
    with 24, 12 columns, 6 rows each. With code_dim > 0, G(A) uses codes drawn from `key`.
    """
    a = batch["x"]
    b = batch.get("x_b", batch["x"])  # the contract's plain batches have no B: translate A both ways
    num = preview_count(min(a.shape[0], b.shape[0]))
    a, b = a[:num], b[:num]
    fake_b = self.translate(state.params, a, "a2b", self.draw_codes(rng.named(key, "code"), num))
    fake_a, code_b = self._gen(state.params["f"], b)
    rows = []
    for real, there, back in ((a, fake_b, self.translate(state.params, fake_b, "b2a")),
                              (b, fake_a, self.translate(state.params, fake_a, "a2b", code_b))):
      rows.append(jnp.stack([real, there, back], axis=1).reshape(-1, *real.shape[1:]))
    return jnp.concatenate(rows)


def preview_count(num: int) -> int:
  """Examples per domain in the grid: 6n of them make a square grid of whole triples (n = 24, 6, 1)."""
  for count in (24, 6):
    if num >= count:
      return count
  return 1


# ---------------------------------------------------------------- config -> task

FIELDS = frozenset({
    "train.loss", "train.label_smoothing", "train.optimizer", "train.g_lr", "train.d_lr", "train.b1", "train.b2",
    "train.lr_schedule", "train.lr_final", "train.cycle_weight", "train.identity_weight", "train.pool_size",
    "data.source_a", "data.source_b", "data.style_root", "data.domain_limit"})


def validate(config) -> None:
  t = config.train
  validate_optimization(config)
  if config.data.source != config_lib.default_of("data.source"):
    raise UserError(f"config.data.source={config.data.source!r} has no effect on task 'cyclegan': name the "
                    "domains with config.data.source_a and config.data.source_b")
  if not (t.cycle_weight >= 0 and jnp.isfinite(t.cycle_weight)):
    raise UserError(f"config.train.cycle_weight={t.cycle_weight!r} must be finite and >= 0")
  if not (t.identity_weight >= 0 and jnp.isfinite(t.identity_weight)):
    raise UserError(f"config.train.identity_weight={t.identity_weight!r} must be finite and >= 0 (0 = off)")
  if not isinstance(t.pool_size, int) or isinstance(t.pool_size, bool) or t.pool_size < 0:
    raise UserError(f"config.train.pool_size={t.pool_size!r} must be an integer >= 0 (0 = off)")
  if config.model.name != "cyclegan":
    raise UserError(f"config.model.name={config.model.name!r}: task 'cyclegan' uses model 'cyclegan'")


def make_cyclegan(config, element_shape) -> CycleGANTask:
  t = config.train
  if len(element_shape) != 3:
    raise UserError(f"config.task='cyclegan' needs images, but the data has shape {element_shape}")
  generator, discriminator = factory.networks(config.model, element_shape)
  d_loss, g_loss = losses.get_losses(t.loss)
  return CycleGANTask(generator=generator, discriminator=discriminator,
                      g_optimizer=optim.make_optimizer(t, t.g_lr), d_optimizer=optim.make_optimizer(t, t.d_lr),
                      d_loss=d_loss, g_loss=g_loss, g_loss_scale=2.0 if t.loss == "least_squares" else 1.0,
                      cycle_weight=float(t.cycle_weight), identity_weight=float(t.identity_weight),
                      pool_size=int(t.pool_size), label_smoothing=float(t.label_smoothing))


def open_data(config):
  """The run's two domains (jgan.data.unpaired; imported here: it loads tensorflow-datasets)."""
  from jgan.data import unpaired
  return unpaired.open_unpaired(config.data, config.seed)


base.register(base.TaskSpec(name="cyclegan", build=make_cyclegan, validate=validate, fields=FIELDS,
                            open_data=open_data))
