"""What the rest of edgex-smoke calls: make sure the lab images exist, and name them."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from harness.errors import InfraError
from lab import build, naming, pins
from lab.paths import cache_dir
from lab.stamps import Report, StampStore, Steps, stderr_report


@contextmanager
def _build_lock() -> Iterator[Steps]:
    """Hold the cache's lock so that two builders never share a root filesystem or stamp."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with (root / "build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield Steps(StampStore(root / "stamps"))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def image_refs(loaded: pins.Pins | None = None) -> dict[str, str]:
    """Return component name → lab image reference for every lab image (infra first)."""
    loaded = loaded or pins.load()
    refs = {naming.INFRA: build.infra_ref(loaded)}
    refs.update({name: build.service_ref(loaded, name) for name in loaded.services})
    if loaded.openbao is not None:
        refs[naming.OPENBAO] = build.openbao_ref(loaded.openbao)
    return refs


def ensure_infra_image(*, force: bool = False, report: Report = stderr_report) -> str:
    """Build or reuse the Debian infra image; return its reference.

    The harness's own podman tests use it as "a small image built from Debian's archive".
    """
    loaded = pins.load()
    with _build_lock() as steps:
        steps.force, steps.report = force, report
        return build.build_infra(loaded, steps, cache_dir())


def ensure_images(
    *, force: bool = False, only: Sequence[str] | None = None, report: Report = stderr_report
) -> dict[str, str]:
    """Build or reuse the lab images; return component name → image reference.

    Args:
        force: Rebuild every selected step even if its stamp is current.
        only: Component names to build (``infra``, ``core-data``, …); all when None.
        report: Receives one progress line per step.
    """
    loaded = pins.load()
    wanted = list(only) if only else list(image_refs(loaded))
    unknown = sorted(set(wanted) - set(image_refs(loaded)))
    if unknown:
        raise InfraError(f"lab images: unknown component(s) {unknown}; choose from {sorted(image_refs(loaded))}")
    refs: dict[str, str] = {}
    with _build_lock() as steps:
        steps.force, steps.report = force, report
        if naming.INFRA in wanted:
            refs[naming.INFRA] = build.build_infra(loaded, steps, cache_dir())
        if naming.OPENBAO in wanted and loaded.openbao is not None:
            refs[naming.OPENBAO] = build.build_openbao(loaded.openbao, steps, cache_dir())
        services = [name for name in wanted if name not in (naming.INFRA, naming.OPENBAO)]
        if services:
            refs.update(build.build_services(loaded, services, steps, cache_dir()))
    return refs
