"""The benchmarks' arithmetic: the floor from a report, the ratio and the bound it prints, the security table."""

from __future__ import annotations

from typing import Any

from benchmarks.__main__ import security_table
from benchmarks.compare import Sample, floor_s, summary


def _report(ready_parts: tuple[float | None, ...], ends: dict[str, float | None]) -> dict[str, Any]:
    provision, apply, ready = ready_parts
    return {
        "phases": {"provision": provision, "apply": apply, "ready": ready},
        "checks": [{"id": check_id, "ended_s": ended} for check_id, ended in ends.items()],
    }


def test_the_floor_is_the_later_of_ready_and_the_last_autoevent_check() -> None:
    assert floor_s(_report((1.0, 1.5, 4.5), {"b": 8.0, "e": 20.5, "f": 20.6, "a": 21.0})) == 20.6
    assert floor_s(_report((1.0, 1.5, 4.5), {"b": 8.0})) == 7.0, "no autoevent check: ready is the floor"
    assert floor_s(_report((1.0, 1.5, 4.5), {"e": None})) == 7.0, "a report from before ended_s: ready alone"
    assert floor_s(_report((1.0, None, 4.5), {"e": 20.0})) is None, "a run that never got ready has no floor"


def test_the_summary_compares_medians_and_checks_every_verdict_against_its_floor() -> None:
    samples = [
        Sample("naive", 24.0, True, 0.5),
        Sample("naive", 25.0, True, 0.7),
        Sample("naive", 60.0, False, 0.7),  # failed runs are left out of the figures
        Sample("harness", 23.0, True, 0.6, verdict_s=22.0, floor_s=20.0),
        Sample("harness", 24.0, True, 0.6, verdict_s=23.0, floor_s=20.0),
    ]
    lines, met = summary(samples)
    text = "\n".join(lines)
    assert "| 24.5 s | 24.0 s | 25.0 s | 2/3 |" in text
    assert "ratio harness/naive (medians of whole commands): 0.96" in text
    assert "harness verdicts within 1.2 * floor + 3 s: 2/2" in text
    assert met


def test_a_harness_slower_than_the_script_or_beyond_its_floor_bound_does_not_meet_the_goal() -> None:
    slower = [Sample("naive", 20.0, True, 0.5), Sample("harness", 21.0, True, 0.5, verdict_s=20.0, floor_s=18.0)]
    assert not summary(slower)[1]
    beyond = [Sample("naive", 40.0, True, 0.5), Sample("harness", 30.0, True, 0.5, verdict_s=29.0, floor_s=20.0)]
    lines, met = summary(beyond)
    assert not met and "harness verdicts within 1.2 * floor + 3 s: 0/1" in "\n".join(lines)


def _run(outcome: str, total: float, ready: float) -> dict[str, Any]:
    return {"outcome": outcome, "phases": {"provision": 1.0, "apply": 1.0, "ready": ready, "total": total}}


def test_the_security_table_puts_each_phase_of_the_passed_runs_side_by_side() -> None:
    runs = {
        "off": [_run("passed", 22.0, 5.0), _run("passed", 24.0, 6.0), _run("failed", 90.0, 80.0)],
        "on": [_run("passed", 36.0, 20.0)],
    }
    lines = security_table(runs)
    assert lines[0] == "| Phase | non-secure (2/3 passed) | secure (1/1 passed) |"
    assert "| ready | 5.5 s (5.0-6.0) | 20.0 s (20.0-20.0) |" in lines
    assert "| total (time to verdict) | 23.0 s (22.0-24.0) | 36.0 s (36.0-36.0) |" in lines
    assert "| first_event | — | — |" in lines  # no run recorded it
