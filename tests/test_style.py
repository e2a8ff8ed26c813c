"""Every figure is drawn at the book's column width, and its smallest text stays legible where the
book shows it: at least 9 px in the HTML at 1280 px and 7 pt in the PDF, measured from each plot
function's Figure (font sizes in pt, the saved width against the display width)."""

from types import SimpleNamespace

import matplotlib.pyplot as plt
import pytest

from vaecore import beta_figures, convergence, diagram, forest, generalisation, plots, study, style
from vaecore.config import Config
from vaecore.convergence import IwaeCurve
from vaecore.data import Split
from vaecore.model import VAE

KS = [1, 10, 100, 1000, 5000]
CURVE = IwaeCurve(k=KS, nll=[99.0, 96.0, 94.5, 94.2, 94.0], stderr=[0.9] * 5, excess=[5.0, 2.0, 0.5, 0.2, 0.0],
                  excess_stderr=[0.4, 0.2, 0.1, 0.06, 0.0], images=500)

HISTORY = {"epoch": [1, 2, 3], "train_total": [3, 2, 1], "train_recon": [2, 1.5, 0.8],
           "train_kl": [1, 0.5, 0.2], "test_total": [3.1, 2.2, 1.3], "test_recon": [2.1, 1.6, 0.9],
           "test_kl": [1, 0.6, 0.4]}
BETAS = (0.1, 0.5, 1.0, 2.0, 10.0)
COMPARISONS = [SimpleNamespace(n=n, beta=beta, kind=kind, seeds=seeds, diff=0.1, low=-0.4 * n ** 0.5, high=0.6,
                               differs=beta == 2.0)
               for n in (1, 2, 64) for beta in ((1.0,) if n < 64 else BETAS)
               for kind, seeds in (("seed 0", 1), ("mean of three seeds", 3))]


def model(n):
    return VAE(784, n, (32,)).eval()


def runs():
    """Made-up metrics of the β study at the report's protocol, n = 64 and n = 2."""
    values = {}
    for n in (64, 2):
        for beta in BETAS:
            kl = 30 / (1 + beta)
            values[f"n{n}-beta{beta:g}"] = {
                "config": Config(n=n, beta=beta).to_dict(), "test_recon": 60 + 10 * beta, "test_kl": kl,
                "test_iwae_nll": 90 + beta, "kl_per_dim": [kl / n] * n, "active_units": n,
                "history": {"train_recon": [58 + 10 * beta], "train_kl": [kl]}}
    return values


FIGURES = {
    "loss_curves": lambda data: plots.loss_curves(HISTORY),
    "kl_per_dim": lambda data: plots.kl_per_dim([float(i) for i in range(64)]),
    "latent_traversal n = 1": lambda data: plots.latent_traversal(model(1)),
    "latent_traversal n = 2": lambda data: plots.latent_traversal(model(2)),
    "latent_codes n = 1": lambda data: plots.latent_codes(model(1), data),
    "latent_codes n = 2": lambda data: plots.latent_codes(model(2), data),
    "latent_codes n = 3": lambda data: plots.latent_codes(model(3), data),
    "reconstructions": lambda data: plots.reconstructions(model(2), data.x),
    "prior_samples": lambda data: plots.prior_samples(model(2)),
    "interpolations": lambda data: plots.interpolations(model(3), data.x),
    "by_beta": lambda data: beta_figures.by_beta({beta: model(64) for beta in BETAS}, data.x),
    "latent_maps": lambda data: beta_figures.latent_maps({beta: model(2) for beta in BETAS}, data),
    "paths_by_beta": lambda data: beta_figures.paths_by_beta({beta: model(2) for beta in BETAS}, data.x[0], data.x[1]),
    "model_diagram": lambda data: diagram.model_diagram(),
    "forest": lambda data: forest.forest(COMPARISONS),
    "train_and_test": lambda data: generalisation.train_and_test(runs()),
    "iwae_convergence": lambda data: convergence.iwae_convergence({"n = 2, β = 1": CURVE, "n = 64, β = 1": CURVE}),
    "rate_distortion": lambda data: study.rate_distortion(runs(), {beta: model(64) for beta in BETAS}, data.x),
    "likelihood": lambda data: study.likelihood(runs()),
    "usage": lambda data: study.usage(runs()),
}


@pytest.fixture
def points(mnist) -> Split:
    """60 test images: enough for t-SNE's default perplexity of 30."""
    return Split(mnist[1].x[:60], mnist[1].y[:60])


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_is_column_wide_and_its_smallest_text_legible(name, points):
    figure = FIGURES[name](points)
    assert figure.get_figwidth() == pytest.approx(style.WIDTH)
    html_px, pdf_pt = style.smallest_text(figure)
    assert html_px >= style.SMALLEST_PX, f"{name}: smallest text {html_px:.1f} px in the HTML"
    assert pdf_pt >= style.SMALLEST_PDF_PT, f"{name}: smallest text {pdf_pt:.1f} pt in the PDF"
    plt.close(figure)


def test_a_figure_drawn_twice_as_wide_as_shown_is_caught():
    """The measure sees the scale: 8 pt drawn 14 inches wide is 5.3 px in the column and 3.7 pt in the PDF."""
    with plt.rc_context(style.RC):
        figure, ax = plt.subplots(figsize=(2 * style.WIDTH, 3))
        ax.plot([0, 1], [0, 1])
    html_px, pdf_pt = style.smallest_text(figure)
    assert html_px < style.SMALLEST_PX and pdf_pt < style.SMALLEST_PDF_PT
    assert html_px == pytest.approx(8 * style.COLUMN_PX / style.saved_width(figure) / 72)
    plt.close(figure)


def test_a_narrow_figure_is_shown_at_its_pixel_size_not_stretched():
    """A figure narrower than the column is shown at its pixel size, 8 pt at 120 dpi 13.3 px, and 8 pt in the PDF."""
    with plt.rc_context(style.RC):
        figure, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, 1])
    html_px, pdf_pt = style.smallest_text(figure)
    assert figure.dpi == 120 and html_px == pytest.approx(8 * 120 / 72) and pdf_pt == pytest.approx(8)
    plt.close(figure)
