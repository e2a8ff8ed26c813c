"""The experiment config: every params file loads, and bad values fail by key and value."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from vaecore.config import Config, ConfigError

PARAMS = sorted((Path(__file__).resolve().parents[1] / "params").glob("*.yaml"))


def test_there_are_params_files():
    """The repo ships params files (else the next test would check nothing)."""
    assert PARAMS


@pytest.mark.parametrize("path", PARAMS, ids=[p.stem for p in PARAMS])
def test_params_file_loads(path):
    """Each params/*.yaml is a valid config and its values survive loading."""
    config = Config.from_yaml(path)
    raw = yaml.safe_load(path.read_text())
    assert config.to_dict() == {**config.to_dict(), **raw}


BAD = [
    # (values, pattern the message must match: the key and the bad value)
    ({"n": 2, "latent": 3}, r"unknown config key 'latent'"),
    ({"n": "two"}, r"'n'.*'two'"),
    ({"n": 2, "epochs": 1.5}, r"'epochs'.*1\.5"),
    ({"n": 2, "hidden": "256"}, r"'hidden'.*'256'"),
    ({"n": 2, "hidden": [256, "a"]}, r"'hidden'.*'a'"),
    ({"n": True}, r"'n'.*True"),
    ({"n": 0}, r"'n'.*0"),
    ({"n": 2, "beta": -1}, r"'beta'.*-1"),
    ({"n": 2, "epochs": 0}, r"'epochs'.*0"),
    ({"n": 2, "lr": 0}, r"'lr'.*0"),
    ({"n": 2, "lr": float("inf")}, r"'lr' must be finite.*inf"),
    ({"n": 2, "lr": float("nan")}, r"'lr' must be finite.*nan"),
    ({"n": 2, "beta": float("inf")}, r"'beta' must be finite.*inf"),
    ({"n": 2, "beta": float("nan")}, r"'beta' must be finite.*nan"),
    ({"n": 2, "train_size": 0}, r"'train_size'.*0"),
    ({"n": 2, "dataset": "cifar"}, r"'dataset'.*'cifar'"),
    ({"n": 2, "likelihood": "poisson"}, r"'likelihood'.*'poisson'"),
    ({"beta": 1.0}, r"missing config key 'n'"),
]


@pytest.mark.parametrize("values, pattern", BAD, ids=[str(v) for v, _ in BAD])
def test_bad_value_names_key_and_value(values, pattern):
    """A bad config fails with ConfigError naming the key and the offending value."""
    with pytest.raises(ConfigError, match=pattern):
        Config.from_dict(values)


@pytest.mark.parametrize("values, pattern", BAD[:4] + BAD[-3:], ids=[str(v) for v, _ in BAD[:4] + BAD[-3:]])
def test_bad_params_file_names_the_file(tmp_path, values, pattern):
    """from_yaml errors also name the params file."""
    path = tmp_path / "broken-params.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(ConfigError, match=pattern) as error:
        Config.from_yaml(path)
    assert "broken-params.yaml" in str(error.value)


def test_params_file_must_be_a_mapping(tmp_path):
    """A YAML list instead of a mapping is a ConfigError naming the file."""
    path = tmp_path / "list.yaml"
    path.write_text("- n\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml.*mapping"):
        Config.from_yaml(path)


def test_yaml_round_trip(tmp_path):
    """to_yaml_text then from_yaml gives an equal config."""
    config = Config(n=16, beta=0.5, hidden=(128, 64, 32), likelihood="gaussian", epochs=7,
                    lr=3e-4, seed=4, train_size=100, test_size=None, iwae_k=5)
    (tmp_path / "c.yaml").write_text(config.to_yaml_text())
    assert Config.from_yaml(tmp_path / "c.yaml") == config


def test_integer_beta_becomes_float(tmp_path):
    """`beta: 1` in YAML is the float 1.0 (so configs and fingerprints compare equal)."""
    (tmp_path / "c.yaml").write_text("n: 2\nbeta: 1\n")
    config = Config.from_yaml(tmp_path / "c.yaml")
    assert config.beta == 1.0 and type(config.beta) is float
    assert config == Config(n=2, beta=1.0)
    assert config.fingerprint() == Config(n=2, beta=1.0).fingerprint()


def test_replace_validates_too():
    """dataclasses.replace (used for CLI overrides) re-checks values."""
    with pytest.raises(ConfigError, match="'epochs'"):
        dataclasses.replace(Config(n=2), epochs=0)


def test_fingerprint_ignores_only_length_device_and_iwae_k():
    """Runs differing in epochs/device/iwae_k can resume each other; in beta or seed they cannot."""
    base = Config(n=2)
    assert dataclasses.replace(base, epochs=3, device="cuda", iwae_k=7).fingerprint() == base.fingerprint()
    assert dataclasses.replace(base, beta=2.0).fingerprint() != base.fingerprint()
    assert dataclasses.replace(base, seed=1).fingerprint() != base.fingerprint()


def test_yaml_alias_is_refused(tmp_path):
    """An alias (*name), the stuff of "billion laughs" bombs, is refused naming the file and the line."""
    path = tmp_path / "alias.yaml"
    path.write_text("n: &two 2\nseed: *two\n")
    with pytest.raises(ConfigError, match=r"alias.yaml is not valid YAML at line 2 \(YAML aliases"):
        Config.from_yaml(path)


def test_long_value_is_shortened(tmp_path):
    """A value of 100,000 items shows as a line, not as all of them."""
    with pytest.raises(ConfigError, match=r"'hidden'") as error:
        Config.from_dict({"n": 2, "hidden": ["a"] * 100_000})
    assert len(str(error.value)) < 200
