"""stylize-train: train pix2pix and CycleGAN generators from folders of images, and distill any
generator into a fast one."""
