"""Side-load images from local podman storage into the lab cluster's containerd (there is no registry).

``podman save --format docker-archive`` writes one archive per reference; ``ctr images import`` unpacks it into
the ``k8s.io`` namespace that the kubelet uses. The podman image ID of each import is recorded, so loading the same
image twice into one cluster is a no-op while a rebuilt image under the same tag is imported again.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Sequence

from harness.errors import InfraError, ReadinessTimeoutError
from lab import podman
from lab.cluster import containerd
from lab.cluster.layout import Layout
from manifests import runtime_reference

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _stamp_name(ref: str) -> str:
    return _UNSAFE.sub("_", ref) + ".id"


def load(state: Layout, refs: Sequence[str], *, timeout_s: float) -> list[str]:
    """Import each of `refs` from podman into containerd; return the references actually imported.

    Raises:
        InfraError: An image is not in podman storage, or containerd does not list it after the import.
        ReadinessTimeoutError: The imports did not finish within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    state.images.mkdir(parents=True, exist_ok=True)
    present = containerd.images(state)
    imported: list[str] = []
    for ref in refs:
        image_id = podman.image_id(ref)
        if image_id is None:
            raise InfraError(
                f"lab-cluster load_images: {ref} is not in local podman storage; build it first (python -m lab images)"
            )
        stamp = state.images / _stamp_name(ref)
        if runtime_reference(ref) in present and stamp.is_file() and stamp.read_text().strip() == image_id:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReadinessTimeoutError(
                f"lab-cluster load_images: no time left for {ref} after {timeout_s:.0f} s; "
                f"see {state.log('containerd')} (raise timeout_s)"
            )
        # A name of its own: podman save refuses an existing file, and other processes may load the same image.
        archive = state.images / f"{_UNSAFE.sub('_', ref)}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tar"
        try:
            podman.podman(["save", "--format", "docker-archive", "--output", str(archive), ref], timeout_s=remaining)
            containerd.import_archive(state, archive, timeout_s=max(deadline - time.monotonic(), 1.0))
        finally:
            archive.unlink(missing_ok=True)
        names = containerd.images(state)
        if runtime_reference(ref) not in names:
            raise InfraError(
                f"lab-cluster load_images: containerd does not list {runtime_reference(ref)} after importing {ref} "
                f"(it has {', '.join(sorted(n for n in names if not n.startswith('sha256:')))}); use fully "
                f"qualified references; see {state.log('containerd')}"
            )
        stamp.write_text(image_id + "\n")
        imported.append(ref)
    return imported
