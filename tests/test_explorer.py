"""The explorer page's exported decoders: derived from the shipped weights, exact, small enough."""

import base64
import json

import numpy as np
import pytest
import torch

from vaecore import explorer, weights
from vaecore.cli import main
from vaecore.explorer import ExportError

TOLERANCE = {"float32": 1e-4, "float16": 2 / 255}  # on pixel means, as the page promises


@pytest.fixture(scope="module")
def shown():
    """(n, beta, name) of every model the page shows."""
    return [(n, beta, name) for n, models in explorer.families().items() for beta, name in models]


def test_the_page_shows_the_five_n2_the_thirteen_n64_and_the_n1_models(shown):
    names = {n: [name for m, _, name in shown if m == n] for n in (2, 64, 1)}
    assert names[2] == ["n2-beta0p1", "n2-beta0p5", "n2-beta1", "n2-beta2", "n2-beta10"]
    assert len(names[64]) == 13 and "n64-beta1" in names[64] and "n64-beta1-seed1" not in names[64]
    assert names[1] == ["n1-beta1"]


def test_every_export_records_the_sha256_of_its_shipped_model(shown):
    """A shipped model that changes without its export being written again fails here."""
    shipped = weights.shipped()
    stale = {}
    for _, _, name in shown:
        spec = explorer.read_export(explorer.exports_dir() / f"{name}.js")
        if spec["source_sha256"] != shipped[name]["weights_sha256"]:
            stale[name] = spec["source_sha256"][:12]
    assert not stale, f"exports older than their shipped weights (run `vaecore explorer`): {stale}"


def test_no_export_is_left_over_from_a_model_the_page_does_not_show(shown):
    assert sorted(explorer.sizes()) == sorted(name for _, _, name in shown)


@pytest.mark.parametrize("name", ["n2-beta0p1", "n2-beta10", "n64-beta0p05", "n64-beta20", "n1-beta1"])
def test_an_export_decodes_as_torch_within_its_tolerance(name):
    """The exported layers, in their layout and precision, give torch's sigmoid(decode(z))."""
    spec = explorer.read_export(explorer.exports_dir() / f"{name}.js")
    model = weights.load(name)
    scale = 4.0 if model.n <= 2 else 1.0  # the n = 2 plane reaches |z| of 4 and more at small beta
    z = torch.randn(200, model.n, generator=torch.Generator().manual_seed(1)) * scale
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(z)).double().numpy()
    got = explorer.decode(spec, z.numpy())
    assert spec["dtype"] == explorer.dtype(model.n)
    assert np.abs(got - expected).max() <= TOLERANCE[spec["dtype"]]


def test_exporting_again_gives_the_committed_file_and_another_model_other_bytes(tmp_path):
    """An export is a function of its weights alone: written again it is the committed file byte for
    byte, and another model's is other data under another checksum."""
    again = explorer.export("n2-beta1", tmp_path)
    assert again.read_text() == (explorer.exports_dir() / "n2-beta1.js").read_text()
    one, other = explorer.read_export(again), explorer.read_export(explorer.export("n2-beta2", tmp_path))
    assert other["source_sha256"] != one["source_sha256"] and other["data"] != one["data"]


def test_sizes_the_n2_part_loads_at_most_1_5_mb_and_each_export_is_its_format_alone():
    sizes = explorer.sizes()
    app = sum((explorer.exports_dir().parent / name).stat().st_size for name in ("explorer.js", "explorer.css"))
    notebook = json.loads((weights.shipped_dir().parent / "explore.ipynb").read_text())
    page = "".join(notebook["cells"][1]["outputs"][0]["data"]["text/html"])
    n2_data = len(page[page.index('{"n2":'):page.index(',"n64":')])
    n2_part = max(size for name, size in sizes.items() if name.startswith("n2-")) + app + n2_data
    print(f"n = 2 part: {n2_part / 1e6:.2f} MB; all decoders: {sum(sizes.values()) / 1e6:.2f} MB")
    assert n2_part <= 1.5e6
    for name, size in sizes.items():
        spec = explorer.read_export(explorer.exports_dir() / f"{name}.js")
        parameters = sum(a * b + b for a, b in zip(spec["sizes"], spec["sizes"][1:]))
        payload = 4 * -(-parameters * {"float32": 4, "float16": 2}[spec["dtype"]] // 3)  # base64
        assert payload <= size <= payload + 1000, name


def test_a_missing_export_is_one_sentence_naming_it(tmp_path):
    with pytest.raises(ExportError, match=r"nothing\.js is missing or unreadable.*vaecore explorer"):
        explorer.read_export(tmp_path / "nothing.js")


@pytest.mark.slow
def test_page_data_holds_the_codes_of_the_shipped_models(mnist):
    _, test = mnist
    data = explorer.page_data(test, points=50, strip=12)
    model = weights.load("n2-beta1")
    with torch.no_grad():
        mu = model.encode(test.x[:50])[0].numpy()
    index = data["n2"]["names"].index("n2-beta1")
    codes = np.frombuffer(base64.b64decode(data["n2"]["codes"][index]), "<i2").reshape(-1, 2) / 100
    assert np.abs(codes - mu).max() <= 0.005
    assert data["n2"]["labels"] == test.y[:50].tolist()
    assert np.array(data["n64"]["draws"]).shape == (16, 64)
    assert np.array(data["n64"]["codes"]).shape == (13, 12, 64)
    assert len(data["n64"]["strip"]) == 12
    page = explorer.page(test, points=50)
    assert "explorer/explorer.js" in page["text/html"] and "HTML" in page["text/markdown"]


def test_cli_writes_the_exports(tmp_path, capsys, monkeypatch):
    written = []
    monkeypatch.setattr(explorer, "export_all", lambda folder: written.append(folder) or [])
    assert main(["explorer", "--out", str(tmp_path)]) == 0
    assert written == [tmp_path]
