"""``python -m lab images [--force] [--only NAME ...]``: build the offline lab images."""

from __future__ import annotations

import argparse
import sys
import time

from harness.errors import SmokeError
from lab import api, podman


def main(argv: list[str] | None = None) -> int:
    """Run the lab command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab", description="Build the offline EdgeX lab images.")
    sub = parser.add_subparsers(dest="command", required=True)
    images = sub.add_parser("images", help="build (or reuse) the lab images")
    images.add_argument("--force", action="store_true", help="rebuild every step even if it is current")
    images.add_argument("--only", action="append", metavar="NAME", help="build only this component (repeatable)")
    sub.add_parser("list", help="print the lab image references and whether each exists")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name, ref in api.image_refs().items():
                state = "present" if podman.image_exists(ref) else "missing"
                print(f"{name}\t{ref}\t{state}")
            return 0
        started = time.monotonic()
        refs = api.ensure_images(force=args.force, only=args.only)
        print(f"lab: {len(refs)} image(s) ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
        for name, ref in refs.items():
            print(f"{name}\t{ref}")
        return 0
    except SmokeError as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
