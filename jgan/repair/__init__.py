"""Image repair: GAN inpainting and super-resolution (SRGAN).

  masks.py  hole masks (centre box, random boxes, free-form strokes), seeded, exact area
  nets.py   gated-conv inpainter + PatchGAN (Yu et al. 2019; Pathak et al. 2016), SRResNet with
            sub-pixel upsampling + SRGAN critic (Ledig et al. 2017; Shi et al. 2016)
  tasks.py  the "inpaint" and "superres" training tasks for the generic loop (registered in
            jgan.build.TASKS / MODELS when jgan.build is imported)
  apply.py  trained models on your images: batches of images + masks, tiled upscaling
  vgg.py    optional VGG19 perceptual features from a local weights file

Train with `python -m experiments.inpaint` / `python -m experiments.srgan`, apply
with `python -m experiments.repair {inpaint,upscale}`, compare with simple
baselines with `make bench-repair`.
"""
