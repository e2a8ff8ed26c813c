"""The allocator setting that keeps freed blocks: temporaries are not faulted in afresh each pass."""

import subprocess
import sys

import pytest

PASSES = """
import resource, sys, torch
from vaecore.memory import reuse_freed_blocks
if sys.argv[1] == "reuse":
    reuse_freed_blocks()
torch.set_num_threads(1)
decoder = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 784))
z = torch.randn(2000, 64)  # one IWAE pass: logits of 6 MB
with torch.no_grad():
    decoder(z)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        torch.nn.functional.softplus(decoder(z)).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    return int(subprocess.run([sys.executable, "-c", PASSES, mode], capture_output=True, text=True,
                              check=True).stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_blocks_are_reused_not_faulted_in_again():
    """Ten passes fault in their temporaries' pages each time (1,500 a pass for each 6 MB)
    unless freed blocks are kept; then a few times fewer (the best of two tries: a busy machine
    can take back a kept block now and then)."""
    assert min(page_faults("reuse") for _ in range(2)) * 3 < page_faults("default")
