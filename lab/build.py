"""The lab build: which steps exist, what each depends on, and in which order they run."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab import gobuild, infra, naming, openbao, podman, service_image
from lab.paths import FILES_DIR, LAB_DIR
from lab.pins import Module, OpenBao, Pins, Service
from lab.stamps import Steps, files_digest, step_key

INFRA_SOURCES = (LAB_DIR / "infra.py", LAB_DIR / "rootfs.py", LAB_DIR / "mirror.py", FILES_DIR)
GO_SOURCES = (LAB_DIR / "gobuild.py",)
IMAGE_SOURCES = (LAB_DIR / "service_image.py", LAB_DIR / "podman.py")
OPENBAO_SOURCES = (LAB_DIR / "openbao.py",)
OPENBAO_ARGS = ("server", "-dev")
"""The upstream image's default command: a throw-away dev server (the manifest gives the real one)."""


def _image_current(ref: str, image_key: str) -> bool:
    """True if podman holds `ref`, built from the inputs that `image_key` sums up."""
    return podman.image_labels(ref).get(naming.LABEL_KEY) == image_key


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

    if not steps.force and _image_current(ref, image_key):
        steps.skip("infra rootfs")  # the image made from it is current; the tarball is not needed
    else:
        steps.run("infra rootfs", rootfs_key, build=make_tarball, exists=tarball.is_file)
    steps.run(
        "infra image",
        image_key,
        build=make_image,
        exists=lambda: _image_current(ref, image_key),
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
    """What the service steps share: the toolchain version and each module's downloaded source."""

    pins: Pins
    steps: Steps
    cache: Path
    go_version: str = ""
    sources: dict[str, gobuild.ModuleSource] = field(default_factory=dict)

    def source(self, module: Module) -> gobuild.ModuleSource:
        """Download (once per build) and verify `module`; copy it into a build tree of its own."""
        if module.name in self.sources:
            return self.sources[module.name]
        self.go_version = self.go_version or gobuild.go_version()
        found: list[gobuild.ModuleSource] = []
        tree = self.tree(module)

        def fetch() -> None:
            found.append(gobuild.download(module, self.cache / "scratch"))
            gobuild.prepare_tree(found[0], tree)

        self.steps.run(
            f"go mod download {module.name}",
            step_key("go mod download", module.path, module.version, module.sum),
            build=fetch,
            exists=(tree / "go.mod").is_file,
        )
        if not found:  # the tree is current: read the go.mod it was copied with
            found.append(gobuild.ModuleSource(module, tree, (tree / "go.mod").read_text(encoding="utf-8")))
        self.sources[module.name] = found[0]
        return found[0]

    def tree(self, module: Module) -> Path:
        """The module's private build tree."""
        return source_tree(self.cache, module)


def _ensure_service(ctx: _GoContext, service: Service, ref: str) -> None:
    name, version = service.name, service.module.release
    changes = service_image.image_changes(
        name, binary_at=service.binary_path, args=service.args, workdir=service.workdir
    )
    build_key = step_key(
        f"go build {name}",
        files_digest(GO_SOURCES, root=LAB_DIR),
        json.dumps(asdict(service), sort_keys=True),
    )
    image_key = step_key(
        f"image {name}", build_key, files_digest(IMAGE_SOURCES, root=LAB_DIR), _ca_digest(), json.dumps(changes)
    )
    if not ctx.steps.force and _image_current(ref, image_key):
        ctx.steps.skip(f"go build {name}")
        ctx.steps.skip(f"image {name}")
        return

    source = ctx.source(service.module)
    tree = ctx.tree(service.module)
    binary = binary_path(ctx.cache, service)
    executables = {path: extra_binary_path(ctx.cache, service, path) for path, _package in service.extra_binaries}

    def build_binaries() -> None:
        gobuild.build(tree, source, service, binary)
        for path, package in service.extra_binaries:
            gobuild.build(tree, source, service, executables[path], package)

    ctx.steps.run(
        f"go build {name}",
        step_key(build_key, ctx.go_version),
        build=build_binaries,
        exists=lambda: binary.is_file() and all(path.is_file() for path in executables.values()),
    )
    labels = {
        naming.LABEL_LAB: "true",
        naming.LABEL_PIN: f"{service.module.path}@{service.module.version} ({service.module.tag})",
        naming.LABEL_KEY: image_key,
        "org.opencontainers.image.version": version,
    }

    def make_image() -> None:
        tarball = ctx.cache / "images" / f"{name}.tar"
        service_image.write_rootfs_tar(
            name,
            binary,
            tree / service.res,
            tarball,
            binary_at=service.binary_path,
            res_at=service.res_at,
            executables=executables,
            files={path: tree / inside for path, inside in service.files},
        )
        podman.import_tarball(tarball, ref, changes=changes, labels=labels)
        tarball.unlink()

    ctx.steps.run(
        f"image {name}",
        image_key,
        build=make_image,
        exists=lambda: _image_current(ref, image_key),
    )


def source_tree(cache: Path, module: Module) -> Path:
    """Where the lab keeps `module`'s source: one build context per release module."""
    return cache / "src" / f"{module.name}@{module.version}"


def binary_path(cache: Path, service: Service) -> Path:
    """Where the lab keeps the built binary of `service`."""
    return cache / "bin" / f"{service.name}-{service.module.release}"


def extra_binary_path(cache: Path, service: Service, image_path: str) -> Path:
    """Where the lab keeps a further binary of `service`'s image (``image_path`` inside it)."""
    return cache / "bin" / f"{service.name}-{service.module.release}.d" / image_path.strip("/").replace("/", "_")


def build_services(pins: Pins, names: list[str], steps: Steps, cache: Path) -> dict[str, str]:
    """Build (or reuse) the images of the EdgeX services `names`; return name → reference.

    Per module, when anything of it is stale: ``go mod download <module>`` (verified against its
    pinned sum, copied into a build tree of its own). Per service: ``go build <name>`` (a static
    binary in the cache, its build list checked against the release's go.mod) and ``image <name>``
    (``podman import`` of a tiny root filesystem). A service whose image carries the current key
    skips both steps.
    """
    ctx = _GoContext(pins, steps, cache)
    refs = {name: service_ref(pins, name) for name in names}
    for name in names:
        _ensure_service(ctx, pins.services[name], refs[name])
    return refs


def openbao_ref(pin: OpenBao) -> str:
    """Return the reference of the OpenBao image, tagged with its release."""
    return naming.image_ref(naming.OPENBAO, pin.version)


def build_openbao(pin: OpenBao, steps: Steps, cache: Path) -> str:
    """Build (or reuse) the OpenBao image; return its reference.

    Steps: ``openbao source`` (the archive, checked against its sha256, unpacked into a tree of its
    own), ``go build openbao`` (``bao``, static, stamped with the release's version) and ``image
    openbao`` (``/bin/bao`` with a busybox shell). An image that carries the current key skips all.
    """
    ref = openbao_ref(pin)
    tree = cache / "src" / f"openbao@{pin.version}"
    binary = cache / "bin" / f"openbao-{pin.version}"
    changes = service_image.image_changes(naming.OPENBAO, binary_at="/bin/bao", args=OPENBAO_ARGS)
    source_key = step_key("openbao source", pin.sha256)
    build_key = step_key(
        "go build openbao",
        source_key,
        json.dumps(asdict(pin), sort_keys=True),
        files_digest(OPENBAO_SOURCES, root=LAB_DIR),
    )
    image_key = step_key("image openbao", build_key, files_digest(IMAGE_SOURCES, root=LAB_DIR), json.dumps(changes))
    if not steps.force and _image_current(ref, image_key):
        for step in ("openbao source", "go build openbao", "image openbao"):
            steps.skip(step)
        return ref
    steps.run(
        "openbao source",
        source_key,
        build=lambda: openbao.extract(openbao.verify_archive(pin), tree),
        exists=(tree / "go.mod").is_file,
    )
    steps.run(
        "go build openbao",
        step_key(build_key, gobuild.go_version()),
        build=lambda: openbao.build(tree, pin, binary),
        exists=binary.is_file,
    )
    labels = {
        naming.LABEL_LAB: "true",
        naming.LABEL_PIN: f"github.com/openbao/openbao@{pin.tag} ({pin.commit}, {pin.source})",
        naming.LABEL_KEY: image_key,
        "org.opencontainers.image.version": pin.version,
    }

    def make_image() -> None:
        tarball = cache / "images" / "openbao.tar"
        service_image.write_rootfs_tar(naming.OPENBAO, binary, None, tarball, binary_at="/bin/bao")
        podman.import_tarball(tarball, ref, changes=changes, labels=labels)
        tarball.unlink()

    steps.run(
        "image openbao",
        image_key,
        build=make_image,
        exists=lambda: _image_current(ref, image_key),
    )
    return ref
