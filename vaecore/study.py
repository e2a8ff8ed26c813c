"""The beta study: rate, distortion, likelihood and latent usage across beta, from the runs' metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from vaecore import plots
from vaecore.model import VAE
from vaecore.original import ORIGINAL_TABLE1
from vaecore.runs import by_seed, grid, measure, seeds, spread, study_sizes
from vaecore.words import NBSP, counted, listed, number, plus_minus
from vaecore.style import WIDTH, styled

# A difference between two β's seeds larger than this many standard deviations of their spread is
# more than the seeds' noise usually gives.
NOISE = 2.0

# the β study's latent sizes, largest first (vaecore.runs.study_sizes), each its colour and marker
STYLES = (dict(color="C0", marker="o"), dict(color="C1", marker="s"))


def styles(runs: dict[str, dict]) -> dict[int, dict]:
    """The colour and marker of each latent size of the β study."""
    return dict(zip(study_sizes(runs), STYLES))


def _plot_seeds(ax: plt.Axes, rows: list[tuple[float, list[float]]], style: dict, label: str | None = None,
                **line) -> None:
    """The mean over seeds as a line through markers with ±σ bars, and each seed's value as a dot."""
    betas = [beta for beta, _ in rows]
    means, stds = zip(*(spread(values) for _, values in rows))
    ax.errorbar(betas, means, yerr=[std or 0 for std in stds], **style | line, capsize=2, elinewidth=0.8,
                label=label, zorder=3)
    ax.scatter([beta for beta, values in rows for _ in values], [v for _, values in rows for v in values],
               s=6, color=style["color"], alpha=0.6, lw=0, zorder=4)


def _label(beta: float) -> str:
    return f"{beta:g}"


def _beta_ticks(betas: list[float], multiples: tuple[int, ...] = (1, 2, 5)) -> list[float]:
    """Steps of β (``multiples`` of powers of ten) over the range of ``betas``, for a log axis
    labelled in plain numbers."""
    steps = [m * 10.0 ** e for e in range(-3, 4) for m in multiples]
    return [t for t in steps if min(betas) <= t * 1.001 and t <= max(betas) * 1.001]


def _beta_axis(ax: plt.Axes, betas: list[float], multiples: tuple[int, ...] = (1, 2, 5)) -> None:
    ticks = _beta_ticks(betas, multiples)
    ax.set_xscale("log")
    ax.set_xticks(ticks, [_label(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("β")


def _report_points(n: int) -> list[tuple[float, float, float]]:
    """The report's Table 1 for latent size n as (beta, R, D), by beta."""
    return sorted((beta, kl, bce) for (rn, beta), (bce, kl, _) in ORIGINAL_TABLE1.items() if rn == n)


@styled
def rate_distortion(runs: dict[str, dict], models: dict[float, VAE] | None = None,
                    images: torch.Tensor | None = None, thumbnails: tuple[float, ...] | None = None) -> Figure:
    """Distortion D against rate R for every β, n = 64 and n = 2, with the report's points and
    lines of constant D + R, the negative ELBO (after Alemi et al., "Fixing a Broken ELBO").

    Args:
        runs: the runs' metrics, as :func:`vaecore.runs.load` gives them.
        models: n = 64 models by β; with ``images``, a box beside each of the ``thumbnails``
            points shows the model's reconstructions of the first three ``images`` (top) and three
            samples from the prior, decoded (bottom; the same draws for every β).
        images: test images (B, M).
        thumbnails: the β values that get a box; by default those of the report's Table 1.

    Returns:
        The figure.
    """
    fig, ax = plt.subplots(figsize=(WIDTH, 5.1))
    points, style = [], styles(runs)
    sizes = list(style)  # largest first
    large, small = sizes[0], sizes[-1]
    for n in sizes:
        rows = by_seed(runs, n)
        seeds_rd = [[(runs[name]["test_kl"], runs[name]["test_recon"]) for name in names] for _, names in rows]
        rate, distortion = [[spread([point[i] for point in group])[0] for group in seeds_rd] for i in (0, 1)]
        points += list(zip(rate, distortion))
        ax.plot(rate, distortion, **style[n], label=f"n = {n}, our runs: mean of the seeds", zorder=3)
        ax.scatter(*zip(*[point for group in seeds_rd for point in group]), s=5, color="k", lw=0, zorder=4,
                   label="each seed" if n == small else None)
        for i, ((beta, _), r, d) in enumerate(zip(rows, rate, distortion)):
            below = n == large  # the large size's labels go below the curve; the small one's points crowd: its ends only
            if not below and 0 < i < len(rows) - 1:
                continue
            ax.annotate(f"{_label(beta)}", (r, d), textcoords="offset points", xytext=(-3, -3) if below else (4, 0),
                        ha="right" if below else "left", va="top" if below else "center", fontsize=8,
                        color=style[n]["color"])
        report = _report_points(n)
        if report:
            ax.scatter([r for _, r, _ in report], [d for _, _, d in report], s=60, facecolors="none",
                       edgecolors=style[n]["color"], marker="D", label=f"n = {n}, the report", zorder=2)
    best = min(r + d for r, d in points)
    top = max(r + d for r, d in points)
    span = np.array([0, top])
    for level in np.arange(np.ceil(best / 20) * 20, top + 20, 20):
        ax.plot(span, level - span, color="0.85", lw=0.8, zorder=0)
    ax.plot([], [], color="0.85", lw=0.8, label="D + R constant, every 20 nats")
    ax.plot(span, best - span, color="0.3", ls="--", lw=1, zorder=1,
            label=f"D + R = {best:.1f}, the best negative ELBO")
    ax.set_xlim(0, max(r for r, _ in points) * 1.08)
    ax.set_ylim(min(d for _, d in points) * 0.9, max(d for _, d in points) * 1.05)
    ax.set_xlabel("rate R = KL(q(z|x) ‖ p(z))  (nats)")
    ax.set_ylabel("distortion D = −E$_q$ log p(x|z)  (nats)")
    ax.text(0.995, 0.995, "point labels: β", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.3")
    if models and images is not None:
        _thumbnails(ax, runs, models, images, thumbnails or tuple(beta for beta, _, _ in _report_points(large)))
    fig.legend(loc="outside lower center", ncols=3)
    return fig


@torch.no_grad()
def _thumbnails(ax: plt.Axes, runs: dict[str, dict], models: dict[float, VAE], images: torch.Tensor,
                betas: tuple[float, ...]) -> None:
    """Boxes of reconstructions (top row) and prior samples (bottom row) on a diagonal from the top
    left to the right of the axes, largest β first, each joined to its point of the study's larger latent size."""
    n = study_sizes(runs)[0]
    color = styles(runs)[n]["color"]
    where = {beta: (m["test_kl"], m["test_recon"]) for beta, _, m in grid(runs, n)}
    shown = sorted((beta for beta in betas if beta in models and beta in where), reverse=True)
    x = images[:3]
    z = plots.sample_codes(n, len(x))
    width, first, last = 0.16, (0.14, 0.72), (0.82, 0.14)  # of the axes: boxes' size, first and last corner
    for i, beta in enumerate(shown):
        t = i / max(len(shown) - 1, 1)
        left, bottom = first[0] + t * (last[0] - first[0]), first[1] + t * (last[1] - first[1])
        inset = ax.inset_axes((left, bottom, width, width))
        model = models[beta]
        inset.imshow(plots.tiles(torch.cat([plots.reconstruct(model, x), plots.decode_mean(model, z)]), len(x)),
                     cmap="gray_r", vmin=0, vmax=1)
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_anchor("S")
        for spine in inset.spines.values():
            spine.set(visible=True, color=color, lw=0.8)
        inset.set_title(f"β = {_label(beta)}", fontsize=8, pad=2, color=color)
        ax.annotate("", xy=where[beta], xytext=(left, bottom), textcoords="axes fraction",
                    arrowprops=dict(arrowstyle="-", color=color, lw=0.7, shrinkA=0, shrinkB=3))
    if shown:
        ax.text(first[0] + width + 0.01, first[1] + width, "in each box: reconstructions of three test images (top),\n"
                "three samples from the prior, decoded (bottom)", transform=ax.transAxes, fontsize=8,
                va="top", color="0.3")


@styled
def likelihood(runs: dict[str, dict]) -> Figure:
    """The IWAE estimate of −log p(x) and the negative ELBO D + R against β: the mean over seeds
    with ±σ bars, and each seed's value."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    for n, style in styles(runs).items():
        _plot_seeds(ax, measure(runs, n, lambda m: m["test_iwae_nll"]), style, f"n = {n}: IWAE −log p(x)")
        _plot_seeds(ax, measure(runs, n, lambda m: m["test_recon"] + m["test_kl"]), style,
                    f"n = {n}: negative ELBO, D + R", ls="--", mfc="none")
    _beta_axis(ax, [beta for n in study_sizes(runs) for beta, _ in by_seed(runs, n)])
    ax.set_ylabel("nats per test image")
    ax.legend(loc="upper left")
    ax.grid(True)
    return fig


@styled
def usage(runs: dict[str, dict]) -> Figure:
    """Active units against β (the study's larger latent size), the mean over seeds with ±σ bars and
    each seed's count; and each run's rate per dimension, largest first, the seeds other than 0 in
    thinner lines."""
    n = study_sizes(runs)[0]
    counts = measure(runs, n, lambda m: m["active_units"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.0), width_ratios=(1, 1.35))
    _plot_seeds(left, counts, styles(runs)[n])
    _beta_axis(left, [beta for beta, _ in counts], multiples=(1,))
    left.set_ylim(0, n * 1.03)  # a margin above the count of every dimension
    left.set_ylabel(f"active units (of {n})")
    left.grid(True)
    rates = measure(runs, n, lambda m: m["kl_per_dim"])
    norm = LogNorm(min(beta for beta, _ in rates), max(beta for beta, _ in rates))
    for beta, per_seed in rates:
        for seed, kls in enumerate(per_seed):
            kls = np.sort(kls)[::-1]
            right.plot(np.arange(1, len(kls) + 1), np.maximum(kls, 1e-4), color=plt.cm.viridis(norm(beta)),
                       lw=1.2 if seed == 0 else 0.6, alpha=1 if seed == 0 else 0.7)
    right.set_yscale("log")
    right.set_xlabel("latent dimension, by its rate")
    right.set_ylabel("rate of the dimension (nats)")
    right.grid(True)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=right, label="β")
    ticks = _beta_ticks([beta for beta, _ in rates])
    bar.set_ticks(ticks, labels=[_label(t) for t in ticks])
    bar.minorticks_off()
    return fig


def pm(values: list[float], places: int = 2) -> str:
    """The seeds' mean ± σ, or the one seed's value (a count as it is)."""
    mean, std = spread(values)
    if std is None:
        return str(values[0]) if isinstance(values[0], int) else f"{mean:.{places}f}"
    return plus_minus(mean, std, places)


def table(runs: dict[str, dict], pages: str = "experiments") -> str:
    """Every configuration of the study as a markdown table: n, β, then D, R, D + R, the IWAE NLL and
    the active units as the mean ± σ over its seeds (one value where it has one seed), and its seeds,
    each linked to its run page in ``pages``."""
    lines = ["| n | β | D (BCE) | R (KL) | D + R | IWAE NLL | active units | seeds |",
             "|---:|---:|---:|---:|---:|---:|---:|:---|"]
    for n in study_sizes(runs):
        for beta, names in by_seed(runs, n):
            group = [runs[name] for name in names]
            counts = [m["active_units"] for m in group if "active_units" in m]
            active = pm(counts, 1) if len(counts) == len(group) else "—"
            links = ", ".join(f"[{m['config']['seed']}]({pages}/{name}.ipynb)" for name, m in zip(names, group))
            lines.append(f"| {n} | {_label(beta)} | {pm([m['test_recon'] for m in group])} | "
                         f"{pm([m['test_kl'] for m in group])} | "
                         f"{pm([m['test_recon'] + m['test_kl'] for m in group])} | "
                         f"{pm([m['test_iwae_nll'] for m in group])} | {active} | {links} |")
    return "\n".join(lines)


def best_likelihood(runs: dict[str, dict], n: int) -> dict:
    """The β whose seeds have the lowest mean IWAE NLL, and whether its lead over the next best
    survives their spread: more than :data:`NOISE` times the larger σ of the two
    (the one there is, where a configuration has one seed).

    Returns:
        ``beta``, ``mean``, ``std``, ``seeds`` and ``text`` (mean ± σ, or the one value) of the best,
        and ``sentence``: the next best and whether the lead holds.
    """
    rows = sorted(measure(runs, n, lambda m: m["test_iwae_nll"]), key=lambda row: spread(row[1])[0])
    (beta, values), (second, others) = rows[0], rows[1]
    (mean, std), (mean2, std2) = spread(values), spread(others)
    best = {"beta": beta, "mean": mean, "std": std, "seeds": len(values), "text": pm(values)}
    seeds = f" over {counted(len(others), 'seed')}" if len(others) > 1 else " (one seed)"
    first = f"The next best, β{NBSP}={NBSP}{_label(second)} at {pm(others)}{seeds}, is {mean2 - mean:.2f} nats worse"
    sigmas = {b: s for b, s in ((beta, std), (second, std2)) if s}
    if not sigmas:
        return best | {"sentence": f"{first}; neither has seeds that differ, so the gap has no spread to be judged by."}
    widest = max(sigmas, key=sigmas.get)
    whose = "the larger σ of the two" if len(sigmas) == 2 else f"the σ of β{NBSP}={NBSP}{_label(widest)}'s seeds"
    sigmas_off = (mean2 - mean) / sigmas[widest]
    verdict = ("within the seeds' noise, so the two are not told apart" if sigmas_off <= NOISE
               else "the optimum holds against the seeds" + (", if narrowly" if sigmas_off < 2 * NOISE else ""))
    caveat = "" if len(others) > 1 else f", though β{NBSP}={NBSP}{_label(second)} has one seed"
    return best | {"sentence": f"{first}, {sigmas_off:.1f} times {whose}: {verdict}{caveat}."}


def usage_trend(runs: dict[str, dict], n: int) -> str:
    """Whether the active units fall steadily with β, judged against the seeds: every rise of the
    mean count from one β to the next, and whether it exceeds :data:`NOISE` times
    the largest σ of a count at any β (one seed's count has none of its own)."""
    counts = measure(runs, n, lambda m: m["active_units"])
    stds = [(std, beta) for beta, values in counts for std in [spread(values)[1]] if std]
    if not stds:
        return "No β has seeds whose counts differ, so the counts have no spread to be judged by."
    sigma, widest = max(stds)
    means = [(beta, spread(values)[0]) for beta, values in counts]
    rises = [(a, b, m_a, m_b) for (a, m_a), (b, m_b) in zip(means, means[1:]) if m_b > m_a]
    noise = (f"The seeds of one β differ by up to σ{NBSP}={NBSP}{sigma:.1f} units "
             f"(β{NBSP}={NBSP}{_label(widest)})")
    if not rises:
        return f"{noise}; the mean count falls at every step of β."
    real = [rise for rise in rises if rise[3] - rise[2] > NOISE * sigma]
    steps = ", ".join(f"from {m_a:.0f} at β{NBSP}={NBSP}{_label(a)} to {m_b:.0f} at β{NBSP}={NBSP}{_label(b)}"
                      for a, b, m_a, m_b in rises)
    one = len(rises) == 1
    if real:
        judged = f"{'by' if one else number(len(real)) + ' of them by'} more than {NOISE:g}{NBSP}σ"
    else:
        judged = (f"{'not' if one else 'none of them'} by more than the seeds' noise, so the count falls with β "
                  f"as far as the seeds can tell")
    times = {1: "once", 2: "twice"}.get(len(rises), f"{number(len(rises))} times")
    return f"{noise}. The mean count rises {times} as β grows, {steps}: {judged}."


def collapse(runs: dict[str, dict], n: int) -> str:
    """Whether the collapse at the largest β holds in every seed: each of its seeds keeps fewer
    active units than the fewest any seed keeps at β = 1."""
    counts = dict(measure(runs, n, lambda m: m["active_units"]))
    top = max(counts)
    kept, plain = counts[top], counts.get(1.0)
    who = f"its {number(len(kept))} seeds keep" if len(kept) > 1 else "its one seed keeps"
    first = f"At β{NBSP}={NBSP}{_label(top)} {who} {listed(kept)} of the {n} dimensions"
    if plain is None:
        return f"{first}; without a β{NBSP}={NBSP}1 run there is nothing to set them against."
    against = f"against {pm(plain, 1)} at β{NBSP}={NBSP}1"
    if max(kept) < min(plain):
        return f"{first}, {against}: the collapse holds " + ("in every seed." if len(kept) > 1 else "on its one seed.")
    return f"{first}, {against}: the two overlap, so the seeds do not show a collapse."


def coverage(runs: dict[str, dict]) -> str:
    """Which seeds the study's configurations were trained with: a sentence."""
    sizes = study_sizes(runs)
    groups = [list(names) for (n, _), names in seeds(runs).items() if n in sizes]
    everywhere = sorted(set.intersection(*(set(group) for group in groups)))
    if len(everywhere) > 1:
        return (f"Every configuration was trained with seeds {listed(everywhere)}, and each claim below is weighed "
                f"against the spread over them.")
    several = sum(len(group) > 1 for group in groups)
    return (f"Every configuration has a run with seed 0, and {number(several)} of the {number(len(groups))} "
            f"also have runs with other seeds: each claim below is weighed against that spread over seeds.")
