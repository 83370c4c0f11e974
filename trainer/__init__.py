"""stylize-train: train pix2pix and CycleGAN generators from folders of images."""
