"""One look for every figure, drawn at the width the book shows it so that its type stays legible.

The HTML book's content column is 672 CSS px wide in a 1280 px window (Jupyter Book 1's theme;
measured in Chromium), 7 inches at the browser's 96 px per inch; the PDF's text is 6.5 inches wide
(Sphinx's letter paper, 1 inch margins). A figure drawn 7 inches wide is shown in the HTML at
1 CSS px per 1/96 inch, so 8 pt of type is 10.7 px there and 7.4 pt in the PDF.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text

COLUMN_PX = 672  # the HTML content column at 1280 px, in CSS px
CSS_PX_PER_INCH = 96
WIDTH = COLUMN_PX / CSS_PX_PER_INCH  # inches: every figure is drawn this wide
PDF_TEXT_WIDTH = 6.5  # inches; LaTeX scales a wider image down to it
SAVE_PAD = 0.1  # inches around the tight box, as the notebook's inline backend saves a figure
SMALLEST_PX = 9.0  # the least size of any text in the HTML at 1280 px
SMALLEST_PDF_PT = 7.0  # and in the PDF

RC = {
    "figure.dpi": 120,  # 850 px across: above the column's 672 px, and light in the notebooks
    "figure.figsize": (WIDTH, 3.0),
    "figure.constrained_layout.use": True,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.3,
    "lines.markersize": 4,
    "image.cmap": "gray_r",
    "savefig.bbox": "tight",
}

F = TypeVar("F", bound=Callable[..., Figure])


def styled(draw: F) -> F:
    """Run a figure function under :data:`RC` (font sizes are read as each artist is made)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with plt.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def saved_width(figure: Figure) -> float:
    """Width in inches of the image a notebook saves of ``figure``: its tight box and the pad."""
    box = figure.get_tightbbox(figure.canvas.get_renderer())
    return box.width + 2 * SAVE_PAD


def smallest_text(figure: Figure) -> tuple[float, float]:
    """The smallest visible text of ``figure`` as shown: (CSS px in the HTML at 1280 px, pt in the PDF).

    The notebook saves the figure at ``figure.dpi``; the browser shows the image at its pixel size
    up to the column's width, and LaTeX prints it at its size in inches up to the text width.
    """
    figure.canvas.draw()
    width = saved_width(figure)
    html_px_per_pt = min(COLUMN_PX, width * figure.dpi) / width / 72
    pdf_scale = min(1.0, PDF_TEXT_WIDTH / width)
    smallest = min(text.get_fontsize() for text in figure.findobj(Text)
                   if text.get_visible() and text.get_text().strip())
    return smallest * html_px_per_pt, smallest * pdf_scale
