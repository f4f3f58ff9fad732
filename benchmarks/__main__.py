"""Benchmarks behind the timings the README states: repeated smoke runs and lab cluster start/stop.

    python -m benchmarks smoke --distro podman --images lab --runs 3
    python -m benchmarks smoke --distro k8s --provision local --images localhost/edgex-smoke-double
    python -m benchmarks soak --distro podman --images lab --runs 20 --load 4
    python -m benchmarks cluster --runs 3          # root; the lab cluster must be stopped
    python -m benchmarks compare --runs 5          # the naive script and the harness, alternately, on podman
    python -m benchmarks security --images lab --runs 3   # non-secure and secure EdgeX, alternately

`smoke` runs ``pytest suites`` as a user would, once per run, and summarises the phase timings of the
reports it wrote (median, min, max); a run that did not pass is listed and left out of the figures.
`soak` repeats clean smoke runs while ``--load`` CPU-bound processes compete for the cores, and adds the
pass count and every container restart that check a saw (it fails on any). `cluster` times
``python -m lab.cluster up`` and ``down`` as whole commands; `compare` is explained in `benchmarks.compare`.
`security` alternates non-secure and secure runs (``--security off`` and ``on``) on one target and
prints each phase, the total being the time to verdict, side by side.
Each prints a Markdown table and writes the raw figures as JSON next to it (``--out``). Timings on 2
shared cores move by tens of percent with other load; state the machine and the load with any figure
you quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import compare as side_by_side
from harness import proc
from reports.files import load_report
from reports.schema import PHASES

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 1800.0
SUMMARY_PHASES = (*PHASES, "total")
RESTARTED = re.compile(r"(?P<container>[\w-]+) restarted (?P<count>\d+)x")
"""How check a names a container that restarted (suites/test_pod.py)."""
CPU_HOG = "while True: pass"
FAILED_RUNS_DIR = ROOT / "reports" / "out" / "bench-failed"
"""Where the report directories (diagnostics included) of runs that did not pass are kept."""


def _smoke_once(options: Sequence[str], report_dir: Path) -> dict[str, Any]:
    proc.run(
        [sys.executable, "-m", "pytest", "suites", "-q", *options, f"--report-dir={report_dir}"],
        timeout_s=RUN_TIMEOUT_S,
        cwd=ROOT,
        check=False,
    )
    reports = sorted(report_dir.glob("*.json"))
    if len(reports) != 1:
        raise SystemExit(f"benchmarks smoke: expected one report in {report_dir}, found {len(reports)}")
    report = load_report(reports[0])
    restarts: dict[str, int] = {}
    for check in report["checks"]:
        if check["id"] == "a":
            for match in RESTARTED.finditer(check["reason"]):
                restarts[match["container"]] = int(match["count"])
    return {
        "run_id": report["run_id"],
        "outcome": report["outcome"],
        "phases": dict(report["phases"]),
        "versions": dict(report["edgex"]["versions"]),
        "restarts": restarts,
        "failed": [f"{c['id']}: {c['reason']}" for c in report["checks"] if c["outcome"] != "passed"],
    }


def _summary(samples: Mapping[str, list[float]]) -> list[str]:
    lines = ["| Phase | Median | Min | Max | Runs |", "|---|---|---|---|---|"]
    for phase, values in samples.items():
        if values:
            figures = (statistics.median(values), min(values), max(values))
            lines.append(f"| {phase} | " + " | ".join(f"{v:.2f} s" for v in figures) + f" | {len(values)} |")
        else:
            lines.append(f"| {phase} | — | — | — | 0 |")
    return lines


def _options(args: argparse.Namespace) -> list[str]:
    options = [f"--distro={args.distro}", f"--images={args.images}", f"--provision={args.provision}"]
    if args.gateway_ports:
        options.append(f"--gateway-ports={args.gateway_ports}")
    return options


def _repeat(options: Sequence[str], runs: int) -> list[dict[str, Any]]:
    """Run `runs` smoke runs; keep the report directory (diagnostics included) of every run that did not pass."""
    return [_kept_if_failed(options, f"run {index + 1}/{runs}") for index in range(runs)]


def _kept_if_failed(options: Sequence[str], label: str) -> dict[str, Any]:
    """One smoke run; its report directory is kept in `FAILED_RUNS_DIR` if it did not pass."""
    with tempfile.TemporaryDirectory(prefix="edgex-smoke-bench-") as tmp:
        run = _smoke_once(options, Path(tmp))
        if run["outcome"] != "passed":
            kept = FAILED_RUNS_DIR / run["run_id"]
            shutil.copytree(tmp, kept, dirs_exist_ok=True)
            run["kept"] = str(kept)
    reasons = sorted(set(run["failed"]))
    detail = f"; {len(run['failed'])} check(s) not passed: {' | '.join(reasons)}" if reasons else ""
    kept_text = f"; kept in {run['kept']}" if "kept" in run else ""
    print(f"{label}: {run['outcome']} ({run['run_id']}){detail}{kept_text}", file=sys.stderr, flush=True)
    return run


def _phase_samples(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    return {
        phase: [run["phases"][phase] for run in runs if run["phases"].get(phase) is not None]
        for phase in SUMMARY_PHASES
    }


def smoke(args: argparse.Namespace) -> int:
    """Repeat the smoke run `args.runs` times; print the phase summary of the runs that passed."""
    options = _options(args)
    runs = _repeat(options, args.runs)
    passed = [run for run in runs if run["outcome"] == "passed"]
    print(f"smoke runs: {' '.join(options)}; {len(passed)}/{len(runs)} passed")
    print("\n".join(_summary(_phase_samples(passed))))
    _write(args.out, {"command": "smoke", "options": options, "runs": runs})
    return 0 if passed else 1


def soak(args: argparse.Namespace) -> int:
    """Repeat clean smoke runs under `args.load` CPU hogs; print passes, restarts and phase figures."""
    options = _options(args)
    # SIGTERM ends the soak like Ctrl-C, so the hogs below are always stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="edgex-smoke-soak-") as tmp:
        hogs = [
            proc.start([sys.executable, "-c", CPU_HOG], log_path=Path(tmp) / f"hog-{n}.log") for n in range(args.load)
        ]
        try:
            runs = _repeat(options, args.runs)
        finally:
            for hog in hogs:
                proc.stop(hog, timeout_s=5)
    passed = [run for run in runs if run["outcome"] == "passed"]
    restarts: dict[str, int] = {}
    for run in runs:
        for container, count in run["restarts"].items():
            restarts[container] = restarts.get(container, 0) + count
    versions = sorted({version for run in runs for version in run["versions"].values()})
    print(
        f"soak: {' '.join(options)}; {args.load} CPU hog(s) on {os.cpu_count()} CPUs; "
        f"EdgeX {', '.join(versions) or 'not reached'}"
    )
    print(f"{len(passed)}/{len(runs)} passed; container restarts: {_restarts_text(restarts)}")
    print("\n".join(_summary(_phase_samples(runs))))
    _write(args.out, {"command": "soak", "options": options, "load": args.load, "runs": runs})
    return 0 if len(passed) == len(runs) and not restarts else 1


def _restarts_text(restarts: Mapping[str, int]) -> str:
    if not restarts:
        return "0"
    return ", ".join(f"{container} {count}" for container, count in sorted(restarts.items()))


SECURITY_MODES = ("off", "on")


def _figure(values: Sequence[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} s ({min(values):.1f}-{max(values):.1f})"


def security(args: argparse.Namespace) -> int:
    """Non-secure and secure smoke runs, alternately; print each phase's median (min-max) side by side."""
    options = _options(args)
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in SECURITY_MODES}
    for index in range(args.runs):
        order = SECURITY_MODES if index % 2 == 0 else SECURITY_MODES[::-1]  # load drift falls on both alike
        for mode in order:
            label = f"round {index + 1}/{args.runs}, security {mode}"
            runs[mode].append(_kept_if_failed([*options, f"--security={mode}"], label))
    print(f"security: {' '.join(options)}; {args.runs} rounds, alternating; median (min-max) of the runs that passed")
    print("\n".join(security_table(runs)))
    _write(args.out, {"command": "security", "options": options, "runs": runs})
    return 0 if all(any(run["outcome"] == "passed" for run in done) for done in runs.values()) else 1


def security_table(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Each phase of the passed runs, non-secure beside secure, as Markdown lines."""
    passed = {mode: [run for run in runs.get(mode, ()) if run["outcome"] == "passed"] for mode in SECURITY_MODES}
    samples = {mode: _phase_samples(done) for mode, done in passed.items()}
    counts = {mode: f"{len(passed[mode])}/{len(runs.get(mode, ()))} passed" for mode in SECURITY_MODES}
    lines = [f"| Phase | non-secure ({counts['off']}) | secure ({counts['on']}) |", "|---|---|---|"]
    for phase in SUMMARY_PHASES:
        name = "total (time to verdict)" if phase == "total" else phase
        lines.append(f"| {name} | {_figure(samples['off'][phase])} | {_figure(samples['on'][phase])} |")
    return lines


def _timed(argv: Sequence[str]) -> float:
    started = time.monotonic()
    proc.run(argv, timeout_s=RUN_TIMEOUT_S, cwd=ROOT)
    return time.monotonic() - started


def cluster(args: argparse.Namespace) -> int:
    """Start and stop the lab cluster `args.runs` times; print how long each whole command took."""
    lab_cluster = [sys.executable, "-m", "lab.cluster"]
    if proc.run([*lab_cluster, "status"], timeout_s=60, cwd=ROOT, check=False).returncode == 0:
        raise SystemExit("benchmarks cluster: the lab cluster is running; stop it first (make lab-cluster-down)")
    samples: dict[str, list[float]] = {"up": [], "down": []}
    for index in range(args.runs):
        samples["up"].append(_timed([*lab_cluster, "up"]))
        samples["down"].append(_timed([*lab_cluster, "down"]))
        print(f"run {index + 1}/{args.runs}: up {samples['up'][-1]:.2f} s, down {samples['down'][-1]:.2f} s")
    print("lab cluster, whole commands")
    print("\n".join(_summary(samples)))
    _write(args.out, {"command": "cluster", "samples": samples})
    return 0


def compare(args: argparse.Namespace) -> int:
    """Run the naive script and the harness alternately; print the comparison; 0 if the harness met its bounds."""
    http_port, _, mqtt_port = (args.gateway_ports or "8000:1884").partition(":")
    samples, lines, met = side_by_side.compare(args.runs, args.images, int(http_port), int(mqtt_port))
    print(f"compare: podman, --images {args.images}, {args.runs} rounds, alternating")
    print("\n".join(lines))
    _write(args.out, {"command": "compare", "images": args.images, "samples": side_by_side.as_json(samples)})
    return 0 if met else 1


def _write(out: Path | None, data: Mapping[str, Any]) -> None:
    if out is not None:
        measured = {"host": platform.node(), "cpus": os.cpu_count(), "finished_at": datetime.now(UTC).isoformat()}
        out.write_text(json.dumps({**data, **measured}, indent=2) + "\n", encoding="utf-8")
        print(f"raw figures: {out}", file=sys.stderr)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--distro", default="podman")
    parser.add_argument("--images", required=True, help="as pytest's --images: lab, upstream or a mirror prefix")
    parser.add_argument("--provision", default="attach", choices=("attach", "local"))
    parser.add_argument("--gateway-ports", metavar="H:M", help="as pytest's --gateway-ports (default 8000:1884)")
    parser.add_argument("--out", type=Path, help="write the raw figures as JSON here")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("smoke", help="repeat a smoke run and summarise its phases")
    _run_options(runner)
    runner.add_argument("--runs", type=int, default=3)
    runner.set_defaults(handler=smoke)
    soaker = commands.add_parser("soak", help="repeat clean smoke runs under CPU load; count passes and restarts")
    _run_options(soaker)
    soaker.add_argument("--runs", type=int, default=20)
    soaker.add_argument("--load", type=int, default=4, help="CPU-bound processes to run alongside (default 4)")
    soaker.set_defaults(handler=soak)
    secure = commands.add_parser("security", help="non-secure and secure smoke runs, alternately, side by side")
    _run_options(secure)
    secure.add_argument("--runs", type=int, default=3)
    secure.set_defaults(handler=security)
    starter = commands.add_parser("cluster", help="time lab cluster up and down (root)")
    starter.add_argument("--runs", type=int, default=3)
    starter.add_argument("--out", type=Path, help="write the raw figures as JSON here")
    starter.set_defaults(handler=cluster)
    versus = commands.add_parser("compare", help="the naive script against the harness, alternately, on podman")
    versus.add_argument("--runs", type=int, default=5)
    versus.add_argument("--images", default="lab", help="as pytest's --images (default lab)")
    versus.add_argument("--gateway-ports", metavar="H:M", help="as pytest's --gateway-ports (default 8000:1884)")
    versus.add_argument("--out", type=Path, help="write the raw figures as JSON here")
    versus.set_defaults(handler=compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.runs < 1:
        raise SystemExit(f"benchmarks: --runs {args.runs} is not a positive number of runs; use --runs 3")
    if getattr(args, "load", 0) < 0:
        raise SystemExit(f"benchmarks soak: --load {args.load} is negative; use --load 4 (CPU hogs) or 0")
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
