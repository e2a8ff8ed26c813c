"""The built HTML book as a reader sees it: headless Chromium, offline.

Skipped unless the book has been built (``jupyter-book build book/``; another folder with
``$VAECORE_BOOK_HTML``), playwright is installed and a Chromium is found
(``$VAECORE_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH). Every
http(s) request is refused, as for a reader without internet.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser

HTML = Path(os.environ.get("VAECORE_BOOK_HTML", Path(__file__).resolve().parents[1] / "_build" / "html"))
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac|\\mathbf")


@pytest.fixture(scope="module")
def browser(request):
    if not (HTML / "method.html").exists():
        pytest.skip(f"no built book in {HTML} (jupyter-book build book/)")
    return request.getfixturevalue("chromium_browser")  # Chromium starts only for a built book


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


@pytest.mark.parametrize("name, table_id", [("results.html", "tab-table1"), ("results.html", "tab-seeds"),
                                            ("beta.html", "tab-beta")])
def test_tables_of_spreads_fit_a_1280_pixel_window(browser, name, table_id):
    """Table 1, the seeds table and the β table, each number with its mean ± σ, need no horizontal
    scroll bar in a 1280 px window."""
    page = open_page(browser, name)
    typeset(page)
    table = page.locator(f"table#{table_id}")
    assert table.count() == 1, f"{table_id} not found in {name}"
    widths = table.evaluate("""table => {
        const box = table.closest('.pst-scrollable-table-container') || table.parentElement;
        return {scroll: box.scrollWidth, client: box.clientWidth, table: table.scrollWidth};
    }""")
    assert widths["scroll"] <= widths["client"], f"{table_id} overflows its container: {widths}"
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


# The "Explore the models" page: the decoders run in the page, offline, from file://.

EXPLORE = "explore.html"
DIGITS = ("#vx-n2-digit", "#vx-n64-digit", "#vx-n1-digit")


def open_offline(browser, name: str, width: int = 1280, height: int = 900):
    """``name`` opened from file:// with every other request refused; returns the page, the JS
    errors it raises and the requests it makes."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors, requests = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("request", lambda request: requests.append(request.url))
    context.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    page.goto((HTML / name).as_uri(), wait_until="load")
    return page, errors, requests


@pytest.fixture(scope="module")
def book_wide_errors(browser):
    """The JS errors every page of the book raises (the theme's own), and the requests of one."""
    page, errors, requests = open_offline(browser, "intro.html")
    page.wait_for_timeout(500)
    page.context.close()
    return set(errors), requests


@pytest.fixture(scope="module")
def explorer(browser, book_wide_errors):
    """The explorer page, its n = 2 digit drawn; (page, errors, requests)."""
    if not (HTML / EXPLORE).exists():
        pytest.skip(f"no {EXPLORE} in {HTML}")
    page, errors, requests = open_offline(browser, EXPLORE)
    page.wait_for_selector("#vx-n2-digit[data-z]", timeout=30_000)
    yield page, errors, requests
    page.context.close()


def assert_offline_and_clean(state, book_wide_errors):
    _, errors, requests = state
    left = [url for url in requests if not url.startswith("file:")]
    assert not left, f"requests left the page: {left[:5]}"
    new = [error for error in errors if error not in book_wide_errors[0]]
    assert not new, f"JavaScript errors: {new}"


def pixel_means(page, selector: str) -> tuple[str, list[float], "np.ndarray"]:
    """(model, z, pixel means as drawn) of a digit canvas: ink is 255 (1 - p)."""


    got = page.eval_on_selector(selector, """canvas => ({
        model: canvas.dataset.model, z: JSON.parse(canvas.dataset.z),
        grey: Array.from(canvas.getContext('2d').getImageData(0, 0, 28, 28).data).filter((_, i) => i % 4 === 0)})""")
    return got["model"], got["z"], 1 - np.array(got["grey"]) / 255


def torch_means(name: str, z) -> "np.ndarray":
    import torch

    import vaecore

    with torch.no_grad():
        return torch.sigmoid(vaecore.load(name).decode(torch.tensor(z, dtype=torch.float32))).double().numpy()


def test_explorer_a_drag_on_the_plane_changes_the_digit_and_every_canvas_is_torchs_decode(explorer, book_wide_errors):


    page = explorer[0]
    _, z_before, before = pixel_means(page, "#vx-n2-digit")
    box = page.locator("#vx-n2-plane").bounding_box()
    page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.3 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.65 * box["height"], steps=8)
    page.mouse.up()
    _, z_after, after = pixel_means(page, "#vx-n2-digit")
    assert z_after != z_before and np.abs(after - before).max() > 0.2, "dragging did not change the digit"
    assert z_after[0] > z_before[0] and z_after[1] < z_before[1], "the drag went right and down"
    page.locator("#vx-n1").scroll_into_view_if_needed()  # the other parts load when shown
    for selector in DIGITS:
        page.wait_for_selector(f"{selector}[data-z]", timeout=30_000)
        name, z, drawn = pixel_means(page, selector)
        # a pixel is a rounded byte: half a grey level, and the decode's own tolerance
        assert np.abs(drawn - torch_means(name, [z])[0]).max() <= 0.5 / 255 + 2 / 255 * name.startswith("n64-"), selector
    assert_offline_and_clean(explorer, book_wide_errors)


def test_explorer_decode_equals_torch_on_20_codes_of_every_model(explorer, book_wide_errors):


    from vaecore import explorer as exports

    page = explorer[0]
    families = exports.families()
    names = page.evaluate("() => window.vaecoreExplorer.models()")
    assert sorted(names) == sorted(name for models in families.values() for _, name in models)
    assert page.evaluate("() => window.vaecoreExplorer.decode('n64-beta20', new Array(64).fill(0)) instanceof Promise"), \
        "a model not yet loaded decodes through a promise"
    rng = np.random.default_rng(0)
    worst = {}
    for n, models in families.items():
        for _, name in models:
            z = {2: rng.uniform(-4, 4, (20, 2)), 64: rng.standard_normal((20, 64)), 1: np.linspace(-5, 5, 20)[:, None]}[n]
            got = np.array(page.evaluate("""([name, zs]) => Promise.all(zs.map(
                z => Promise.resolve(window.vaecoreExplorer.decode(name, z))))""", [name, z.tolist()]))
            assert got.shape == (20, 784)
            worst[name] = np.abs(got - torch_means(name, z.astype(np.float32))).max()
            assert worst[name] <= (1e-4 if n <= 2 else 2 / 255), f"{name}: {worst[name]:.2e}"
    print("largest difference from torch:", {name: f"{value:.1e}" for name, value in worst.items()})
    assert isinstance(page.evaluate("() => window.vaecoreExplorer.decode('n64-beta20', new Array(64).fill(0))"), list)
    assert_offline_and_clean(explorer, book_wide_errors)


def test_explorer_decodes_in_at_most_5_ms(explorer):
    page = explorer[0]
    times = page.evaluate("""async () => {
        const api = window.vaecoreExplorer, out = {};
        for (const [name, n] of [["n2-beta1", 2], ["n64-beta1", 64]]) {
            await api.decode(name, new Array(n).fill(0.5));
            const start = performance.now();
            for (let i = 0; i < 200; i++) api.decode(name, new Array(n).fill(i / 100 - 1));
            out[name] = (performance.now() - start) / 200;
        }
        return out;
    }""")
    print("ms per decode in Chromium:", {name: round(ms, 3) for name, ms in times.items()})
    assert max(times.values()) <= 5


def test_explorer_works_from_the_keyboard(explorer, book_wide_errors):
    page = explorer[0]
    z = lambda selector: page.eval_on_selector(selector, "canvas => JSON.parse(canvas.dataset.z)")
    page.focus("#vx-n2-plane")
    start = z("#vx-n2-digit")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    moved = z("#vx-n2-digit")
    assert moved[0] > start[0] and moved[1] > start[1]
    page.focus("#vx-n1-z-input")
    before = z("#vx-n1-digit")
    page.keyboard.press("ArrowRight")
    assert z("#vx-n1-digit")[0] == pytest.approx(before[0] + 0.05)
    page.focus("#vx-n64-beta")
    model = page.get_attribute("#vx-n64-samples", "data-model")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => document.querySelector('#vx-n64-samples').dataset.model !== {model!r}")
    path = z("#vx-n64-digit")
    page.focus("#vx-n64-strip .vx-pick:nth-child(5)")
    page.keyboard.press("Enter")
    assert z("#vx-n64-digit") != path, "picking a new end by the keyboard moves the path"
    page.focus("input[name='vx-n2-beta'][value='4']")  # beta = 10 by the keyboard
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('#vx-n2-digit').dataset.model === 'n2-beta10'")
    assert_offline_and_clean(explorer, book_wide_errors)


def test_other_pages_load_no_explorer_files(book_wide_errors):
    pages = [page for page in HTML.rglob("*.html") if page.name != EXPLORE]
    if not pages:
        pytest.skip(f"no built book in {HTML}")
    linking = [str(page.relative_to(HTML)) for page in pages if "explorer/" in page.read_text()]
    assert not linking, f"pages that load explorer files: {linking}"
    assert not [url for url in book_wide_errors[1] if "/explorer/" in url]
    assert not list((HTML / "_static").rglob("n2-beta*.js")), "decoders under _static load on every page"
