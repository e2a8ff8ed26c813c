"""vaecore: variational autoencoders on MNIST, a small, fast, tested core for a reproducible study."""

from vaecore.weights import load

__all__ = ["load"]
