"""The method chapter's diagram of the model: encoder, code, decoder and the two terms of the loss."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch, Polygon

from vaecore.style import WIDTH, styled


@styled
def model_diagram() -> Figure:
    """The VAE as a diagram: encoder, the sampled code z, decoder and the two terms of the loss,
    the distortion D and the rate R (the method's figure; :func:`save_model_diagram` writes it)."""
    fig = plt.figure(figsize=(WIDTH, 2.9), layout="none")
    ax = fig.add_axes((0, 0, 1, 1), xlim=(0, WIDTH), ylim=(0, 2.9))
    ax.set_axis_off()
    blue, orange, grey = "#dce9f5", "#fde6cf", "0.93"

    def box(x, y, text, width, height=0.5, color=grey, **kw):
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, fc=color, ec="0.3", lw=0.8,
                                    boxstyle="round,pad=0,rounding_size=0.06"))
        ax.text(x, y, text, ha="center", va="center", **kw)

    def arrow(start, end, **kw):
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color="0.25", lw=0.9, shrinkA=0, shrinkB=0, **kw))

    def trapezoid(left, right, wide_left, text, sizes):
        tall, short = 1.1, 0.45
        h_left, h_right = (tall, short) if wide_left else (short, tall)
        ax.add_patch(Polygon([(left, 2.0 - h_left / 2), (right, 2.0 - h_right / 2), (right, 2.0 + h_right / 2),
                              (left, 2.0 + h_left / 2)], closed=True, fc=blue, ec="0.3", lw=0.8))
        ax.text((left + right) / 2, 2.0, text, ha="center", va="center")
        ax.text((left + right) / 2, 2.0 - tall / 2 - 0.12, sizes, ha="center", va="top", fontsize=8, color="0.3")

    box(0.5, 2.0, "image\n$\\mathbf{x}$", 0.72, 0.62)
    trapezoid(1.05, 2.25, True, "encoder\n$q_\\phi(\\mathbf{z} \\mid \\mathbf{x})$", "$M$ → 256 → 256 → $2n$")
    box(2.62, 2.3, "$\\boldsymbol{\\mu}$", 0.42, 0.34)
    box(2.62, 1.7, "$\\boldsymbol{\\sigma}$", 0.42, 0.34)
    ax.add_patch(Circle((3.5, 2.0), 0.27, fc=orange, ec="0.3", lw=0.8))
    ax.text(3.5, 2.0, "$\\mathbf{z}$", ha="center", va="center", fontsize=11)
    box(3.5, 2.68, "$\\boldsymbol{\\varepsilon} \\sim \\mathcal{N}(\\mathbf{0}, \\mathbf{I})$", 1.05, 0.3)
    ax.text(3.5, 1.58, "$\\mathbf{z} = \\boldsymbol{\\mu} + \\boldsymbol{\\sigma} \\odot \\boldsymbol{\\varepsilon}$",
            ha="center", va="top", fontsize=8)
    trapezoid(4.05, 5.25, False, "decoder\n$p_\\theta(\\mathbf{x} \\mid \\mathbf{z})$", "$n$ → 256 → 256 → $M$")
    box(6.2, 2.0, "pixel means\nsigmoid($\\mathbf{l}$)", 1.15, 0.62)
    for start, end in (((0.86, 2.0), (1.05, 2.0)), ((2.25, 2.1), (2.41, 2.28)), ((2.25, 1.9), (2.41, 1.72)),
                       ((2.83, 2.28), (3.25, 2.1)), ((2.83, 1.72), (3.25, 1.9)), ((3.5, 2.53), (3.5, 2.27)),
                       ((3.77, 2.0), (4.05, 2.0)), ((5.25, 2.0), (5.62, 2.0))):
        arrow(start, end)
    # μ and σ together are the encoder's Gaussian, from which the rate is computed
    ax.add_patch(FancyBboxPatch((2.35, 1.47), 0.54, 1.06, fc="none", ec="0.4", lw=0.8, ls="--",
                                boxstyle="round,pad=0,rounding_size=0.06"))
    box(1.95, 0.72, "rate  $R = \\mathrm{KL}(q_\\phi(\\mathbf{z} \\mid \\mathbf{x}) \\,\\|\\, p(\\mathbf{z}))$\n"
        "the code's cost against the prior $\\mathcal{N}(\\mathbf{0}, \\mathbf{I})$", 3.0, 0.62, color=orange)
    box(5.3, 0.72, "distortion  $D = -\\mathbb{E}_q \\log p_\\theta(\\mathbf{x} \\mid \\mathbf{z})$\n"
        "the decoded pixels against $\\mathbf{x}$", 3.0, 0.62, color=blue)
    arrow((2.62, 1.47), (2.2, 1.03))  # from μ and σ
    arrow((6.2, 1.69), (5.9, 1.03))  # from the pixel means
    # and from the image itself, under the rate's box
    ax.plot([0.3, 0.3, 4.6], [1.69, 0.27, 0.27], color="0.25", lw=0.9, solid_joinstyle="miter")
    arrow((4.6, 0.27), (4.6, 0.41))
    ax.text(3.5, 0.09, "loss per image:  $D + \\beta R$  (the negative ELBO at $\\beta = 1$)", ha="center",
            va="center", fontsize=9.5)
    return fig


def save_model_diagram(folder: Path) -> list[Path]:
    """Write :func:`model_diagram` as ``folder``/model.svg (for the HTML) and model.pdf (for the
    PDF), without a date, so that drawing an unchanged diagram again changes no file."""
    figure = model_diagram()
    paths = [folder / "model.svg", folder / "model.pdf"]
    with plt.rc_context({"svg.hashsalt": "model", "svg.fonttype": "path"}):
        for path in paths:
            figure.savefig(path, metadata={"Date": None, "CreationDate": None} if path.suffix == ".pdf"
                           else {"Date": None})
    plt.close(figure)
    return paths
