"""bench.compare judges each portal run against the floor runs on either side of it."""

from bench.compare import ratios, summary


def test_each_run_is_divided_by_the_floor_runs_beside_it() -> None:
    runs = [("floor", 1000.0), ("A", 450.0), ("floor", 800.0), ("B", 540.0), ("floor", 1000.0),
            ("B", 400.0), ("floor", 800.0), ("A", 360.0), ("floor", 800.0)]  # fmt: skip
    found = ratios(runs)
    assert [round(x, 3) for x in found["A"]] == [0.5, 0.45]
    assert [round(x, 3) for x in found["B"]] == [0.6, 0.444]
    assert summary(found)[-1] == "B / A: 1.099"


def test_a_run_without_an_answer_or_a_floor_beside_it_counts_for_nothing() -> None:
    runs = [("floor", 0.0), ("A", 450.0), ("floor", 0.0), ("B", 0.0), ("floor", 900.0), ("A", 300.0)]
    found = ratios(runs)
    assert [round(x, 3) for x in found["A"]] == [0.333]
    assert "B" not in found
    assert summary(found) == ["A: mean 0.333× the floor (rounds: 0.333)"]
