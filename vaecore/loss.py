"""The negative ELBO of a VAE with a beta-weighted KL term.

Kingma & Welling (2014), Auto-Encoding Variational Bayes, eq. 10 and appendix B;
Higgins et al. (2017), beta-VAE, eq. 4.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F


class LossTerms(NamedTuple):
    """Per-image averages over the batch, in nats."""

    total: torch.Tensor  # recon + beta * kl: what is minimised
    recon: torch.Tensor  # -E_q[log p(x|z)], one sample of z
    kl: torch.Tensor  # KL(q(z|x) || N(0, I)), closed form


def recon_nll(logits: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """-log p(x|z) summed over pixels: (..., D) -> (...).

    ``bernoulli``: binary cross-entropy of the pixel intensities (the report's Table 1).
    ``gaussian``: N(x; sigmoid(logits), I), i.e. half the squared error plus
    D/2 log 2 pi (the report's equation 8, written as a proper density).
    """
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
    if likelihood == "gaussian":
        return 0.5 * (x - torch.sigmoid(logits)).square().sum(-1) + 0.5 * x.shape[-1] * math.log(2 * math.pi)
    raise ValueError(f"unknown likelihood {likelihood!r}")


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) of each latent dim: (B, n) -> (B, n).

    Each dim gives 1/2 (mu^2 + sigma^2 - 1 - log sigma^2) (Kingma & Welling 2014, app. B).
    """
    return 0.5 * (mu.square() + logvar.exp() - 1 - logvar)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) summed over latent dims: (B, n) -> (B,)."""
    return kl_per_dim(mu, logvar).sum(-1)


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float, likelihood: str) -> LossTerms:
    """The beta-VAE objective, recon + beta * KL, averaged over the batch.

    Args:
        logits: decoder output (B, D).
        x: images (B, D) in [0, 1].
        mu, logvar: encoder output (B, n).
        beta: weight of the KL term only.
        likelihood: ``"bernoulli"`` or ``"gaussian"``.

    Returns:
        The three terms, each a scalar mean over the batch.
    """
    recon = recon_nll(logits, x, likelihood).mean()
    kl = kl_standard_normal(mu, logvar).mean()
    return LossTerms(recon + beta * kl, recon, kl)
