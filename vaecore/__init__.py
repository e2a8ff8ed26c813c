"""vaecore: variational autoencoders on MNIST, a small, fast, tested core for a reproducible study."""
