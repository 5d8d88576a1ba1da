"""The tasks the one training loop runs; importing this package registers every one.

    from jgan.tasks import make_task, element_shape
    task = make_task(config, element_shape(config.data))

  base.py      the Task / Generative protocols, the registry, element_shape, init_state
  state.py     GANState (the training state of every task) and the network plumbing
  gan.py       the GAN families (losses, stabilisers, conditional G/D, PacGAN)
  bigan.py     BiGAN / ALI: an encoder and a joint D(x, z)
  repair.py    what the image-repair tasks share (two phases: reconstruction, then adversarial)
  inpaint.py   inpainting: gated-conv G, PatchGAN D, seeded holes
  superres.py  super-resolution: SRResNet, then SRGAN
  cyclegan.py  unpaired translation between two domains (CycleGAN)
"""
from jgan.tasks import bigan, cyclegan, gan, inpaint, superres  # noqa: F401  (each registers itself)
from jgan.tasks.base import (
                             REGISTRY,
                             Generative,
                             Task,
                             TaskSpec,
                             check_labels,
                             element_shape,
                             init_state,
                             make_task,
                             open_data,
                             register,
                             validate,
)
from jgan.tasks.state import GANState

__all__ = ["REGISTRY", "GANState", "Generative", "Task", "TaskSpec", "check_labels", "element_shape", "init_state",
           "make_task", "open_data", "register", "validate"]
