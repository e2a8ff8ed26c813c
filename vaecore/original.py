"""The report this study reproduces: its Table 1 and its protocol."""

from __future__ import annotations

import dataclasses

from vaecore.config import Config

# Table 1 of the original report (test set, nats per image): (n, beta) -> (BCE, KL, total).
# The only numbers in the book typed by hand, and only to compare against.
ORIGINAL_TABLE1 = {
    (1, 1.0): (156.82, 4.22, 161.04),
    (2, 1.0): (137.70, 6.80, 144.49),
    (64, 1.0): (76.23, 23.80, 100.03),
    (64, 0.1): (59.18, 77.68, 66.94),
    (64, 0.5): (69.50, 34.30, 86.65),
    (64, 2.0): (87.29, 15.46, 118.20),
    (64, 10.0): (143.37, 3.69, 180.22),
}


def departures(config: dict) -> list[str]:
    """How a run's config departs from the report's protocol, in words (empty: it follows it).

    Every setting of the config is part of the protocol, the IWAE samples included, except what
    the runs vary: the latent size, β, the seed and the device (a book folder's own, checked apart).
    """
    ours, theirs = Config.from_dict(config), Config(n=config["n"], beta=config["beta"])
    words = {"dataset": lambda c: c.dataset, "likelihood": lambda c: f"the {c.likelihood} likelihood",
             "hidden": lambda c: f"hidden layers {'-'.join(map(str, c.hidden))}",
             "epochs": lambda c: f"{c.epochs} epochs", "batch_size": lambda c: f"batches of {c.batch_size}",
             "lr": lambda c: f"learning rate {c.lr:g}",
             "train_size": lambda c: f"{c.train_size:,} training images",
             "test_size": lambda c: f"{c.test_size:,} test images",
             "iwae_k": lambda c: f"an IWAE estimate with k = {c.iwae_k}"}
    varied = ("n", "beta", "seed", "device")
    return [words.get(key, lambda c: f"{key} {getattr(c, key)}")(ours) for key in
            (field.name for field in dataclasses.fields(Config) if field.name not in varied)
            if getattr(ours, key) != getattr(theirs, key)]
