"""The training state every task keeps, and the plumbing to run its Flax networks.

`GANState` is one pytree (orbax saves it whole): the step, the run's root key,
and per-network dicts keyed by network name ("g", "d", "e" for BiGAN's encoder).
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class GANState:
  """Everything that changes during training; a pytree that orbax saves whole.

  Per-network dicts are keyed by network name ("g", "d", and e.g. "e" for BiGAN).
  """
  step: jax.Array          # int32 scalar: completed generator updates
  rng: jax.Array           # uint32 key data of the run's root key (config.seed)
  params: dict
  batch_stats: dict        # {} entries for networks without BatchNorm
  opt_state: dict
  ema_params: dict         # generator EMA weights ({} when EMA is off)

  @property
  def root_key(self) -> jax.Array:
    return jax.random.wrap_key_data(self.rng)

  @classmethod
  def fresh(cls, root_key: jax.Array, params: dict, batch_stats: dict, optimizers: dict,
            ema_params: dict | None = None) -> "GANState":
    """Step 0: `optimizers` maps each network name to its optax transformation."""
    return cls(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(root_key), params=params,
               batch_stats=batch_stats, opt_state={name: opt.init(params[name]) for name, opt in optimizers.items()},
               ema_params=ema_params or {})


def apply_net(module: nn.Module, params, batch_stats, *inputs, train: bool, rngs: dict | None = None):
  """Runs `module`; returns (output, new batch_stats). Only training mode updates statistics.

  `batch_stats` is every mutable collection a network keeps besides its params:
  BatchNorm running statistics, spectral-norm power-iteration vectors (flax's
  nn.SpectralNorm stores them there), StyleGAN's running mean of w. `rngs`
  ({"noise": key}) feeds modules that draw randomness (StyleGAN's per-layer
  noise and style mixing); others ignore it.
  """
  variables = {"params": params}
  kwargs = {"train": train} if rngs is None else {"train": train, "rngs": rngs}
  if batch_stats:
    variables["batch_stats"] = batch_stats
    if train:
      out, updated = module.apply(variables, *inputs, mutable=["batch_stats"], **kwargs)
      return out, updated["batch_stats"]
  return module.apply(variables, *inputs, **kwargs), batch_stats


def init_net(module: nn.Module, key: jax.Array, *inputs) -> tuple[Any, Any]:
  variables = module.init(key, *inputs, train=False)
  return variables["params"], variables.get("batch_stats", {})


def ema_update(ema, params, decay: float):
  """One step of the exponential moving average: decay * ema + (1 - decay) * params, leafwise."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def ema_warmup_cap(step: int) -> float:
  """The warm-up's bound on the EMA decay at G update number `step` (0-based): (1 + t) / (10 + t), as
  TensorFlow's ExponentialMovingAverage with num_updates. `GAN._update_ema` uses min(ema_decay, this)."""
  return (1.0 + step) / (10.0 + step)


def ema_warmup_note(decay: float, num_steps: int) -> str | None:
  """A one-line note when `decay` never binds within a run of `num_steps` G updates, else None.

  min(decay, (1 + t) / (10 + t)) equals `decay` from t >= (10 decay - 1) / (1 - decay) on (8,990 for 0.999),
  so in a shorter run every decay above the warm-up's last bound gives the same weights."""
  if not 0.0 < decay < 1.0 or num_steps < 1:
    return None
  cap = ema_warmup_cap(num_steps - 1)
  if decay <= cap:
    return None
  binds = math.ceil((10.0 * decay - 1.0) / (1.0 - decay) - 1e-6)  # the 1e-6: float rounding of an exact step
  horizon = round(1 / (1 - cap))
  return (f"note: train.ema_decay={decay:g} binds only from step {binds:,} on (the EMA warm-up, min(decay, (1 + t) / "
          f"(10 + t))); this run's {num_steps:,} steps end at decay {cap:.5f} (about {horizon:,} "
          f"step{'s' if horizon != 1 else ''} averaged), so any ema_decay above {cap:.5f} gives it the same weights; "
          "train.ema_warmup=False uses the decay from step 0")


def split_logits(out):
  """D's output -> (adversarial logits (B,), class logits (B, K) or None); ACGAN heads return a pair."""
  if isinstance(out, (tuple, list)):
    return out[0], out[1]
  return out, None
