"""The core installs and runs without the book: loading a shipped model, evaluating it and the
trainer import none of the book's, the sweep's or the development tools' packages."""

import subprocess
import sys

# what only the extras bring ([book], [sweep], [dev])
EXTRAS = ("matplotlib", "sklearn", "scipy", "papermill", "nbclient", "IPython", "ipykernel", "jupyter_book",
          "myst_nb", "dask", "distributed", "dask_jobqueue", "pytest", "playwright", "pythae")

# after the code: which of them it imported (the process exits through this, also after sys.exit)
CHECK = f"""
import atexit, sys
atexit.register(lambda: print("extras:", sorted({{m.split(".")[0] for m in sys.modules}} & set({EXTRAS!r}))))
"""


def run_core(code: str, data_root) -> subprocess.CompletedProcess:
    env = {"VAECORE_DATA": str(data_root), "PATH": "/usr/bin:/bin", "VAECORE_PROGRESS": "off"}
    return subprocess.run([sys.executable, "-c", CHECK + code], capture_output=True, text=True, env=env, timeout=300)


def test_the_core_loads_evaluates_and_trains_without_the_extras(data_root):
    done = run_core("import torch, vaecore\n"
                    "from vaecore import train, evaluate, data, loss, config\n"
                    "model = vaecore.load('n64-beta1')\n"
                    "print(model.decode(torch.zeros(1, model.n)).shape)", data_root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch.Size([1, 784])" in done.stdout and "extras: []" in done.stdout


def test_vaecore_evaluate_runs_without_the_extras(data_root):
    done = run_core("import sys\nfrom vaecore.cli import main\n"
                    "sys.exit(main(['evaluate', 'n2-beta1', '--iwae-k', '2']))", data_root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"test_iwae_nll"' in done.stdout and "extras: []" in done.stdout
