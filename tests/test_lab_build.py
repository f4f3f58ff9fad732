"""The build orchestration, for real: podman stores the images, Go builds from a file-based proxy.

Only debootstrap is replaced (by a tiny real tarball): a Debian root filesystem takes a minute, and
tests/test_lab_images.py builds the real one.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import build, infra, naming, pins, podman
from lab.stamps import StampStore, Steps
from tests import _goproxy

pytestmark = pytest.mark.needs_podman


@pytest.fixture
def tag() -> Iterator[str]:
    """A tag of this test's own, so the real lab images are never touched; its images are removed after."""
    tag = f"test-{uuid.uuid4().hex[:8]}"
    yield tag
    for component in ("infra", "hello"):
        podman.podman(["rmi", "-f", naming.image_ref(component, tag)], check=False, timeout_s=60)


@pytest.fixture
def steps(tmp_path: Path) -> tuple[Steps, list[str]]:
    lines: list[str] = []
    return Steps(StampStore(tmp_path / "stamps"), report=lines.append), lines


@pytest.fixture
def tiny_rootfs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    made: list[Path] = []

    def build_tarball(settings: pins.Infra, work: Path, tarball: Path) -> None:
        with tarfile.open(tarball, "w") as tar:
            data = b"edgex-smoke test rootfs\n"
            info = tarfile.TarInfo("etc/edgex-smoke-test")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        made.append(tarball)

    monkeypatch.setattr(infra, "build_tarball", build_tarball)
    return made


def _pins(tag: str, module_sum: str = "h1:" + "A" * 43 + "=") -> pins.Pins:
    text = _goproxy.pins_text(module_sum).replace('tag = "bookworm"', f'tag = "{tag}"')
    return pins.parse(text.replace('release = "9.9.9"\ntag = "v9.9.9"', f'release = "{tag}"\ntag = "v{tag}"'))


def test_infra_builds_once_and_then_reuses_the_image(
    tag: str, tiny_rootfs: list[Path], steps: tuple[Steps, list[str]], tmp_path: Path
) -> None:
    loaded = _pins(tag)
    runner, lines = steps
    ref = build.build_infra(loaded, runner, tmp_path / "cache")
    assert ref == naming.image_ref("infra", tag)
    assert podman.image_labels(ref)[naming.LABEL_LAB] == "true"
    assert len(tiny_rootfs) == 1
    lines.clear()
    tiny_rootfs[0].unlink()  # the tarball may go: the image made from it is current
    assert build.build_infra(loaded, runner, tmp_path / "cache") == ref
    assert lines == ["lab: infra rootfs … cached", "lab: infra image … cached"]
    assert len(tiny_rootfs) == 1


def test_infra_image_lost_is_reimported_from_the_kept_tarball(
    tag: str, tiny_rootfs: list[Path], steps: tuple[Steps, list[str]], tmp_path: Path
) -> None:
    loaded = _pins(tag)
    runner, lines = steps
    ref = build.build_infra(loaded, runner, tmp_path / "cache")
    podman.podman(["rmi", "-f", ref], timeout_s=60)
    lines.clear()
    build.build_infra(loaded, runner, tmp_path / "cache")
    assert len(tiny_rootfs) == 1
    assert lines[0] == "lab: infra rootfs … cached" and lines[1] == "lab: infra image …"
    assert podman.image_exists(ref)


def test_services_build_from_the_proxy_then_skip_everything_when_current(
    tag: str, steps: tuple[Steps, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _goproxy.serve(tmp_path / "goproxy")
    monkeypatch.setenv("GOPROXY", served.goproxy)
    loaded = _pins(tag, served.sum)
    runner, lines = steps
    refs = build.build_services(loaded, ["hello"], runner, tmp_path / "cache")
    assert refs == {"hello": naming.image_ref("hello", tag)}
    assert any(line.startswith("lab: go build hello … ") and line.endswith(" s") for line in lines)
    labels = podman.image_labels(refs["hello"])
    assert labels[naming.LABEL_PIN] == f"{_goproxy.MODULE_PATH}@{_goproxy.VERSION} (v{tag})"
    done = podman.podman(["run", "--rm", "--network", "none", refs["hello"]], check=False, timeout_s=60)
    assert done.stdout == f"hello {tag}\n", done.stderr
    listing = podman.podman(["run", "--rm", "--network", "none", "--entrypoint", "ls", refs["hello"], "/res"])
    assert listing.stdout.split() == ["configuration.yaml"]
    lines.clear()
    build.build_services(loaded, ["hello"], runner, tmp_path / "cache")
    assert lines == ["lab: go build hello … cached", "lab: image hello … cached"]
