"""The rate–distortion frontier on made-up points."""

from vaecore.frontier import dominated


def test_a_point_beaten_in_rate_and_distortion_is_dominated_by_the_best_that_beats_it():
    points = {0.1: (11.2, 138.7), 0.5: (7.7, 137.9), 1.0: (6.7, 137.8), 2.0: (5.8, 138.7), 10.0: (3.2, 150.8)}
    assert dominated(points) == {0.1: 1.0, 0.5: 1.0}


def test_a_frontier_that_trades_has_no_dominated_point():
    points = {beta: (30 / (1 + beta), 60 + 10 * beta) for beta in (0.1, 1.0, 10.0)}
    assert dominated(points) == {}
