"""The MLP variational autoencoder of the report (Kingma & Welling 2014)."""

from __future__ import annotations

import torch
from torch import nn

from vaecore.config import Config


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Encoder x -> (mu, logvar) of q(z|x); decoder z -> logits of p(x|z).

    Args:
        x_dim: pixels per image (M).
        n: latent size.
        hidden: encoder hidden widths; the decoder uses them in reverse.
    """

    def __init__(self, x_dim: int, n: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.n = n
        self.encoder = mlp([x_dim, *hidden, 2 * n])
        self.decoder = mlp([n, *reversed(hidden), x_dim])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns mu and log sigma^2 of q(z|x), each (B, n), for x (B, M)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample through which gradients flow."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Returns the logits (..., M) of p(x|z) for z (..., n)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)  # (B, n) each
        z = self.reparameterize(mu, logvar)  # (B, n)
        return self.decode(z), mu, logvar  # (B, M), (B, n), (B, n)


def build_model(config: Config, x_dim: int) -> VAE:
    """A fresh VAE of ``config``'s sizes for inputs of ``x_dim`` pixels."""
    return VAE(x_dim, config.n, config.hidden)
