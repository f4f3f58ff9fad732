"""Images of the EdgeX test double, so the smoke suites can run end to end where no EdgeX can be built.

A test double at a boundary that cannot run here (the Go module proxy refuses the EdgeX service modules):
`tests/edgex_double` is a small Go program that answers the REST calls and speaks the message-bus topics
the suites use, and says it is a double. Everything around it is real: the pod, the kube play or the
Kubernetes apply, PostgreSQL, mosquitto and the NGINX gateway of the lab infra image.

The images sit under a mirror prefix (``--images localhost/edgex-smoke-double``), with the upstream images'
run contract, so the suites run through the same option, renderer and preflight an air-gapped site uses.
Used only in tests/: a run on these images is never a result, and its report stays in a temporary
directory. The double answers ``/api/v3/version`` with `DOUBLE_VERSION`, never an EdgeX version.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import manifests
from harness import labels, proc
from lab import api as lab
from lab import podman, service_image, toolchain

PREFIX = "localhost/edgex-smoke-double"
FAULTY_PREFIX = "localhost/edgex-smoke-double-faulty"
"""The same images, but device-mqtt drops every incoming value and device-virtual ignores WriteInt8Value:
checks i and g must fail, as product failures."""
FAULTS = {
    "device-mqtt": "EDGEX_DOUBLE_FAULT=device-mqtt-drops-ingest",
    "device-virtual": "EDGEX_DOUBLE_FAULT=device-virtual-ignores-put,device-virtual-stale-events",
}
DOUBLE_VERSION = "0.0.0-edgex-smoke-double"
SOURCE_DIR = Path(__file__).resolve().parent / "edgex_double"
DIGEST_LABEL = "edgex-smoke.double-digest"
TEST_DOUBLE_LABEL = labels.IMAGE_TEST_DOUBLE
BUILD_TIMEOUT_S = 900.0
POSTGRES_ENTRYPOINT = '["/usr/local/bin/edgex-smoke-postgres"]'
"""The lab script initialises PostgreSQL and ignores the upstream image's ``postgres -c ...`` arguments."""


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgex-smoke" / "double"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SOURCE_DIR.glob("*")):
        if path.suffix in {".go", ".mod", ".sum"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(Path(service_image.__file__).read_bytes())
    return digest.hexdigest()[:16]


def build_binary(output: Path) -> None:
    """Build the double into `output`: static, from the committed go.mod and go.sum."""
    output.parent.mkdir(parents=True, exist_ok=True)
    proc.run(
        [toolchain.go(), "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", str(output), "."],
        timeout_s=BUILD_TIMEOUT_S,
        cwd=SOURCE_DIR,
        env={"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"},
    )


def _current(ref: str, digest: str) -> bool:
    return podman.image_exists(ref) and podman.image_labels(ref).get(DIGEST_LABEL) == digest


def _service_images(release: manifests.ReleaseInfo, prefix: str, digest: str, work: Path) -> None:
    binary = work / "edgex-double"
    empty_res = work / "res"
    empty_res.mkdir(exist_ok=True)
    for service in release.services:
        ref = manifests.mirror_reference(prefix, release.images[service.container].upstream)
        if _current(ref, digest):
            continue
        if not binary.exists():
            build_binary(binary)
        tarball = work / f"{service.name}.tar"
        service_image.write_rootfs_tar(service.name, binary, empty_res, tarball)
        changes = service_image.image_changes(service.name)
        if prefix == FAULTY_PREFIX and service.name in FAULTS:
            changes = (*changes, f"ENV {FAULTS[service.name]}")
        podman.import_tarball(tarball, ref, changes=changes, labels={DIGEST_LABEL: digest, TEST_DOUBLE_LABEL: "true"})


def _infra_images(release: manifests.ReleaseInfo, prefix: str, infra: str, work: Path) -> None:
    """The database, broker and gateway images: the lab infra image, relabelled so none aliases it.

    A plain tag would share the infra image's ID, and a node runtime may then report any of the
    tags as a container's image.
    """
    digest = podman.image_id(infra) or ""
    extra = {release.database.container: f"ENTRYPOINT {POSTGRES_ENTRYPOINT}\n"}
    for container in (release.database.container, release.broker.container, release.gateway_container):
        ref = manifests.mirror_reference(prefix, release.images[container].upstream)
        if _current(ref, digest):
            continue
        containerfile = work / f"{container}.Containerfile"
        containerfile.write_text(
            f"FROM {infra}\n{extra.get(container, '')}LABEL {DIGEST_LABEL}={digest} {TEST_DOUBLE_LABEL}=true\n",
            encoding="utf-8",
        )
        podman.podman(
            ["build", "--pull=never", "--quiet", "--tag", ref, "--file", str(containerfile), str(work)],
            timeout_s=BUILD_TIMEOUT_S,
        )


def ensure_images(prefix: str = PREFIX, release_name: str = "4.0") -> str:
    """Build (or reuse) the double's images below `prefix` (`PREFIX` or `FAULTY_PREFIX`); return `prefix`."""
    release = manifests.release_info(release_name)
    infra = lab.ensure_infra_image()
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="build-") as tmp:
        work = Path(tmp)
        _service_images(release, prefix, _sources_digest(), work)
        _infra_images(release, prefix, infra, work)
    return prefix
