"""Saves step 1, starts an async save of a large step 2, and SIGKILLs itself mid-write."""
import os
import signal
import sys
import time

import jax.numpy as jnp

from jgan.train.checkpoint import Checkpointer

directory = sys.argv[1]
checkpointer = Checkpointer(directory, keep=3)
checkpointer.save(1, {"w": jnp.arange(10.0), "step": jnp.int32(1)})
checkpointer.wait()
# ~400 MB: writing takes far longer than the kill below.
checkpointer.save(2, {"w": jnp.ones((100_000_000,), jnp.float32), "step": jnp.int32(2)})
print("saving", flush=True)
# Kill once the write is under way (its temporary folder exists): on a loaded machine the
# background thread may not have started writing the moment save() returns.
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not any("tmp" in name for name in os.listdir(directory)):
  time.sleep(0.005)
os.kill(os.getpid(), signal.SIGKILL)
