"""``python -m lab.cluster up|down|status|load IMAGE…``: run the lab cluster (see lab/cluster/README.md)."""

from __future__ import annotations

import argparse
import sys

from harness.errors import SmokeError
from lab.cluster import api, processes
from lab.cluster.layout import Layout


def _print_status() -> int:
    cluster = api.status()
    if cluster is None:
        print("lab-cluster: not running")
        return 3
    state = Layout.default()
    print(f"lab-cluster: running {cluster.version}, node {cluster.node_name} ({cluster.node_ip})")
    print(f"kubeconfig: {cluster.kubeconfig}")
    for component in api.COMPONENTS:
        pid = processes.alive(state, component)
        rss = processes.rss_kib(pid) / 1024 if pid else 0.0
        print(f"{component:24} pid {pid}  rss {rss:6.0f} MiB  log {state.log(component)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the lab cluster command line; return the exit status (3: status found no cluster)."""
    parser = argparse.ArgumentParser(prog="python -m lab.cluster", description="Run the single-node lab cluster.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the cluster (or attach to it) and wait until the node is Ready")
    up.add_argument("--timeout", type=float, default=600.0, help="seconds for the start (default 600)")
    sub.add_parser("down", help="stop the cluster and remove its state directory")
    sub.add_parser("status", help="tell whether the cluster runs; show PIDs, memory and logs")
    load = sub.add_parser("load", help="side-load images from local podman storage into the cluster")
    load.add_argument("refs", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            cluster = api.up(timeout_s=args.timeout, progress=lambda line: print(line, flush=True))
            print(f"export KUBECONFIG={cluster.kubeconfig}")
            return 0
        if args.command == "down":
            api.down(progress=lambda line: print(line, flush=True))
            return 0
        if args.command == "load":
            api.load_images(args.refs, progress=lambda line: print(line, flush=True))
            print(f"lab-cluster: loaded {' '.join(args.refs)}")
            return 0
        return _print_status()
    except SmokeError as err:
        print(f"lab-cluster: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
