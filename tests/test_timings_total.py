"""The whole book's cost: every run's own training and evaluation time, summed."""

import pytest

from vaecore.timings import total


def test_total_sums_every_runs_own_times_in_hours():
    runs = {f"r{i}": {"train_seconds": 1800.0 * i, "eval_seconds": 360.0, "machine": {"threads": 1 + i % 2}}
            for i in range(1, 4)}
    assert total(runs) == {"runs": 3, "train_hours": pytest.approx(3.0), "eval_hours": pytest.approx(0.3),
                           "threads": 2}
    assert total({})["train_hours"] == 0
