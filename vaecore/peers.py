"""The trainers vaecore is timed against: the loop of pytorch/examples/vae and pythae's BaseTrainer.

Each is given the report's model (the same :class:`vaecore.model.VAE` layers), batch and
optimizer, and returns a timer: a function that trains one more epoch and returns its seconds,
so that a benchmark can interleave the trainers' epochs on a shared machine.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from vaecore.config import Config
from vaecore.cost import sync
from vaecore.data import PIXELS, data_root
from vaecore.model import VAE
from vaecore.model import build_model

Timer = Callable[[], float]


def examples_epoch(config: Config, root: str | None, device: torch.device, images: int | None = None) -> Timer:
    """Epochs as pytorch/examples/vae writes them: torchvision Dataset + DataLoader, sigmoid + BCE,
    over the first ``images`` training images (all where None)."""
    mnist = datasets.MNIST(root=data_root(root), train=True, download=False, transform=transforms.ToTensor())
    if images is not None:
        mnist = Subset(mnist, range(images))
    loader = DataLoader(mnist, batch_size=config.batch_size, shuffle=True)
    model = build_model(config, PIXELS).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def epoch() -> float:
        start = time.perf_counter()
        for data, _ in loader:
            data = data.to(device).view(-1, PIXELS)
            optimizer.zero_grad()
            mu, logvar = model.encode(data)
            recon = torch.sigmoid(model.decode(model.reparameterize(mu, logvar)))
            bce = F.binary_cross_entropy(recon, data, reduction="sum")
            kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            (bce + kld).backward()
            optimizer.step()
        sync(device)
        return time.perf_counter() - start

    return epoch


def pythae_epoch(layers: VAE, config: Config, x: torch.Tensor) -> Timer | None:
    """Epochs of pythae's ``BaseTrainer`` (its ``train_step``) training ``layers`` on the images
    ``x`` (N, M) in memory, or None where pythae is not installed (``pip install -e ".[peers]"``).

    pythae's VAE decodes to probabilities and takes their BCE, as its own models do; its
    progress bar and console printer are left out so that they do not write into the benchmark.
    """
    try:
        from pythae.data.datasets import BaseDataset
        from pythae.models import VAE as PythaeVAE
        from pythae.models import VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.trainers import BaseTrainer, BaseTrainerConfig
        from pythae.trainers.training_callbacks import CallbackHandler
    except ImportError:
        return None

    device = x.device
    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = layers.encoder

        def forward(self, images: torch.Tensor) -> ModelOutput:
            mu, logvar = self.net(images).chunk(2, dim=-1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = layers.decoder

        def forward(self, z: torch.Tensor) -> ModelOutput:
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    logging.getLogger("pythae.trainers.base_trainer.base_trainer").setLevel(logging.WARNING)
    model = PythaeVAE(VAEConfig(input_dim=(x.shape[1],), latent_dim=config.n, reconstruction_loss="bce"),
                      encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as folder:  # pythae makes its training folder there; train_step writes none
        trainer = BaseTrainer(model, BaseDataset(x.cpu(), torch.zeros(len(x))),
                              training_config=BaseTrainerConfig(
                                  output_dir=folder, learning_rate=config.lr, num_epochs=1,
                                  per_device_train_batch_size=config.batch_size, no_cuda=device.type != "cuda"))
        trainer.prepare_training()
    trainer.callback_handler = CallbackHandler(callbacks=trainer.callbacks, model=trainer.model)

    def epoch() -> float:
        start = time.perf_counter()
        trainer.train_step(1)
        sync(device)
        return time.perf_counter() - start

    return epoch
