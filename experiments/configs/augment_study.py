"""The GANs-as-data-augmentation study (jgan.eval.augmentation): its protocols and its CPU budget.

""      : sized for 2 CPU cores: every GAN 800 steps of 64 (DCGAN families at width 32 with the dcgan main job's
          EMA and lazy R1; the SNGAN ResNet at width 16); LeNet-5-size classifiers 600 steps of 64, 3 seeds per
          row; GAN data fractions 10% and 100%. 12 GANs, 39 classifiers; what was timed is in the README.
"smoke" : the whole study end to end in seconds per GAN (tests): 3 GANs of 6 steps at width 8 fed from the host
          (one compiled step for every subset size), 3-step LeNets, 2 seeds, small sets.
"""
import ml_collections


def get_config(arg: str = ""):
  if arg not in ("", "smoke"):
    raise ValueError(f"unknown augment_study config variant {arg!r}: use '' or 'smoke'")
  config = ml_collections.ConfigDict()
  config.seed = 0                            # GAN seeds, the synthetic draws; LeNet seeds are seed * 1000 + i
  config.smoke = False                       # GANs from the families' smoke configs (tests)
  config.data_dir = ""                       # tfds data dir ("" = tfds's default)
  config.protocols = "cas,few_labels,data_efficient,translated"
  config.families = "cgan,cgan_sngan,acgan"  # conditional families of the CAS protocol
  config.family = "cgan"                     # the conditional GAN of the few-label and data-efficient protocols
  config.gan = ml_collections.ConfigDict(dict(
      num_steps=800,                         # generator updates of every GAN
      batch_size=64,
      width=32,                              # g_width = d_width of the DCGAN-type families; 0 = the config's
      sngan_width=16,                        # the same for cgan_sngan's ResNets
      ema_decay=0.999,                       # DCGAN-type families: the dcgan main job's EMA of G ...
      r1_gamma=0.1,                          # ... and lazy R1 (every 16 steps); 0 = the family's plain config
      lazy_on_device=False,                  # True: the study's runs before 2026-12-04, bit for bit
  ))
  config.classifier = ml_collections.ConfigDict(dict(
      num_steps=600,                         # LeNet updates, the same for every row (about 4 epochs of the pool)
      batch_size=64,
      widths=(6, 16, 84),                    # conv, conv, dense: LeNet-5's sizes (jgan.features.lenet.LeNet)
      seeds=3,                               # LeNets per row: the mean and 95% CI are over these
  ))
  config.few_labels = (100, 500, 1000)       # labelled real digits (pool:N, balanced)
  config.num_synth = 9000                    # synthetic digits drawn from each few-label GAN
  config.synth_ratio = 0.5                   # fraction of synthetic examples in the few-label mixture
  config.few_labels_diffaugment = True       # also a few-label GAN trained with DiffAugment (its own row)
  config.fractions = (0.1, 1.0)              # data-efficient protocol: fraction of the pool the GAN sees
  config.diffaugment = "color,translation,cutout"
  config.fid_num = 2000                      # samples per FID
  if arg == "smoke":
    config.smoke = True
    config.gan.num_steps, config.gan.batch_size, config.gan.width, config.gan.sngan_width = 6, 16, 0, 0
    config.gan.ema_decay, config.gan.r1_gamma = 0.0, 0.0
    config.classifier.num_steps, config.classifier.batch_size, config.classifier.seeds = 3, 16, 2
    config.families = "cgan"                 # the other two run in the default study and in test_family_smoke
    config.few_labels = (20,)
    config.few_labels_diffaugment = False    # its GAN is the data_efficient DiffAugment path, tested there
    config.num_synth = 40
    config.fractions = (1.0,)
    config.fid_num = 50
  return config
