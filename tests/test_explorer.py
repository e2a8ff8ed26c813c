"""The explorer page's exported networks and data: derived from the shipped weights, exact, small
enough, never silently older than the weights; and `vaecore explorer`'s failures as one sentence."""

import base64
import errno
import json
import os
import resource
import shutil

import exported
import numpy as np
import pytest
import torch

from vaecore import explorer, explorer_page, weights
from vaecore.cli import main

TOLERANCE = {"float32": 1e-4, "float16": 2 / 255}  # on pixel means, as the page promises
HTML_BUDGET = 2.5e6  # bytes of explorer files a reader loads before scrolling


@pytest.fixture(scope="module")
def shown():
    """(n, beta, name) of every model the page shows."""
    return [(n, beta, name) for n, models in explorer.families().items() for beta, name in models]


def test_the_page_shows_the_five_n2_the_thirteen_n64_and_the_n1_models(shown):
    names = {n: [name for m, _, name in shown if m == n] for n in (2, 64, 1)}
    assert names[2] == ["n2-beta0p1", "n2-beta0p5", "n2-beta1", "n2-beta2", "n2-beta10"]
    assert len(names[64]) == 13 and "n64-beta1" in names[64] and "n64-beta1-seed1" not in names[64]
    assert names[1] == ["n1-beta1"]
    assert sorted(explorer.families()) == [1, 2, 64]


def test_the_exports_and_the_page_were_made_from_the_shipped_weights():
    """A shipped model that changes without its exports written and its page executed again fails here."""
    assert explorer.stale() == [], explorer.advice(explorer.stale())


@pytest.fixture
def copies(tmp_path):
    """A copy of the exports and of the executed page, to change."""
    folder = tmp_path / "models"
    shutil.copytree(explorer.exports_dir(), folder)
    notebook = tmp_path / "explore.ipynb"
    shutil.copy(explorer.page_path(), notebook)
    return folder, notebook


def test_stale_names_a_model_whose_export_or_page_is_not_from_its_weights(copies):
    folder, notebook = copies
    assert explorer.stale(folder, notebook) == []
    path = folder / "n64-beta2.js"
    path.write_text(path.read_text().replace(weights.shipped()["n64-beta2"]["weights_sha256"], "0" * 64))
    (folder / "n2-beta0p5.encoder.js").unlink()
    text = notebook.read_text()
    sha = weights.shipped()["n1-beta1"]["weights_sha256"]
    assert text.count(sha) == 1
    notebook.write_text(text.replace(sha, "f" * 64))
    assert explorer.stale(folder, notebook) == ["n1-beta1", "n2-beta0p5", "n64-beta2"]
    assert "vaecore explorer" in explorer.advice(["n64-beta2"]) and "papermill explore.ipynb" in explorer.advice([])


def test_the_book_build_refuses_stale_exports_with_one_sentence(monkeypatch):
    import explorer_weights

    explorer_weights.check(None)  # up to date: nothing to say
    monkeypatch.setattr(explorer, "stale", lambda: ["n2-beta1"])
    with pytest.raises(explorer_weights.ExplorerStale, match=r"of n2-beta1: run `vaecore explorer`, then execute"):
        explorer_weights.check(None)


def test_no_export_is_left_over_from_a_model_the_page_does_not_show(shown):
    expected = [name for _, _, name in shown] + [name + explorer.ENCODER for n, _, name in shown if n == explorer.PLANE]
    assert sorted(exported.sizes(explorer.exports_dir())) == sorted(expected)


@pytest.mark.parametrize("name", ["n2-beta0p1", "n2-beta10", "n64-beta0p05", "n64-beta20", "n1-beta1"])
def test_an_export_decodes_as_torch_within_its_tolerance(name):
    """The exported layers, in their layout and precision, give torch's sigmoid(decode(z))."""
    spec = exported.read(explorer.exports_dir() / f"{name}.js")
    model = weights.load(name)
    scale = 4.0 if model.n <= 2 else 1.0  # the n = 2 plane reaches |z| of 4 and more at small beta
    z = torch.randn(200, model.n, generator=torch.Generator().manual_seed(1)) * scale
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(z)).double().numpy()
    got = exported.decode(spec, z.numpy())
    assert spec["dtype"] == explorer.dtype(model.n)
    assert np.abs(got - expected).max() <= TOLERANCE[spec["dtype"]]


@pytest.mark.parametrize("name", ["n2-beta0p1", "n2-beta1", "n2-beta10"])
def test_an_encoder_export_gives_torchs_posterior_within_1e_4(name, mnist):
    _, test = mnist
    spec = exported.read(explorer.exports_dir() / f"{name}{explorer.ENCODER}.js")
    with torch.no_grad():
        mu, logvar = weights.load(name).encode(test.x[:100])
    got_mu, got_logvar = exported.encode(spec, test.x[:100].numpy())
    assert spec["dtype"] == "float32" and spec["source_sha256"] == weights.shipped()[name]["weights_sha256"]
    assert np.abs(got_mu - mu.numpy()).max() <= 1e-4 and np.abs(got_logvar - logvar.numpy()).max() <= 1e-4


def test_exporting_again_gives_the_committed_files_and_another_model_other_bytes(tmp_path):
    """An export is a function of its weights alone: written again it is the committed file byte for
    byte, and another model's is other data under another checksum."""
    again = explorer.export("n2-beta1", tmp_path)
    assert [path.name for path in again] == ["n2-beta1.js", "n2-beta1.encoder.js"]
    for path in again:
        assert path.read_bytes() == (explorer.exports_dir() / path.name).read_bytes()
    assert [path.name for path in explorer.export("n64-beta1", tmp_path)] == ["n64-beta1.js"]  # no encoder
    one, other = exported.read(again[0]), exported.read(explorer.export("n2-beta2", tmp_path)[0])
    assert other["source_sha256"] != one["source_sha256"] and other["data"] != one["data"]


def page_html() -> str:
    notebook = json.loads(explorer.page_path().read_text())
    return next("".join(output["data"]["text/html"]) for cell in notebook["cells"]
                for output in cell.get("outputs", []) if "text/html" in output.get("data", {}))


def test_sizes_what_the_page_loads_first_is_under_2_5_mb_and_each_export_is_its_format_alone():
    sizes = exported.sizes(explorer.exports_dir())
    app = sum((explorer.exports_dir().parent / name).stat().st_size for name in ("explorer.js", "explorer.css"))
    first = sizes["n2-beta1"] + app + len(page_html().encode())
    print(f"first load: {first / 1e6:.2f} MB; all networks: {sum(sizes.values()) / 1e6:.2f} MB")
    assert first <= HTML_BUDGET
    for name, size in sizes.items():
        spec = exported.read(explorer.exports_dir() / f"{name}.js")
        parameters = sum(a * b + b for a, b in zip(spec["sizes"], spec["sizes"][1:]))
        payload = 4 * -(-parameters * {"float32": 4, "float16": 2}[spec["dtype"]] // 3)  # base64
        assert payload <= size <= payload + 1000, name


def test_the_page_records_the_weights_its_codes_came_from():
    data = json.loads(page_html().split(f'id="{explorer.DATA_ID}">')[1].split("</script>")[0])
    shipped = weights.shipped()
    assert data["weights"] == {name: shipped[name]["weights_sha256"] for name in explorer.shown()}


def test_the_pages_draws_are_standard_normal_and_fixed_by_their_seed():
    z = explorer_page.draws(7, 500, 64)
    assert z.shape == (500, 64) and np.array_equal(z, explorer_page.draws(7, 500, 64))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert not np.array_equal(z[:1], explorer_page.draws(8, 1, 64))


def test_the_sliders_are_the_dimensions_of_most_kl_and_the_collapsed_ones_are_named():
    metrics = weights.shipped()["n64-beta20"]
    dims = explorer_page.dimensions(metrics)
    kl = metrics["kl_per_dim"]
    assert [d["kl"] for d in dims] == [round(v, 3) for v in sorted(kl, reverse=True)[:explorer_page.SLIDERS]]
    assert sum(d["active"] for d in dims) == min(metrics["active_units"], explorer_page.SLIDERS)
    one = explorer_page.dimensions(weights.shipped()["n64-beta0p05"])
    assert all(d["active"] for d in one)  # at a small beta every top dimension carries information


@pytest.mark.slow
def test_page_data_holds_the_codes_of_the_shipped_models(mnist):
    _, test = mnist
    data = explorer_page.page_data(test, points=50, strip=12)
    model = weights.load("n2-beta1")
    with torch.no_grad():
        mu = model.encode(test.x[:50])[0].numpy()
    index = data["plane"]["names"].index("n2-beta1")
    codes = np.frombuffer(base64.b64decode(data["plane"]["codes"][index]), "<i2").reshape(-1, 2) / 100
    assert np.abs(codes - mu).max() <= 0.005
    assert data["plane"]["labels"] == test.y[:50].tolist() and data["plane"]["pick_labels"] == list(range(10))
    assert np.array(data["space"]["codes"]).shape == (13, 12, 64) and data["space"]["n"] == 64
    assert len(data["space"]["strip"]) == 12 and len(data["space"]["dims"][0]) == explorer_page.SLIDERS
    page = explorer_page.page(test, points=50)
    assert "explorer/explorer.js" in page["text/html"] and "$" not in page["text/html"].split("<script")[0]
    assert "HTML version" in page["text/markdown"]


def test_cli_writes_the_exports(tmp_path, capsys, monkeypatch):
    written = []
    monkeypatch.setattr(explorer, "export_all", lambda folder: written.append(folder) or [])
    assert main(["explorer", "--out", str(tmp_path)]) == 0
    assert written == [tmp_path]


def test_cli_says_when_the_page_must_be_executed_again(capsys, monkeypatch):
    monkeypatch.setattr(explorer, "export_all", lambda folder: [])
    monkeypatch.setattr(explorer, "stale", lambda: ["n2-beta1"])
    assert main(["explorer"]) == 0
    err = capsys.readouterr().err
    assert "n2-beta1: execute book/explore.ipynb again" in err and "vaecore explorer" not in err


@pytest.fixture
def one_model(monkeypatch, tmp_path):
    """`vaecore explorer` on n2-beta1 alone, into tmp/out, which holds its exports already."""
    monkeypatch.setattr(explorer, "shown", lambda: ["n2-beta1"])
    out = tmp_path / "out"
    explorer.export("n2-beta1", out)
    return out, {path.name: path.read_bytes() for path in out.iterdir()}


def fails(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vaecore: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_cli_on_a_full_disk_keeps_the_previous_exports(one_model, capsys, monkeypatch):
    out, before = one_model

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # the disk fills before the data are on it
    err = fails(capsys, ["explorer", "--out", str(out)])
    assert "No space left on device" in err and "n2-beta1.js" in err and "previous n2-beta1.js is kept" in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_cli_under_a_file_size_limit_keeps_the_previous_exports(one_model, capsys):
    out, before = one_model
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, hard))  # an export is 1.4 MB
    try:
        err = fails(capsys, ["explorer", "--out", str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert "File too large" in err and "previous n2-beta1.js is kept" in err
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_cli_out_naming_a_file_is_one_sentence(one_model, capsys, tmp_path):
    file = tmp_path / "exports.js"
    file.write_text("keep me")
    err = fails(capsys, ["explorer", "--out", str(file)])
    assert f"--out {file} is a file, not a folder" in err and file.read_text() == "keep me"


def test_cli_with_no_shipped_models_is_one_sentence(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(weights, "shipped_dir", lambda: tmp_path / "experiments")
    err = fails(capsys, ["explorer", "--out", str(tmp_path / "out")])
    assert "there are no shipped models in" in err and not (tmp_path / "out").exists()

