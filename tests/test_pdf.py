"""The PDF as a reader of the report sees it: short, every run represented, headings as written.

Skipped unless the PDF has been built (``jupyter-book build book/ --builder pdflatex``; another
file with ``$VAECORE_BOOK_PDF``) and poppler's ``pdftotext`` and ``pdfinfo`` are installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from vaecore import weights
from vaecore.appendix import page_path

pytestmark = pytest.mark.pdf

PDF = Path(os.environ.get("VAECORE_BOOK_PDF", Path(__file__).resolve().parents[1] / "_build" / "latex" / "book.pdf"))


@pytest.fixture(scope="module")
def text() -> str:
    if not PDF.exists():
        pytest.skip(f"no built PDF at {PDF} (jupyter-book build book/ --builder pdflatex)")
    if not (shutil.which("pdftotext") and shutil.which("pdfinfo")):
        pytest.skip("poppler-utils (pdftotext, pdfinfo) not installed")
    return subprocess.run(["pdftotext", "-layout", str(PDF), "-"], capture_output=True, text=True, check=True).stdout


def test_the_pdf_is_a_report_not_a_stack_of_run_pages(text):
    info = subprocess.run(["pdfinfo", str(PDF)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M)[1])
    assert pages <= 60
    assert "Reproduce this page" not in text  # the run pages' box: they are in the HTML book only


def test_every_run_is_in_the_pdf(text):
    """Each run by its page's name in the appendix's tables (a CPU and a GPU run may share it)."""
    pages = Counter(page_path(name).split("/")[-1] for name in weights.shipped())
    missing = {page: count for page, count in pages.items() if len(re.findall(rf"\b{page}\b", text)) < count}
    assert not missing


def test_headings_with_maths_are_not_set_in_capitals(text):
    """A capital β prints as B: "WHAT B DOES", "N = 64, B = 0.1" were headings in capitals."""
    assert "What β does" in text
    assert not re.search(r"WHAT B|\bB = \d", text)


def test_appendix_numbers_do_not_read_like_chapter_numbers(text):
    assert re.search(r"Table A\.1", text) and re.search(r"Fig\. B\.1", text)
    assert not re.search(r"\bA\d+[a-zA-Z]", text)  # contents: "A10n = 2", a number run into a title
    assert "Xue" in text and "Variational Autoencoder for Image Generation" in text  # the report, cited
