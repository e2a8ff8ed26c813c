"""Test-set figures of merit: the ELBO terms of Table 1 and an IWAE estimate of log p(x)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch.distributions import Normal

from vaecore.config import Config
from vaecore.loss import LossTerms, recon_nll, vae_loss
from vaecore.model import VAE


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Draw from ``seed`` inside the block and leave the global RNG as it was: an evaluation
    gives the same number however often it runs, and does not change the training's draws."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def elbo(model: VAE, x: torch.Tensor, config: Config, batch_size: int = 2000, seed: int = 0) -> LossTerms:
    """The loss terms over a whole set, one sample of z per image.

    Args:
        model: the VAE.
        x: images (N, D).
        config: gives beta and the likelihood.
        batch_size: images per forward pass (memory only; the result does not depend on it
            beyond floating-point rounding).
        seed: seed of the sampled z, so that repeated evaluations agree.

    Returns:
        Per-image means of (total, recon, kl) as floats.
    """
    sums = torch.zeros(3, device=x.device)
    with seeded(seed, x.device):
        for batch in x.split(batch_size):
            logits, mu, logvar = model(batch)
            terms = vae_loss(logits, batch, mu, logvar, config.beta, config.likelihood)
            sums += torch.stack(terms) * len(batch)
    return LossTerms(*(sums / len(x)).tolist())


@torch.no_grad()
def iwae_nll(model: VAE, x: torch.Tensor, config: Config, k: int, seed: int = 0) -> float:
    """Importance-weighted estimate of -log p(x) per image (Burda et al. 2016).

    log p(x) >= E[log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x)], z_i ~ q(z|x): the bound
    equals the ELBO at k = 1 and tightens towards log p(x) as k grows.

    Args:
        model: the VAE.
        x: images (N, D).
        config: gives the likelihood.
        k: importance samples per image.
        seed: seed of the samples.

    Returns:
        The mean over images of the estimated -log p(x), in nats.
    """
    # images per pass: k * chunk * D floats, a few MB, so that the elementwise work over the
    # logits stays in cache (a third faster on CPU than 32 MB passes); a k too big for one
    # image's pass is drawn in parts of that size, so memory stays bounded however big k is
    rows = max(1, 2**21 // x.shape[1])
    chunk, part = max(1, rows // k), min(k, rows)
    total = 0.0
    with seeded(seed, x.device):
        for batch in x.split(chunk):
            mu, logvar = model.encode(batch)  # (B, n)
            q = Normal(mu, torch.exp(0.5 * logvar))
            log_sum = None  # log sum_i w_i over the parts so far, (B,)
            for start in range(0, k, part):
                z = q.sample((min(part, k - start),))  # (part, B, n)
                log_w = (-recon_nll(model.decode(z), batch, config.likelihood)  # (part, B)
                         + Normal(0.0, 1.0).log_prob(z).sum(-1)
                         - q.log_prob(z).sum(-1))
                part_sum = torch.logsumexp(log_w, dim=0)
                log_sum = part_sum if log_sum is None else torch.logaddexp(log_sum, part_sum)
            total -= (log_sum - math.log(k)).sum().item()
    return total / len(x)
