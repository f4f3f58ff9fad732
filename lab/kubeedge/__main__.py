"""``python -m lab.kubeedge up|down|status``: KubeEdge on the lab cluster, this host as its edge node."""

from __future__ import annotations

import argparse
import sys

from harness.errors import SmokeError
from lab.kubeedge import api


def main(argv: list[str] | None = None) -> int:
    """Run the lab KubeEdge command line; return the exit status (3: status found it not running)."""
    parser = argparse.ArgumentParser(prog="python -m lab.kubeedge", description="Run KubeEdge on the lab cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start cloudcore and the edge node (or attach) and wait until the node is Ready")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds for the start (default 300)")
    sub.add_parser("down", help="stop the edge node and cloudcore; the lab cluster keeps running")
    sub.add_parser("status", help="tell whether the lab KubeEdge runs")
    args = parser.parse_args(argv)
    say = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if args.command == "up":
            node = api.up(timeout_s=args.timeout, progress=say)
            print(f"lab-kubeedge: edge node {node.node_name} ({node.node_ip}), KubeEdge {node.version}")
            return 0
        if args.command == "down":
            api.down(progress=say)
            return 0
        running = api.status()
        if running is None:
            print("lab-kubeedge: not running")
            return 3
        print(f"lab-kubeedge: running KubeEdge {running.version}, edge node {running.node_name} ({running.node_ip})")
        return 0
    except SmokeError as err:
        print(f"lab-kubeedge: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
