"""The bench loads each page in several rounds; a page's figures are the mean of its rounds,
each round next to its own floor, and the report's ratio and target follow from those."""

from bench import report
from bench.web import PageLoad, _rounds


def _run(rps: float, floor: float, errors: int = 0) -> PageLoad:
    return PageLoad("staff worklist", True, rps, 300.0, 500.0, errors, int(rps * 10), 5, "wrk", "", floor, 100.0)


def test_a_pages_rounds_are_averaged_and_each_rounds_ratio_is_listed() -> None:
    row = _rounds([_run(180.0, 800.0), _run(160.0, 600.0, errors=1)])
    assert (row.rps, row.floor_rps, row.errors, row.requests) == (170.0, 700.0, 1, 3400)
    assert "2 rounds: 0.23×, 0.27×" in row.note


def test_the_target_is_marked_from_the_averaged_rounds() -> None:
    floor = PageLoad(report.FLOOR, True, 700.0, 80.0, 100.0, 0, 7000, 200, "wrk")
    row = _rounds([_run(180.0, 800.0), _run(160.0, 600.0)])
    targets = report.targets({"web": [vars(floor), vars(row)]})
    worklist = next(t for t in targets if t["target"].startswith("staff worklist"))
    assert worklist["status"] == "MISSED" and worklist["figure"].startswith("0.24×")
    better = _rounds([_run(190.0, 800.0), _run(170.0, 600.0)])
    targets = report.targets({"web": [vars(floor), vars(better)]})
    assert next(t for t in targets if t["target"].startswith("staff worklist"))["status"] == "met"


def test_a_ratio_just_under_its_line_does_not_read_as_the_line() -> None:
    floor = PageLoad(report.FLOOR, True, 756.0, 80.0, 100.0, 0, 7560, 200, "wrk")
    for rps, figure, status in ((188.5, "0.249×", "MISSED"), (188.99, "0.249×", "MISSED"), (189.5, "0.251×", "met"),
                                (200.0, "0.26×", "met")):
        page = PageLoad("staff worklist", True, rps, 300.0, 500.0, 0, 1885, 5, "wrk", "", 756.0, 100.0)
        worklist = next(t for t in report.targets({"web": [vars(floor), vars(page)]})
                        if t["target"].startswith("staff worklist"))  # fmt: skip
        assert (worklist["figure"].split(" ")[0], worklist["status"]) == (figure, status)


def test_one_round_is_reported_as_measured() -> None:
    only = _run(180.0, 800.0)
    assert _rounds([only]) is only


def test_a_round_that_failed_fails_the_page() -> None:
    floor = PageLoad(report.FLOOR, True, 700.0, 80.0, 100.0, 0, 7000, 200, "wrk")
    failed = PageLoad("staff worklist", True, users=5, note="preflight failed: /staff/worklist answered 500")
    row = _rounds([_run(190.0, 700.0), failed])
    assert row.rps == 0 and row.note.startswith("round 2 of 2: preflight failed")
    targets = report.targets({"web": [vars(floor), vars(row)]})
    assert next(t for t in targets if t["target"].startswith("staff worklist"))["status"] == "MISSED"


def test_a_round_without_a_floor_beside_it_still_counts_its_load() -> None:
    row = _rounds([_run(180.0, 800.0), _run(160.0, 0.0)])
    assert (row.rps, row.floor_rps, row.requests) == (170.0, 800.0, 3400)
    assert "0.23×, no floor beside" in row.note
