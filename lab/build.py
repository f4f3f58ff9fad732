"""The lab build: which steps exist, what each depends on, and in which order they run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import gobuild, gomod, infra, naming, podman, service_image
from lab import pins as pins_module
from lab.paths import FILES_DIR, GOMOD_DIR, LAB_DIR
from lab.pins import Pins, Service
from lab.stamps import Steps, files_digest, step_key

INFRA_SOURCES = (LAB_DIR / "infra.py", LAB_DIR / "rootfs.py", LAB_DIR / "mirror.py", FILES_DIR)
GO_SOURCES = (LAB_DIR / "gobuild.py",)
IMAGE_SOURCES = (LAB_DIR / "service_image.py", LAB_DIR / "podman.py")


def infra_ref(pins: Pins) -> str:
    """Return the reference of the infra image."""
    return naming.image_ref(naming.INFRA, pins.infra.tag)


def build_infra(pins: Pins, steps: Steps, cache: Path) -> str:
    """Build (or reuse) the infra root filesystem tarball and image; return the image reference."""
    ref = infra_ref(pins)
    work = cache / "infra"
    tarball = work / f"{pins.infra.suite}-rootfs.tar"
    rootfs_key = step_key(
        "infra rootfs",
        json.dumps(asdict(pins.infra), sort_keys=True),
        files_digest(INFRA_SOURCES, root=LAB_DIR),
    )
    image_key = step_key("infra image", rootfs_key, json.dumps(infra.IMAGE_CHANGES))

    def make_tarball() -> None:
        work.mkdir(parents=True, exist_ok=True)
        infra.build_tarball(pins.infra, work, tarball)

    def make_image() -> None:
        labels = {
            naming.LABEL_LAB: "true",
            naming.LABEL_PIN: f"debian:{pins.infra.suite}/{pins.infra.variant}",
            naming.LABEL_KEY: image_key,
        }
        podman.import_tarball(tarball, ref, changes=infra.IMAGE_CHANGES, labels=labels)

    if not steps.force and podman.image_labels(ref).get(naming.LABEL_KEY) == image_key:
        steps.skip("infra rootfs")  # the image made from it is current; the tarball is not needed
    else:
        steps.run("infra rootfs", rootfs_key, build=make_tarball, exists=tarball.is_file)
    steps.run(
        "infra image",
        image_key,
        build=make_image,
        exists=lambda: podman.image_labels(ref).get(naming.LABEL_KEY) == image_key,
    )
    return ref


def service_ref(pins: Pins, name: str) -> str:
    """Return the reference of the image of EdgeX service `name`, tagged with its module's release."""
    return naming.image_ref(name, pins.services[name].module.release)


def _ca_digest() -> str:
    bundle = service_image.HOST_CA_BUNDLE
    return hashlib.sha256(bundle.read_bytes()).hexdigest() if bundle.is_file() else "none"


@dataclass
class _GoContext:
    """What the service steps share: the wrapper module, its digest, and the one download."""

    pins: Pins
    steps: Steps
    cache: Path
    gomod_dir: Path
    gomod_digest: str
    go_version: str = ""

    def ensure_downloaded(self) -> None:
        """Check the wrapper against the pins and download its modules, once per build."""
        if self.go_version:
            return
        gomod.check(self.pins, self.gomod_dir)
        self.go_version = gobuild.go_version()
        self.steps.run(
            "go mod download",
            step_key("go mod download", self.gomod_digest, self.go_version),
            build=lambda: gobuild.download(self.gomod_dir),
            exists=lambda: True,
        )


def _ensure_service(ctx: _GoContext, service: Service, ref: str) -> None:
    pins_module.usable(service.module)
    name, version = service.name, service.module.release
    changes = service_image.image_changes(name)
    build_key = step_key(
        f"go build {name}",
        ctx.gomod_digest,
        files_digest(GO_SOURCES, root=LAB_DIR),
        json.dumps(asdict(service), sort_keys=True),
        version,
    )
    image_key = step_key(
        f"image {name}", build_key, files_digest(IMAGE_SOURCES, root=LAB_DIR), _ca_digest(), json.dumps(changes)
    )
    if not ctx.steps.force and podman.image_labels(ref).get(naming.LABEL_KEY) == image_key:
        ctx.steps.skip(f"go build {name}")
        ctx.steps.skip(f"image {name}")
        return

    ctx.ensure_downloaded()
    binary = ctx.cache / "bin" / f"{name}-{version}"
    ctx.steps.run(
        f"go build {name}",
        step_key(build_key, ctx.go_version),
        build=lambda: gobuild.build(ctx.gomod_dir, service, version, binary),
        exists=binary.is_file,
    )
    labels = {
        naming.LABEL_LAB: "true",
        naming.LABEL_PIN: f"{service.module.path}@{service.module.version} ({service.module.tag})",
        naming.LABEL_KEY: image_key,
        "org.opencontainers.image.version": version,
    }

    def make_image() -> None:
        tarball = ctx.cache / "images" / f"{name}.tar"
        res = gobuild.module_dir(ctx.gomod_dir, service.module.path) / service.res
        service_image.write_rootfs_tar(name, binary, res, tarball)
        podman.import_tarball(tarball, ref, changes=changes, labels=labels)
        tarball.unlink()

    ctx.steps.run(
        f"image {name}",
        image_key,
        build=make_image,
        exists=lambda: podman.image_labels(ref).get(naming.LABEL_KEY) == image_key,
    )


def build_services(
    pins: Pins, names: list[str], steps: Steps, cache: Path, *, gomod_dir: Path = GOMOD_DIR
) -> dict[str, str]:
    """Build (or reuse) the images of the EdgeX services `names`; return name → reference.

    Per service: ``go build <name>`` (a static binary in the cache) and ``image <name>`` (``podman
    import`` of a tiny root filesystem). One ``go mod download`` runs first when anything is stale.
    A service whose image carries the current key skips both steps.
    """
    ctx = _GoContext(pins, steps, cache, gomod_dir, files_digest([gomod_dir], root=gomod_dir))
    refs = {name: service_ref(pins, name) for name in names}
    for name in names:
        _ensure_service(ctx, pins.services[name], refs[name])
    return refs
