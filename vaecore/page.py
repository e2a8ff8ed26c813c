"""What a run page says about itself: its title, the command that reproduces it, its weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from vaecore import weights
from vaecore.config import Config, ConfigError, params_dir
from vaecore.provenance import describe
from vaecore.words import listed, markdown_row


def title(config: Config) -> str:
    """"n = 64, β = 0.1 (seed 0)", naming the GPU and any departure from the report's protocol."""
    notes = [f"seed {config.seed}"]
    defaults = Config(n=config.n)  # the report's protocol
    if config.dataset != defaults.dataset:
        notes.append(config.dataset)
    if config.epochs != defaults.epochs:
        notes.append(f"{config.epochs} epochs")
    if config.train_size is not None:
        notes.append(f"{config.train_size:,} training images")
    if config.device == "cuda":
        notes.append("GPU")
    return f"n = {config.n}, β = {config.beta:g} ({', '.join(notes)})"


def params_file(config: Config) -> Path | None:
    """The params file in ``params/`` that ``config`` came from: the same run, differing in the
    fewest keys (epochs, device or IWAE samples, given on papermill's command line)."""
    candidates = []
    for path in sorted(params_dir().glob("*.yaml")):
        try:
            other = Config.from_yaml(path)
        except ConfigError:
            continue
        if other.fingerprint() == config.fingerprint():
            candidates.append((len(_differences(other, config)), path))
    return min(candidates)[1] if candidates else None


def _differences(base: Config, config: Config) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(base, f.name)}


def command(config: Config) -> str:
    """The papermill command that executes this page again, from the repository's root: the params
    file it came from (:mod:`vaecore.parameters`) and the keys given beside it."""
    path = params_file(config)
    base = Config.from_yaml(path) if path else Config(n=config.n)
    words = ["papermill book/experiment.ipynb out.ipynb"]
    words.append(f"-p params params/{path.name}" if path else f"-p n {config.n}")
    for key, value in _differences(base, config).items():
        words.append(f"-p {key} {list(value) if isinstance(value, tuple) else value}")
    return " ".join(words)


def reproduce(config: Config) -> str:
    """A "Reproduce this page" box (MyST markdown) with :func:`command`."""
    return (":::{admonition} Reproduce this page\n:class: tip\n"
            "From the repository's root, with MNIST in `$VAECORE_DATA`:\n\n"
            f"```bash\n{command(config)}\n```\n\n"
            f"It resumes the run's checkpoint in `$VAECORE_RUNS` if there is one; else {_source(config)}\n:::")


def _source(config: Config) -> str:
    """What a page without a checkpoint runs on: the shipped weights :func:`vaecore.weights.find` finds, or training."""
    name = weights.find(config)
    if name is None:
        return "it trains from scratch (the book ships no weights for this configuration)."
    path = weights.shipped_path(name)
    return (f"it evaluates this run's shipped weights, `book/{path.parent.name}/{path.name}`, "
            f"without training (`VAECORE_SHIPPED=off` trains anew).")


def weights_note(config: Config, metrics: dict) -> str:
    """Where this page's model came from, and the file that holds it, in a sentence."""
    if metrics.get("shipped_weights"):
        path = weights.shipped_path(metrics["shipped_weights"])
        where = f", on {describe(metrics['evaluated_on'])}" if "evaluated_on" in metrics else ""
        return (f"No training ran for this page: it evaluates the weights shipped as "
                f"book/{path.parent.name}/{path.name} (SHA-256 {metrics['weights_sha256'][:16]}…){where}.")
    path = params_file(config)
    # plain text: the page glues this sentence as text, where markdown would show its backticks
    where = f"shipped beside this page as {path.stem}.pt" if path else "model.pt in the run's folder"
    return f"The trained weights are {where} (SHA-256 {metrics['weights_sha256'][:16]}…)."


def versions(commits: list[str]) -> str:
    """The code versions that trained a run, in words: ``"version 8c373ca"``, ``"versions 8c373ca and 72de02a"``."""
    short = [c[:7] + ("+dirty" if c.endswith("+dirty") else "") for c in commits]
    return ("version " if len(short) == 1 else "versions ") + listed(short)


def metrics_table(metrics: dict) -> str:
    """One run's test figures as a markdown table."""
    rows = [("distortion D (BCE)" if metrics["config"]["likelihood"] == "bernoulli" else "distortion D",
             metrics["test_recon"]),
            ("rate R (KL)", metrics["test_kl"]),
            (f"objective D + βR, β = {metrics['config']['beta']:g}", metrics["test_total"]),
            (f"IWAE NLL (k = {metrics['iwae_k']})", metrics["test_iwae_nll"])]
    lines = [markdown_row(["test set, nats per image", "value"]), markdown_row(["---", "---:"])]
    lines += [markdown_row([name, f"{value:.2f}"]) for name, value in rows]
    return "\n".join(lines)
