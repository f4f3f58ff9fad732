"""The few podman calls the lab builder needs: existence, labels, and ``podman import``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness import proc
from harness.errors import InfraError
from lab.paths import CONTAINERS_CONF

IMPORT_TIMEOUT_S = 600.0
QUERY_TIMEOUT_S = 60.0


def podman_env() -> dict[str, str]:
    """Return the environment for podman: ``CONTAINERS_CONF`` defaults to the repo's ``.ci/containers.conf``.

    That file picks runc, cgroupfs and capped ulimits, without which containers fail on the CI hosts.
    """
    if "CONTAINERS_CONF" not in os.environ and CONTAINERS_CONF.is_file():
        return {"CONTAINERS_CONF": str(CONTAINERS_CONF)}
    return {}


def podman(args: Sequence[str], *, timeout_s: float = QUERY_TIMEOUT_S, check: bool = True) -> proc.Completed:
    """Run ``podman <args>`` with the lab environment."""
    return proc.run(["podman", *args], timeout_s=timeout_s, check=check, env=podman_env(), package="podman")


def image_exists(ref: str) -> bool:
    """Tell whether the image `ref` is in local storage."""
    return podman(["image", "exists", ref], check=False).returncode == 0


def image_labels(ref: str) -> dict[str, str]:
    """Return the labels of the local image `ref` ({} when it has none or is absent)."""
    done = podman(["image", "inspect", "--format", "{{json .Labels}}", ref], check=False)
    if done.returncode != 0:
        return {}
    try:
        labels = json.loads(done.stdout or "null")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def image_id(ref: str) -> str | None:
    """Return the ID of the local image `ref`, or None when it is absent."""
    done = podman(["image", "inspect", "--format", "{{.Id}}", ref], check=False)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def image_size(ref: str) -> int:
    """Return the size in bytes of the local image `ref`."""
    done = podman(["image", "inspect", "--format", "{{.Size}}", ref])
    try:
        return int(done.stdout.strip())
    except ValueError as err:
        raise InfraError(
            f"podman image inspect {ref}: size {done.stdout.strip()!r} is not a number; check podman"
        ) from err


def import_tarball(tarball: Path, ref: str, *, changes: Sequence[str], labels: Mapping[str, str]) -> None:
    """Import a root filesystem tarball as image `ref`; no registry is involved.

    Args:
        tarball: An uncompressed tar of the root filesystem.
        ref: The image reference to tag, e.g. ``localhost/edgex-smoke-lab/infra:bookworm``.
        changes: Dockerfile instructions such as ``ENV PATH=…`` and ``CMD [...]``.
        labels: Image labels, applied as ``LABEL`` changes.
    """
    argv = ["import", "--quiet"]
    for change in changes:
        argv += ["--change", change]
    for name, value in sorted(labels.items()):
        argv += ["--change", f"LABEL {name}={json.dumps(value)}"]
    argv += [str(tarball), ref]
    previous = image_id(ref)
    podman(argv, timeout_s=IMPORT_TIMEOUT_S)
    current = image_id(ref)
    if current is None:
        raise InfraError(f"podman import {tarball}: image {ref} is missing afterwards; check 'podman images'")
    if previous and previous != current:
        podman(["rmi", previous], check=False)  # the untagged predecessor; kept if a container still uses it
