"""The MLP VAE: shapes, the reparameterization trick and its gradients."""

import pytest
import torch

from vaecore.loss import recon_nll
from vaecore.model import VAE

D, B = 784, 5


@pytest.mark.parametrize("n", [1, 2, 16])
def test_shapes(n):
    """encode gives (B, n) twice, decode (B, D), forward (logits, mu, logvar)."""
    model = VAE(D, n, (32, 16))
    x = torch.rand(B, D)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (B, n)
    assert model.decode(mu).shape == (B, D)
    logits, mu2, logvar2 = model(x)
    assert logits.shape == (B, D)
    assert torch.equal(mu2, mu) and torch.equal(logvar2, logvar)


def test_decoder_mirrors_encoder_widths():
    """The decoder uses the hidden widths in reverse."""
    model = VAE(D, 3, (64, 32))
    widths = [(m.in_features, m.out_features) for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert widths == [(D, 64), (64, 32), (32, 6)]
    widths = [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert widths == [(3, 32), (32, 64), (64, D)]


@pytest.mark.parametrize("n", [1, 2, 16])
def test_reconstruction_gradient_reaches_encoder_through_z(n):
    """A recon-only loss (no KL) on decode(reparameterize(...)) trains the encoder, mu and logvar."""
    model = VAE(D, n, (32,))
    x = torch.rand(B, D)
    mu, logvar = model.encode(x)
    mu.retain_grad()
    logvar.retain_grad()
    recon_nll(model.decode(model.reparameterize(mu, logvar)), x, "bernoulli").mean().backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0
    assert mu.grad.abs().sum() > 0
    assert logvar.grad.abs().sum() > 0


def test_reparameterize_without_variance_returns_mu():
    """With logvar very negative (sigma ~ 0) the sample is mu."""
    mu = torch.randn(B, 4)
    z = VAE.reparameterize(mu, torch.full_like(mu, -60.0))
    torch.testing.assert_close(z, mu, rtol=0, atol=1e-10)


def test_reparameterize_has_the_posterior_moments():
    """Samples of z have mean mu and standard deviation exp(logvar / 2)."""
    mu, logvar = torch.tensor([[1.5, -2.0]]), torch.tensor([[0.0, 2 * torch.log(torch.tensor(0.5))]])
    z = VAE.reparameterize(mu.expand(20000, 2), logvar.expand(20000, 2))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 0.5]), atol=0.03, rtol=0)
