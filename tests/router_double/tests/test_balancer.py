"""Target choice by link cost and open streams (skrouterd_double.balancer)."""

from __future__ import annotations

from skrouterd_double import balancer
from skrouterd_double.balancer import Balancer, Candidate

NEAR, FAR = Candidate("near", 1), Candidate("far", 5)


def choose_many(chooser: Balancer, count: int, candidates: list[Candidate]) -> list[str]:
    return [chooser.choose("s%d" % i, candidates).key for i in range(count)]


def test_the_cheapest_path_wins_until_its_open_streams_exceed_the_cost_difference():
    keys = choose_many(Balancer(), 9, [FAR, NEAR])
    # near takes 5 (open 0..4, value 1..5 <= far's 5; ties go to the cheaper), then they alternate
    assert keys == ["near"] * 5 + ["far", "near", "far", "near"]


def test_a_local_target_costs_nothing():
    keys = choose_many(Balancer(), 4, [Candidate("remote", 1), Candidate("local", 0)])
    assert keys == ["local", "local", "remote", "local"]


def test_closed_streams_free_their_target():
    chooser = Balancer()
    choose_many(chooser, 5, [FAR, NEAR])
    for index in range(5):
        chooser.release("s%d" % index)
    assert chooser.choose("again", [FAR, NEAR]).key == "near"
    assert dict(chooser.open) == {"near": 1}


def test_a_target_that_failed_is_skipped_while_others_are_left(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(balancer.time, "monotonic", lambda: clock[0])
    chooser = Balancer()
    assert chooser.choose("a", [FAR, NEAR]).key == "near"
    chooser.release("a", failed=True)
    assert chooser.choose("b", [FAR, NEAR]).key == "far"
    assert chooser.choose("c", [NEAR]).key == "near"  # the only one left is still tried
    chooser.release("c")  # …and it worked: no longer skipped
    assert chooser.choose("d", [FAR, NEAR]).key == "near"
    chooser.release("d", failed=True)
    clock[0] += balancer.FAILED_HOLD_SECONDS + 0.1
    assert chooser.choose("e", [FAR, NEAR]).key == "near"
