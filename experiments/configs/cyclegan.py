"""CycleGAN (Zhu et al. 2017): unpaired translation, on built-in digit domains by default.

    python -m experiments.cyclegan --workdir=runs/cyclegan                     # MNIST <-> MNIST-M-style, 32 px
    python -m experiments.cyclegan --config=experiments/configs/cyclegan.py:smoke --workdir=/tmp/smoke
    python -m experiments.cyclegan --config=experiments/configs/cyclegan.py:horse2zebra --workdir=runs/h2z
    # any two domains: a folder, a .zip, a tfds name (NAME:SPLIT), or a built-in domain each
    python -m experiments.cyclegan --config.data.source_a=photos/ --config.data.source_b=paintings.zip
    python -m experiments.translate --workdir=runs/cyclegan --direction=a2b --image=IN.png --out=OUT.png

Variants (the text after ':'):
  ""            domain A = the grey embedded MNIST digits (first half), domain B = MNIST-M-style colour
                digits made from the other half (`jgan.data.synthetic`); 32x32 RGB, narrow nets and 3
                residual blocks, 3,000 steps of batch 4: about 8 minutes on a 2-core CPU. One grey digit
                has many colour versions (any texture), which the paper's G, a function, cannot draw: it
                paints every digit over the same texture. So G takes an 8-dim random code here
                (config.model.code_dim, `jgan.tasks.cyclegan`), which moved the classifier trained on
                G(A) from 0.120 to 0.754 on real B, 88% of the source-only -> oracle gap (3 seeds;
                README, Unpaired translation).
  "paper"       the default with the paper's deterministic G (code_dim = 0).
  "smoke"       tiny nets, a few steps (tests); G with a code, as the default.
  "style"       photo -> stylised photo with a known answer (issue 14, task 2): domain A = CIFAR-10 photos
                (half of train), domain B = the other half through `jgan.data.stylise.stylise`, read from
                config.data.style_root (a zip or folder of CIFAR-10 JPEGs); 32 px, the default's nets
                without the code (stylise(x) is one image per photo), the input image fed to G's last
                conv too (config.model.input_skip: G keeps each photo's colours).
                Scored by experiments.bench_style.
  "style_smoke" "style" with the smoke variant's sizes and 64 images per domain (tests).
  "horse2zebra" the paper's setting (sec. 7.1, its deterministic G): 256 px, width 64, 9 blocks, batch 1, 200 epochs of
                the 1067 horses (100 at lr 2e-4, then linear decay to 0); tfds downloads the data once.
Every variant: LSGAN, cycle weight 10, identity weight 0.5 x 10, pools of 50 images, Adam with b1 = 0.5
at a constant rate for the first half of the steps, then decaying linearly to 0; the rate is the paper's
2e-4 in horse2zebra, 1e-3 for the short CPU runs (at 2e-4, 600 steps leave G's outputs noise).
The sample grid shows real A | G(A) | F(G(A)) triples, then real B | F(B) | G(F(B)).
"""
import ml_collections

from jgan import config as config_lib
from jgan.models.cyclegan import paper_num_blocks


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.task = "cyclegan"
  config.data.source_a = "mnist10k_a"
  config.data.source_b = "mnistm10k_b"
  config.data.resolution = 32
  config.data.channels = 3
  config.model.name = "cyclegan"
  config.model.g_width = 16
  config.model.d_width = 16
  config.model.num_blocks = 3
  config.model.code_dim = 8            # one-to-many A -> B; 0 = the paper (variant "paper")
  config.train.loss = "least_squares"
  config.train.batch_size = 4
  config.train.num_steps = 3000        # F(b) read by lenet: 38.9% at 600 steps, 78.7% at 3,000 (README)
  config.train.g_lr = 1e-3             # the paper's 2e-4 (horse2zebra) barely leaves noise in 600 CPU steps
  config.train.d_lr = 1e-3
  config.train.lr_schedule = "constant_linear"   # constant for the first half, then linearly to 0
  config.log.every_steps = 25
  config.log.sample_every_steps = 100
  config.log.checkpoint_every_steps = 100
  config.log.num_samples = 24          # 24 examples per domain: a 12x12 grid of triples
  variants = {"smoke": _smoke, "paper": _paper, "style": _style, "style_smoke": _style_smoke,
              "horse2zebra": _horse2zebra}
  return config_lib.variant(arg, "cyclegan", variants, config)


def _smoke(config) -> None:
  config_lib.smoke_loop(config)
  config.model.g_width = 4
  config.model.d_width = 4
  config.model.num_blocks = 1
  config.train.batch_size = 4
  config.train.pool_size = 6           # fills within the smoke run, so the swap rule runs too
  config.log.num_samples = 6


def _paper(config) -> None:
  config.model.code_dim = 0


def _style(config) -> None:
  from jgan.data import stylise
  config.data.source_a, config.data.source_b = stylise.DOMAINS
  config.model.code_dim = 0            # stylise(x) is a function of x: one answer per photo
  # The paper's G cannot see a photo's mean colour (its first instance norm removes it), so its G(x) had
  # colour casts unrelated to x's: 13.88 dB against stylise(x), 15.50 with the skip (README).
  config.model.input_skip = True


def _style_smoke(config) -> None:
  _style(config)
  _smoke(config)
  config.data.domain_limit = 64        # decoding and stylising 25,000 JPEGs per domain is minutes on a CPU


def _horse2zebra(config) -> None:
  config.data.source_a = "cycle_gan/horse2zebra:trainA"
  config.data.source_b = "cycle_gan/horse2zebra:trainB"
  config.data.resolution = 256
  config.model.g_width = 64
  config.model.d_width = 64
  config.model.num_blocks = paper_num_blocks(256)
  config.model.dtype = "bfloat16"
  config.model.code_dim = 0            # the paper's G
  config.train.batch_size = 1
  config.train.num_steps = 200 * 1067
  config.train.g_lr = 2e-4
  config.train.d_lr = 2e-4
  config.log.every_steps = 500
  config.log.sample_every_steps = 5000
  config.log.checkpoint_every_steps = 5000
  config.log.num_samples = 6
