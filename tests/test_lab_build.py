"""The build orchestration with podman, debootstrap and go replaced by recorders (no processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import build, gobuild, gomod, infra, naming, pins, podman
from lab.pins import PinError
from lab.stamps import StampStore, Steps

PINS = """
[edgex]
version = "4.0.2"
[infra]
suite = "bookworm"
tag = "bookworm"
packages = ["procps"]
[modules.sdk]
path = "github.com/edgexfoundry/device-sdk-go/v4"
version = "v4.0.2"
release = "4.0.2"
tag = "v4.0.2"
commit = "e44f67007d9ee13d810343e59e2c439c3124a3fd"
[modules.virtual]
path = "github.com/edgexfoundry/device-virtual-go"
version = ""
release = "4.0.2"
tag = "v4.0.2"
blocked = "proxy refused it"
[services.device-simple]
module = "sdk"
package = "github.com/edgexfoundry/device-sdk-go/v4/example/cmd/device-simple"
res = "example/cmd/device-simple/res"
tags = ["no_openziti"]
version_vars = ["github.com/edgexfoundry/device-sdk-go/v4.Version"]
[services.device-virtual]
module = "virtual"
package = "github.com/edgexfoundry/device-virtual-go/cmd"
res = "cmd/res"
version_vars = ["github.com/edgexfoundry/device-virtual-go.Version"]
"""


class FakePodman:
    """Local image storage as a dict of reference → labels."""

    def __init__(self) -> None:
        self.images: dict[str, dict[str, str]] = {}
        self.imports: list[str] = []

    def labels(self, ref: str) -> dict[str, str]:
        return self.images.get(ref, {})

    def import_tarball(self, tarball: Path, ref: str, *, changes: object, labels: dict[str, str]) -> None:
        assert tarball.is_file()
        self.images[ref] = dict(labels)
        self.imports.append(ref)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakePodman:
    fake = FakePodman()
    monkeypatch.setattr(podman, "image_labels", fake.labels)
    monkeypatch.setattr(podman, "import_tarball", fake.import_tarball)
    return fake


@pytest.fixture
def steps(tmp_path: Path) -> tuple[Steps, list[str]]:
    lines: list[str] = []
    return Steps(StampStore(tmp_path / "stamps"), report=lines.append), lines


def test_infra_builds_once_and_then_reuses_the_image(
    fake: FakePodman, steps: tuple[Steps, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarballs: list[Path] = []

    def fake_tarball(settings: pins.Infra, work: Path, tarball: Path) -> None:
        tarball.write_bytes(b"tar")
        tarballs.append(tarball)

    monkeypatch.setattr(infra, "build_tarball", fake_tarball)
    loaded = pins.parse(PINS)
    runner, lines = steps
    ref = build.build_infra(loaded, runner, tmp_path / "cache")
    assert ref == "localhost/edgex-smoke-lab/infra:bookworm"
    assert fake.images[ref][naming.LABEL_LAB] == "true"
    assert len(tarballs) == 1
    lines.clear()
    tarballs[0].unlink()  # the tarball may go: the image made from it is current
    assert build.build_infra(loaded, runner, tmp_path / "cache") == ref
    assert lines == ["lab: infra rootfs … cached", "lab: infra image … cached"]
    assert len(tarballs) == 1 and fake.imports == [ref]


def test_infra_image_lost_is_reimported_from_the_kept_tarball(
    fake: FakePodman, steps: tuple[Steps, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def fake_tarball(settings: pins.Infra, work: Path, tarball: Path) -> None:
        calls.append(tarball)
        tarball.write_bytes(b"x")

    monkeypatch.setattr(infra, "build_tarball", fake_tarball)
    loaded = pins.parse(PINS)
    runner, _ = steps
    ref = build.build_infra(loaded, runner, tmp_path / "cache")
    del fake.images[ref]
    build.build_infra(loaded, runner, tmp_path / "cache")
    assert len(calls) == 1 and fake.imports == [ref, ref]


def test_services_build_then_skip_everything_when_current(
    fake: FakePodman, steps: tuple[Steps, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gomod_dir = tmp_path / "gomod"
    gomod_dir.mkdir()
    loaded = pins.parse(PINS)
    (gomod_dir / "go.mod").write_text(gomod.render_go_mod(loaded))
    (gomod_dir / "go.sum").write_text("")
    res = tmp_path / "modcache" / "example/cmd/device-simple/res"
    res.mkdir(parents=True)
    (res / "configuration.yaml").write_text("Service: {}\n")
    built: list[str] = []
    monkeypatch.setattr(gobuild, "go_version", lambda: "go1.26.8")
    monkeypatch.setattr(gobuild, "download", lambda d: built.append("download"))
    monkeypatch.setattr(gobuild, "module_dir", lambda d, m: tmp_path / "modcache")

    def fake_build(d: Path, service: pins.Service, version: str, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(b"\x7fELF")
        built.append(f"{service.name}@{version}")

    monkeypatch.setattr(gobuild, "build", fake_build)
    runner, lines = steps
    refs = build.build_services(loaded, ["device-simple"], runner, tmp_path / "cache", gomod_dir=gomod_dir)
    assert refs == {"device-simple": "localhost/edgex-smoke-lab/device-simple:4.0.2"}
    assert built == ["download", "device-simple@4.0.2"]
    assert "github.com/edgexfoundry/device-sdk-go/v4@v4.0.2" in fake.images[refs["device-simple"]][naming.LABEL_PIN]
    lines.clear()
    build.build_services(loaded, ["device-simple"], runner, tmp_path / "cache", gomod_dir=gomod_dir)
    assert built == ["download", "device-simple@4.0.2"]
    assert lines == ["lab: go build device-simple … cached", "lab: image device-simple … cached"]


def test_a_blocked_service_fails_naming_its_module(
    fake: FakePodman, steps: tuple[Steps, list[str]], tmp_path: Path
) -> None:
    with pytest.raises(PinError, match=r"device-virtual-go 4\.0\.2 has no usable pin: proxy refused it"):
        build.build_services(pins.parse(PINS), ["device-virtual"], steps[0], tmp_path, gomod_dir=tmp_path)
