"""Memory: the limit a run really has (machine, cgroup, rlimits), and the allocator setting that keeps
freed blocks, so that temporaries are not faulted in afresh each pass."""

import functools
import resource
import subprocess
import sys

import pytest

from vaecore import memory
from vaecore.config import Config, ConfigError
from vaecore.memory import cgroup_limit, check_fits, needed_bytes

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
    unless freed blocks are kept; then at least half as many (the best of two tries: a busy machine
    can take back a kept block now and then). Kept blocks measured 4,100 here; glibc's own adaptive
    threshold leaves the default anywhere from 10,700 to 40,400."""
    assert min(page_faults("reuse") for _ in range(2)) * 2 < page_faults("default")


GiB = 2**30


def cgroup_tree(root, proc_line, files):
    """A fake /sys/fs/cgroup under ``root`` with ``files`` ({relative path: text}) and a
    /proc/self/cgroup of ``proc_line``; returns the latter's path."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = root.parent / "cgroup"
    proc.write_text(proc_line)
    return proc


def test_cgroup_v2_limit_is_the_least_of_the_group_and_its_ancestors(tmp_path):
    root = tmp_path / "fs"
    proc = cgroup_tree(root, "0::/job/run\n", {"job/memory.max": f"{3 * GiB}\n", "job/run/memory.max": "max\n"})
    assert cgroup_limit(proc, root) == 3 * GiB


def test_cgroup_v1_limit_and_its_no_limit_value(tmp_path):
    root = tmp_path / "fs"
    proc = cgroup_tree(root, "4:memory:/docker/abc\n0::/\n",
                       {"memory/docker/abc/memory.limit_in_bytes": f"{GiB + GiB // 2}\n",
                        "memory/memory.limit_in_bytes": "9223372036854771712\n"})
    assert cgroup_limit(proc, root) == GiB + GiB // 2
    (root / "memory/docker/abc/memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert cgroup_limit(proc, root) is None


def test_a_config_too_big_for_the_cgroup_is_refused_though_the_machine_has_room(tmp_path, monkeypatch):
    """4.9 GiB under a 1.5 GiB cgroup limit: refused naming the key and the limit, not killed later."""
    config = Config(n=2, hidden=(60000,), train_size=100, test_size=50, batch_size=50)
    assert 4 * GiB < needed_bytes(config) < 5 * GiB
    root = tmp_path / "fs"
    proc = cgroup_tree(root, "0::/job\n", {"job/memory.max": f"{GiB + GiB // 2}\n"})
    monkeypatch.setattr(memory, "cgroup_limit", functools.partial(cgroup_limit, proc, root))
    with pytest.raises(ConfigError, match=r"'hidden'.*about 5 GiB.*this process's cgroup allows 1\.5 GiB"):
        check_fits(config)


def test_a_config_too_big_for_the_address_space_rlimit_is_refused(monkeypatch):
    """ulimit -v: what the address-space limit leaves beyond what the process has mapped counts."""
    config = Config(n=2, hidden=(60000,), train_size=100, test_size=50, batch_size=50)
    mapped = memory._status_bytes("VmSize")
    real = resource.getrlimit

    def limited(which):
        return (mapped + 2 * GiB, resource.RLIM_INFINITY) if which == resource.RLIMIT_AS else real(which)

    monkeypatch.setattr(resource, "getrlimit", limited)
    with pytest.raises(ConfigError, match=r"'hidden'.*this process's RLIMIT_AS leaves 2\.0 GiB"):
        check_fits(config)
    check_fits(Config(n=2, hidden=(64,), train_size=100, test_size=50))
