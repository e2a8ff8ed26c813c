"""The negative ELBO: closed-form KL, per-pixel likelihoods and the beta-weighted total."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from vaecore.loss import BernoulliNLL, kl_standard_normal, recon_nll, sum_of_logs, vae_loss

D = 784


@pytest.mark.parametrize("n", [1, 2, 16])
def test_kl_matches_torch_distributions(n):
    """The closed-form KL equals torch's KL(N(mu, sigma) || N(0, 1)) summed over latent dims."""
    mu, logvar = torch.randn(8, n, dtype=torch.float64), 2 * torch.randn(8, n, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_standard_normal(mu, logvar), expected)


@pytest.mark.parametrize("n", [1, 2, 16])
def test_kl_is_zero_at_the_prior(n):
    """A posterior equal to the prior (mu = 0, logvar = 0) has KL exactly 0."""
    zeros = torch.zeros(3, n)
    assert torch.equal(kl_standard_normal(zeros, zeros), torch.zeros(3))


def test_bernoulli_is_per_pixel_cross_entropy():
    """Bernoulli NLL is -sum_pixels [x log p + (1 - x) log(1 - p)] with p = sigmoid(logits)."""
    logits = 3 * torch.randn(5, D, dtype=torch.float64)
    x = torch.rand(5, D, dtype=torch.float64)
    p = torch.sigmoid(logits)
    expected = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
    torch.testing.assert_close(recon_nll(logits, x, "bernoulli"), expected)


def _logit_range(dtype):
    """Logits from -100 to 100 against targets 0, 1 and in between: (2001, 4) each."""
    logits = torch.linspace(-100, 100, 2001, dtype=dtype)[:, None].expand(-1, 4).contiguous()
    x = torch.tensor([0.0, 1.0, 0.3, 0.9], dtype=dtype).expand_as(logits)
    return logits, x


def test_fused_bernoulli_equals_the_reference_over_the_whole_logit_range():
    """In float32 the fused BCE is torch's BCE computed in float64, to float32 rounding (at logit
    100 a float32 ulp is 8e-6, so four pixels of such logits round to 3e-5)."""
    logits, x = _logit_range(torch.float32)
    reference = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none").sum(-1)
    assert torch.isfinite(BernoulliNLL.apply(logits, x)).all()
    torch.testing.assert_close(BernoulliNLL.apply(logits, x).double(), reference, rtol=1e-6, atol=3e-5)


@pytest.mark.parametrize("pixels", [784, 787])  # groups of 112; 787 is prime: groups of 1
def test_sum_of_logs_is_the_sum_of_the_logs_down_to_factors_of_one_half(pixels):
    """A product of 112 factors of 1/2 or more stays above 2^-112, within float32's normal numbers,
    so the sum of the logs is float64's to float32 rounding: for factors at (or just above) 1/2,
    spread over [1/2, 1], or all at 1."""
    factors = torch.stack([torch.full((pixels,), 0.5), torch.full((pixels,), 0.501),
                           torch.linspace(0.5, 1, pixels), torch.ones(pixels)])
    expected = factors.double().log().sum(-1)
    torch.testing.assert_close(sum_of_logs(factors).double(), expected, rtol=1e-6, atol=0)


def test_fused_bernoulli_gradient_is_autograds_gradient_of_the_reference():
    """The gradients for the logits and for the targets (also when the targets broadcast over
    samples) equal autograd's through torch's BCE, over logits from -100 to 100."""
    logits, x = _logit_range(torch.float64)
    logits = logits.reshape(3, 667, 4)[..., :1].expand(-1, -1, 4).contiguous()  # (S, B, D): targets broadcast
    x = x[:667]
    weights = torch.randn(3, 667, dtype=torch.float64)  # a downstream loss's gradient, (S, B)
    grads = []
    for nll in (BernoulliNLL.apply, lambda l, t: F.binary_cross_entropy_with_logits(
            l, t.expand_as(l), reduction="none").sum(-1)):
        l, t = logits.clone().requires_grad_(), x.clone().requires_grad_()
        (nll(l, t) * weights).sum().backward()
        grads.append((l.grad, t.grad))
    torch.testing.assert_close(grads[0], grads[1])
    assert torch.autograd.gradcheck(BernoulliNLL.apply, (torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True),
                                                         torch.rand(3, 5, dtype=torch.float64, requires_grad=True)))


def test_fused_bernoulli_trains_to_the_bits_of_torchs_bce():
    """On a float32 batch the fused BCE's gradient is torch's BCE's to the last bit: a run trained
    with either has the same weights, so the shipped models stay those of their pages."""
    generator = torch.Generator().manual_seed(0)
    logits = 8 * torch.randn(256, D, generator=generator)
    x = torch.rand(256, D, generator=generator)
    grads = []
    for nll in (BernoulliNLL.apply, lambda l, t: F.binary_cross_entropy_with_logits(l, t, reduction="none").sum(-1)):
        l = logits.clone().requires_grad_()
        nll(l, x).mean().backward()
        grads.append(l.grad)
    assert torch.equal(*grads)


def test_gaussian_is_unit_variance_density():
    """Gaussian NLL is 0.5 ||x - sigmoid(logits)||^2 + D/2 log(2 pi) per image."""
    logits = torch.randn(5, D, dtype=torch.float64)
    x = torch.rand(5, D, dtype=torch.float64)
    expected = 0.5 * (x - torch.sigmoid(logits)).square().sum(-1) + D / 2 * math.log(2 * math.pi)
    torch.testing.assert_close(recon_nll(logits, x, "gaussian"), expected)


def test_recon_nll_broadcasts_over_samples():
    """Logits of k samples per image (k, B, D) give one NLL per sample and image (k, B)."""
    logits, x = torch.randn(4, 3, D), torch.rand(3, D)
    nll = recon_nll(logits, x, "bernoulli")
    assert nll.shape == (4, 3)
    torch.testing.assert_close(nll[2], recon_nll(logits[2], x, "bernoulli"))


def test_unknown_likelihood_fails():
    """An unknown likelihood is an error, not a silent default."""
    with pytest.raises(ValueError, match="poisson"):
        recon_nll(torch.zeros(1, D), torch.zeros(1, D), "poisson")


def _batch(n, b=6):
    return (torch.randn(b, D, dtype=torch.float64), torch.rand(b, D, dtype=torch.float64),
            torch.randn(b, n, dtype=torch.float64), torch.randn(b, n, dtype=torch.float64))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("n", [1, 2, 16])
def test_vae_loss_terms_are_batch_means_of_per_image_sums(n, likelihood):
    """recon and kl are batch means of per-image sums, and total = recon + beta * kl."""
    logits, x, mu, logvar = _batch(n)
    terms = vae_loss(logits, x, mu, logvar, beta=0.5, likelihood=likelihood)
    recon = recon_nll(logits, x, likelihood).mean()
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1).mean()
    torch.testing.assert_close(terms.recon, recon)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.total, recon + 0.5 * kl)


def test_beta_weights_only_the_kl_in_the_total():
    """Changing beta changes the total only; recon and kl stay bit-identical."""
    logits, x, mu, logvar = _batch(2)
    one = vae_loss(logits, x, mu, logvar, beta=1.0, likelihood="bernoulli")
    ten = vae_loss(logits, x, mu, logvar, beta=10.0, likelihood="bernoulli")
    assert torch.equal(one.recon, ten.recon) and torch.equal(one.kl, ten.kl)
    assert not torch.equal(one.total, ten.total)
    torch.testing.assert_close(ten.total, one.recon + 10 * one.kl)
