"""Test-set figures of merit: the ELBO terms of Table 1, an IWAE estimate of log p(x), latent usage."""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch.distributions import Normal

from vaecore.config import Config
from vaecore.loss import LossTerms, kl_per_dim, recon_nll, vae_loss
from vaecore.memory import reuse_freed_blocks
from vaecore.model import VAE
from vaecore.progress import progress_bar

# the evaluations of a run repeated with other draws of z, to measure how much the draws move its total
DRAWS = 8


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
        x: images (N, M).
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


def draw_spread(model: VAE, x: torch.Tensor, config: Config, draws: int = DRAWS) -> float:
    """How much :func:`elbo`'s total moves with its one sample of z per image: the standard
    deviation of the totals of ``draws`` seeds, the weights and images held fixed."""
    return statistics.stdev(elbo(model, x, config, seed=seed).total for seed in range(draws))


def passes(x: torch.Tensor, k: int) -> tuple[int, int]:
    """(images per pass, samples per part) for k samples per image of ``x`` (N, M): k * chunk * M
    floats, 8 MB at most; a k too big for one image's pass is drawn in parts of that size, so memory
    stays bounded however big k is (passes of 1 to 8 images at k = 1000 take the same time per image)."""
    rows = max(1, 2**21 // x.shape[1])
    return max(1, rows // k), min(k, rows)


def log_weights(model: VAE, batch: torch.Tensor, config: Config, k: int, part: int) -> Iterator[torch.Tensor]:
    """log w = log p(x|z) + log p(z) - log q(z|x) of k draws z ~ q(z|x) for each image of ``batch``
    (B, M), ``part`` draws at a time: (part, B) tensors, the last one shorter where part does not divide k."""
    mu, logvar = model.encode(batch)  # (B, n)
    # no argument checks: their comparisons over every sample cost a few % of the estimate
    q = Normal(mu, torch.exp(0.5 * logvar), validate_args=False)
    prior = Normal(torch.zeros_like(mu), torch.ones_like(mu), validate_args=False)
    for start in range(0, k, part):
        z = q.sample((min(part, k - start),))  # (part, B, n)
        yield (-recon_nll(model.decode(z), batch, config.likelihood)  # (part, B)
               + prior.log_prob(z).sum(-1)
               - q.log_prob(z).sum(-1))


@torch.no_grad()
def iwae_nll(model: VAE, x: torch.Tensor, config: Config, k: int, seed: int = 0,
             progress: bool = False) -> float:
    """Importance-weighted estimate of -log p(x) per image (Burda et al. 2016).

    log p(x) >= E[log 1/k sum_s p(x|z_s) p(z_s) / q(z_s|x)], z_s ~ q(z|x): the bound
    equals the ELBO at k = 1 and tightens towards log p(x) as k grows.

    Args:
        model: the VAE.
        x: images (N, M).
        config: gives the likelihood.
        k: importance samples per image.
        seed: seed of the samples.
        progress: show the images going by (see :mod:`vaecore.progress`).

    Returns:
        The mean over images of the estimated -log p(x), in nats.
    """
    reuse_freed_blocks()
    chunk, part = passes(x, k)
    total = 0.0
    bar = progress_bar(total=len(x), desc=f"IWAE, k = {k}", unit="image", enabled=progress)
    with seeded(seed, x.device), bar:
        for batch in x.split(chunk):
            log_sum = None  # log sum_s w_s over the parts so far, (B,)
            for log_w in log_weights(model, batch, config, k, part):
                part_sum = torch.logsumexp(log_w, dim=0)
                log_sum = part_sum if log_sum is None else torch.logaddexp(log_sum, part_sum)
            total -= (log_sum - math.log(k)).sum().item()
            bar.update(len(batch))
    return total / len(x)


class LatentUsage(NamedTuple):
    """How much of the latent space a model uses, per dimension, over a set of images."""

    kl_per_dim: list[float]  # (n,) mean KL(q(z_u|x) || N(0, 1)) of each dim; they sum to the KL
    mean_variance: list[float]  # (n,) variance over images of E_q[z_u|x]
    active_units: int  # dims whose mean_variance exceeds the threshold


@torch.no_grad()
def latent_usage(model: VAE, x: torch.Tensor, threshold: float = 0.01, batch_size: int = 2000) -> LatentUsage:
    """Per-dimension KL and active units of the encoder on images ``x`` (N, M).

    A unit u is active when Var_x(E_q[z_u|x]) > ``threshold`` (Burda et al. 2016, section 5.2,
    with their 0.01): an inactive unit's posterior does not depend on the image, so the
    decoder cannot use it; its KL is then the price of q differing from the prior.
    """
    mus, kls = [], []
    for batch in x.split(batch_size):
        mu, logvar = model.encode(batch)  # (B, n) each
        mus.append(mu)
        kls.append(kl_per_dim(mu, logvar).sum(0))
    variance = torch.cat(mus).var(0, correction=0)  # (n,)
    return LatentUsage(kl_per_dim=(torch.stack(kls).sum(0) / len(x)).tolist(),
                       mean_variance=variance.tolist(),
                       active_units=int((variance > threshold).sum()))
