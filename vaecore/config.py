"""The experiment configuration: one typed, validated dataclass, loaded from YAML."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import reprlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from vaecore.errors import VaecoreError

MAX_PARAMS_BYTES = 64 * 1024  # a params file is a dozen lines; a bigger one is a mistake or an attack

_repr = reprlib.Repr()  # a value in a message is at most a line, however big it was
_repr.maxstring = _repr.maxother = 60


class ConfigError(VaecoreError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Config:
    """One experiment: data, model, loss and optimisation.

    Attributes:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        n: latent size.
        beta: weight of the KL term (beta-VAE; 1 is the plain VAE).
        hidden: widths of the encoder's hidden layers (the decoder mirrors them).
        likelihood: ``"bernoulli"`` (BCE) or ``"gaussian"`` (unit-variance, MSE form).
        epochs: passes over the training set.
        batch_size: images per optimiser step.
        lr: Adam learning rate.
        seed: seed of every random draw (initialisation, shuffling, sampling).
        device: ``"cpu"`` or ``"cuda"``.
        train_size: use only the first ``train_size`` training images (None: all).
        test_size: use only the first ``test_size`` test images (None: all).
        iwae_k: importance samples per image for the final log p(x) estimate.
    """

    n: int
    dataset: str = "mnist"
    beta: float = 1.0
    hidden: tuple[int, ...] = (256, 256)
    likelihood: str = "bernoulli"
    epochs: int = 300
    batch_size: int = 256
    lr: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    train_size: int | None = None
    test_size: int | None = None
    iwae_k: int = 1000

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            _check_type(field.name, getattr(self, field.name), hints[field.name])
            if hints[field.name] is float:  # YAML reads `beta: 1` as an int
                object.__setattr__(self, field.name, float(getattr(self, field.name)))
        _check(self.n >= 1, "n", self.n, "must be >= 1")
        _check(math.isfinite(self.beta) and self.beta >= 0, "beta", self.beta, "must be finite and >= 0")
        _check(len(self.hidden) >= 1 and min(self.hidden) >= 1, "hidden", self.hidden,
               "must be one or more positive widths")
        _check(self.epochs >= 1, "epochs", self.epochs, "must be >= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1")
        _check(math.isfinite(self.lr) and self.lr > 0, "lr", self.lr, "must be finite and > 0")
        _check(self.iwae_k >= 1, "iwae_k", self.iwae_k, "must be >= 1")
        for key in ("train_size", "test_size"):
            value = getattr(self, key)
            _check(value is None or value >= 1, key, value, "must be >= 1 or null")
        _check(self.dataset in ("mnist", "fashion-mnist"), "dataset", self.dataset,
               "must be 'mnist' or 'fashion-mnist'")
        _check(self.likelihood in ("bernoulli", "gaussian"), "likelihood", self.likelihood,
               "must be 'bernoulli' or 'gaussian'")
        _check(self.device in ("cpu", "cuda"), "device", self.device, "must be 'cpu' or 'cuda'")

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build a config, failing on any key the dataclass does not have."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown config key {_repr.repr(key)}; known keys: {', '.join(sorted(known))}")
        if "n" not in values:
            raise ConfigError("missing config key 'n' (the latent size)")
        values = dict(values)
        if isinstance(values.get("hidden"), list):
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Config:
        """Load and validate a params file; errors name the file and the key.

        YAML aliases are refused and the file may be at most 64 KiB, so that a few bytes
        cannot expand into gigabytes ("billion laughs").
        """
        try:
            with open(path, "rb") as file:
                text = file.read(MAX_PARAMS_BYTES + 1)
        except OSError as error:
            raise ConfigError(f"cannot read params file {path} ({error.strerror})") from None
        if len(text) > MAX_PARAMS_BYTES:
            raise ConfigError(f"params file {path} is larger than {MAX_PARAMS_BYTES // 1024} KiB; "
                              f"a params file lists the config keys only")
        try:
            values = yaml.load(text, Loader=_NoAliasLoader) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"params file {path} is not valid YAML{where} "
                              f"({getattr(error, 'problem', None) or 'unreadable'}); fix it") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, got {type(values).__name__}")
        try:
            return cls.from_dict(values)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None

    def to_dict(self) -> dict:
        """Plain JSON/YAML-ready values (tuples become lists)."""
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        return values

    def to_yaml_text(self) -> str:
        """The params file of this config."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def fingerprint(self) -> str:
        """A short hash of everything that shapes a run except its length and device.

        Two configs with the same fingerprint can continue each other's checkpoints.
        """
        values = self.to_dict()
        for key in ("epochs", "device", "iwae_k"):
            del values[key]
        return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:10]


def params_dir() -> Path:
    """The repository's ``params/``: one YAML file per configuration, named for its run."""
    return Path(__file__).resolve().parents[1] / "params"


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: ``*name`` can repeat a node exponentially often."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _check(ok: bool, key: str, value: object, why: str) -> None:
    if not ok:
        raise ConfigError(f"config key {key!r} {why}, got {_repr.repr(value)}")


def _check_type(key: str, value: object, hint: object) -> None:
    """Check ``value`` against the annotations used above (int, float, str, tuple, Optional)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return
        if typing.get_origin(option) is tuple:
            if isinstance(value, tuple) and all(_is(v, int) for v in value):
                return
        elif option is not type(None) and _is(value, option):
            return
    names = " or ".join("null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options)
    raise ConfigError(f"config key {key!r} must be {names}, got {_repr.repr(value)} ({type(value).__name__})")


def _is(value: object, kind: type) -> bool:
    if isinstance(value, bool):  # bool is an int subclass, but never a size or a rate
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)

