"""`python -m benchmarks compare`: the harness against the naive script, run alternately on one manifest.

Each round runs both, in alternating order so that a drift in the machine's load falls on both
alike. The naive script (`benchmarks/naive.sh`) plays the manifest the harness renders for the
same options, polls with curl until core-data answers and Random-Integer-Device has an event,
and takes the pod down. The harness runs ``pytest suites`` with every check, a to i. Both are
timed as whole commands, as a user waits for them; rendering the naive script's manifest is
not counted against it.

The floor comes from each harness report: ``max(end of ready, end of the last check that waits
on an autoevent)``, both counted from the run's start. No smoke test that checks what the
harness checks can give its verdict before EdgeX has produced those events.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import manifests
from harness import proc
from harness.labels import ownership_labels, with_labels
from reports.files import load_report

ROOT = Path(__file__).resolve().parent.parent
NAIVE_SCRIPT = ROOT / "benchmarks" / "naive.sh"
RUN_TIMEOUT_S = 600.0
AUTOEVENT_CHECKS = ("e", "f")
"""The checks that wait on device-virtual's own autoevent clock (suites/test_events.py)."""
VERDICT_BOUND = (1.2, 3.0)
"""Issue 14's bound on a quiet machine: verdict <= 1.2 * floor + 3 s."""


@dataclass(frozen=True)
class Sample:
    """One timed command."""

    kind: str
    """``naive`` or ``harness``."""
    wall_s: float
    passed: bool
    load_1m: float
    """The one-minute load average when it started."""
    verdict_s: float | None = None
    """Harness only: the report's total (provision to report)."""
    floor_s: float | None = None
    """Harness only: see the module docstring."""
    run_id: str = ""


def floor_s(report: Mapping[str, Any]) -> float | None:
    """``max(end of ready, end of the last autoevent check)`` from a harness report; None if it lacks them."""
    phases = report["phases"]
    ready_parts: list[float] = [
        phases[name] for name in ("provision", "apply", "ready") if isinstance(phases.get(name), int | float)
    ]
    if len(ready_parts) != 3:
        return None
    ends = [float(c["ended_s"]) for c in report["checks"] if c["id"] in AUTOEVENT_CHECKS and c["ended_s"] is not None]
    return max([sum(ready_parts), *ends])


def _naive_manifest(directory: Path, images: str, gateway_port: int, mqtt_port: int) -> tuple[Path, list[str]]:
    run_id = f"naive-{os.getpid()}-{time.monotonic_ns() % 100000}"
    objects = manifests.render(
        release="4.0",
        distro="podman",
        images=manifests.ImageSource.parse(images),
        run_id=run_id,
        gateway_http_port=gateway_port,
        gateway_mqtt_port=mqtt_port,
        name=f"edgex-{run_id}",
    )
    # Labelled like the harness's own pods, so that a later run reaps what an interrupted benchmark left.
    objects = with_labels(objects, ownership_labels(run_id, keep=False))
    path = directory / f"{run_id}.yaml"
    path.write_text(manifests.to_yaml(objects), encoding="utf-8")
    return path, [o["metadata"]["name"] for o in objects if o.get("kind") == "ConfigMap"]


def run_naive(images: str, gateway_port: int, mqtt_port: int) -> Sample:
    """Time one run of the naive script; its ConfigMap volumes are removed afterwards, untimed."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="edgex-smoke-naive-") as tmp:
        manifest, volumes = _naive_manifest(Path(tmp), images, gateway_port, mqtt_port)
        started = time.monotonic()
        done = proc.run(
            ["sh", str(NAIVE_SCRIPT), str(manifest), f"http://127.0.0.1:{gateway_port}"],
            timeout_s=RUN_TIMEOUT_S,
            check=False,
        )
        wall = time.monotonic() - started
        for volume in volumes:
            proc.run(["podman", "volume", "rm", "--force", volume], timeout_s=60, check=False)
    if done.returncode != 0:
        print(f"naive run failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
    return Sample("naive", wall, done.returncode == 0, load)


def run_harness(options: Sequence[str]) -> Sample:
    """Time one ``pytest suites`` run with `options`; read its verdict and floor from its report."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="edgex-smoke-compare-") as tmp:
        started = time.monotonic()
        proc.run(
            [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", *options, f"--report-dir={tmp}"],
            timeout_s=RUN_TIMEOUT_S,
            cwd=ROOT,
            check=False,
        )
        wall = time.monotonic() - started
        found = sorted(Path(tmp).glob("*.json"))
        if len(found) != 1:
            return Sample("harness", wall, False, load)
        report = load_report(found[0])
    return Sample(
        "harness",
        wall,
        report["outcome"] == "passed",
        load,
        verdict_s=report["phases"]["total"],
        floor_s=floor_s(report),
        run_id=report["run_id"],
    )


def _figures(values: Sequence[float]) -> str:
    if not values:
        return "— | — | —"
    return " | ".join(f"{v:.1f} s" for v in (statistics.median(values), min(values), max(values)))


def summary(samples: Sequence[Sample]) -> tuple[list[str], bool]:
    """The comparison as Markdown lines, and whether the harness met issue 14's bounds."""
    naive = [s for s in samples if s.kind == "naive" and s.passed]
    harness = [s for s in samples if s.kind == "harness" and s.passed]
    lines = [
        "| Command | Median | Min | Max | Passed |",
        "|---|---|---|---|---|",
        f"| naive script (play, curl until core-data and one event, down) | {_figures([s.wall_s for s in naive])} "
        f"| {len(naive)}/{sum(s.kind == 'naive' for s in samples)} |",
        f"| harness, `pytest suites` (checks a-i), whole command | {_figures([s.wall_s for s in harness])} "
        f"| {len(harness)}/{sum(s.kind == 'harness' for s in samples)} |",
        f"| harness verdict (provision to report) | {_figures([s.verdict_s for s in harness if s.verdict_s])} | |",
        f"| floor: max(ready, last autoevent the checks need) | {_figures([s.floor_s for s in harness if s.floor_s])} "
        "| |",
    ]
    met = False
    if naive and harness:
        ratio = statistics.median(s.wall_s for s in harness) / statistics.median(s.wall_s for s in naive)
        slope, offset = VERDICT_BOUND
        within = [s for s in harness if s.verdict_s is not None and s.floor_s is not None]
        bounded = sum(s.verdict_s <= slope * s.floor_s + offset for s in within)  # type: ignore[operator]
        loads = [s.load_1m for s in samples]
        lines += [
            "",
            f"ratio harness/naive (medians of whole commands): {ratio:.2f}",
            f"harness verdicts within {slope:g} * floor + {offset:g} s: {bounded}/{len(within)}",
            f"load average (1 min) at the starts: {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} CPUs",
        ]
        met = ratio <= 1.0 and bounded == len(within) == len(harness)
    return lines, met


def compare(runs: int, images: str, gateway_port: int, mqtt_port: int) -> tuple[list[Sample], list[str], bool]:
    """Run `runs` rounds, alternating which goes first; return the samples, the summary and the verdict."""
    options = ["--distro=podman", f"--images={images}", f"--gateway-ports={gateway_port}:{mqtt_port}"]
    samples: list[Sample] = []
    for index in range(runs):
        order = ("naive", "harness") if index % 2 == 0 else ("harness", "naive")
        for kind in order:
            sample = run_naive(images, gateway_port, mqtt_port) if kind == "naive" else run_harness(options)
            samples.append(sample)
            state = "passed" if sample.passed else "FAILED"
            print(f"round {index + 1}/{runs}: {kind} {state} in {sample.wall_s:.1f} s", file=sys.stderr, flush=True)
    lines, met = summary(samples)
    return samples, lines, met


def as_json(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """The raw samples, for ``--out``."""
    return [asdict(sample) for sample in samples]
