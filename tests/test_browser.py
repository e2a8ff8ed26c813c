"""The built HTML book as a reader sees it: headless Chromium, offline.

Skipped unless the book has been built (``jupyter-book build book/``; another folder with
``$VAECORE_BOOK_HTML``), playwright is installed and a Chromium is found
(``$VAECORE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH). Every
http(s) request is refused, as for a reader without internet.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HTML = Path(os.environ.get("VAECORE_BOOK_HTML", Path(__file__).resolve().parents[1] / "_build" / "html"))
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac|\\mathbf")


def chromium() -> str | None:
    return os.environ.get("VAECORE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if not (HTML / "method.html").exists():
        pytest.skip(f"no built book in {HTML} (jupyter-book build book/)")
    sync_api = pytest.importorskip("playwright.sync_api")
    if chromium() is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VAECORE_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, name: str, width: int = 1280, height: int = 900):
    """``name`` (e.g. ``"method.html"``) loaded offline in a window ``width`` pixels wide."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    page.goto((HTML / name).as_uri(), wait_until="load")
    return page


def typeset(page) -> None:
    """Wait until MathJax, if the page loaded it, has typeset the page."""
    page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)",
                           timeout=30_000)
    page.evaluate("() => window.MathJax ? MathJax.startup.promise.then(() => true) : true")


@pytest.mark.parametrize("name", ["method.html", "results.html", "intro.html"])
def test_equations_are_typeset_without_internet(browser, name):
    """No formula is left as raw TeX: MathJax is served by the book itself."""
    page = open_page(browser, name)
    typeset(page)
    text = page.inner_text("article")
    raw = sorted({text[max(m.start() - 30, 0):m.end() + 30] for m in RAW_TEX.finditer(text)})
    assert not raw, f"raw TeX in {name}: {raw[:5]}"
    if name == "method.html":
        assert page.locator("mjx-container").count() > 50
    page.context.close()


@pytest.mark.parametrize("name", ["method.html", "results.html", "beta.html", "intro.html"])
def test_display_equations_fit_a_1280_pixel_window(browser, name):
    """Every display equation reads without scrolling in a 1280 px window: neither its block nor
    the box MathJax typesets it in is wider than what it shows."""
    page = open_page(browser, name)
    typeset(page)
    blocks = page.locator("div.math")
    assert page.locator("div.math mjx-container").count() == blocks.count()  # all typeset
    cut = blocks.evaluate_all("""blocks => blocks.flatMap(block =>
        [block, ...block.querySelectorAll('mjx-container')]
            .filter(box => box.scrollWidth > box.clientWidth)
            .map(box => `${block.id || 'unlabelled'}: ${box.scrollWidth} px in ${box.clientWidth}`))""")
    assert not cut, f"display equations cut off in {name}: {cut}"
    page.context.close()


def test_table1_fits_a_1280_pixel_window(browser):
    """Table 1 needs no horizontal scroll bar in a 1280 px window."""
    page = open_page(browser, "results.html")
    typeset(page)
    table = page.locator("table#tab-table1")
    assert table.count() == 1, "Table 1 (name tab-table1) not found in results.html"
    widths = table.evaluate("""table => {
        const box = table.closest('.pst-scrollable-table-container') || table.parentElement;
        return {scroll: box.scrollWidth, client: box.clientWidth, table: table.scrollWidth};
    }""")
    assert widths["scroll"] <= widths["client"], f"Table 1 overflows its container: {widths}"
    page.context.close()


def test_run_pages_have_distinct_titles():
    """Every run page names its run in its <title>: no two pages under experiments*/ share one."""
    pages = sorted(HTML.glob("experiments*/*.html"))
    if not pages:
        pytest.skip(f"no run pages in {HTML}")
    titles = {page.relative_to(HTML).as_posix(): re.search(r"<title>(.*?)</title>", page.read_text(), re.S)[1]
              for page in pages}
    shared = {title: count for title, count in Counter(titles.values()).items() if count > 1}
    assert not shared, f"{sum(shared.values())} of {len(titles)} run pages share a title: {shared}"
