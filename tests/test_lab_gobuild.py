"""Each EdgeX module is built as its own main module: the real Go toolchain and a real file-based proxy."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from harness.errors import InfraError
from lab import gobuild, pins, toolchain
from lab.pins import PinError
from tests import _goproxy

DEVICE_GO_MOD = """module github.com/edgexfoundry/device-rest-go

go 1.23.0

require (
\tgithub.com/edgexfoundry/device-sdk-go/v4 v4.0.1
\tgithub.com/labstack/echo/v4 v4.13.3
)

require github.com/edgexfoundry/go-mod-bootstrap/v4 v4.0.4 // indirect
"""

DEVICE_PINS = f"""
[infra]
suite = "bookworm"
tag = "bookworm"
packages = ["procps"]
[modules.device-rest-go]
path = "github.com/edgexfoundry/device-rest-go"
version = "v0.0.0-20251127093306-ca487622c292"
release = "4.0.1"
tag = "v4.0.1"
commit = "ca487622c2925da3c9cd401a273299193bdf8284"
sum = "{"h1:" + "A" * 43 + "="}"
[services.device-rest]
module = "device-rest-go"
package = "github.com/edgexfoundry/device-rest-go/cmd"
res = "cmd/res"
tags = ["no_openziti"]
version_vars = ["github.com/edgexfoundry/device-rest-go.Version"]
sdk_version_var = "github.com/edgexfoundry/device-sdk-go/v4/internal/common.SDKVersion"
sdk_module = "github.com/edgexfoundry/device-sdk-go/v4"
"""


@pytest.fixture
def proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _goproxy.Served:
    served = _goproxy.serve(tmp_path / "goproxy")
    monkeypatch.setenv("GOPROXY", served.goproxy)
    return served


def test_requirements_reads_single_lines_blocks_and_comments() -> None:
    assert gobuild.requirements(DEVICE_GO_MOD) == {
        "github.com/edgexfoundry/device-sdk-go/v4": "v4.0.1",
        "github.com/labstack/echo/v4": "v4.13.3",
        "github.com/edgexfoundry/go-mod-bootstrap/v4": "v4.0.4",
    }


def test_device_service_reports_its_release_and_the_sdk_its_go_mod_requires() -> None:
    service = pins.parse(DEVICE_PINS).services["device-rest"]
    argv = gobuild.build_argv(service, DEVICE_GO_MOD, Path("/out/device-rest"))
    assert argv[:4] == [toolchain.go(), "build", "-trimpath", "-buildvcs=false"]
    assert "-tags=no_openziti" in argv
    assert (
        "-ldflags=-s -w -X github.com/edgexfoundry/device-rest-go.Version=4.0.1 "
        "-X github.com/edgexfoundry/device-sdk-go/v4/internal/common.SDKVersion=v4.0.1"
    ) in argv
    assert argv[-3:] == ["-o", "/out/device-rest", "github.com/edgexfoundry/device-rest-go/cmd"]


def test_an_sdk_the_go_mod_does_not_require_is_a_pin_error() -> None:
    service = pins.parse(DEVICE_PINS).services["device-rest"]
    with pytest.raises(PinError, match=r"requires no github\.com/edgexfoundry/device-sdk-go/v4"):
        gobuild.ldflags(service, "module github.com/edgexfoundry/device-rest-go\n")


def test_build_list_equal_to_the_release_go_mod_passes() -> None:
    gobuild.check_build_list(
        "device-rest",
        {"github.com/edgexfoundry/device-sdk-go/v4": "v4.0.1", "github.com/labstack/echo/v4": "v4.13.3"},
        DEVICE_GO_MOD,
    )


def test_a_dependency_lifted_above_the_release_go_mod_fails_naming_it() -> None:
    # What one wrapper module for all services did: echo lifted from v4.13.3 to v4.15.2.
    linked = {"github.com/edgexfoundry/device-sdk-go/v4": "v4.0.2", "github.com/labstack/echo/v4": "v4.15.2"}
    with pytest.raises(InfraError, match=r"device-rest: links github\.com/edgexfoundry/device-sdk-go/v4 v4\.0\.2 "):
        gobuild.check_build_list("device-rest", linked, DEVICE_GO_MOD)


def test_a_module_the_go_mod_does_not_require_fails() -> None:
    with pytest.raises(InfraError, match=r"links example\.invalid/extra v1\.0\.0 but .* requires nothing"):
        gobuild.check_build_list("x", {"example.invalid/extra": "v1.0.0"}, DEVICE_GO_MOD)


def test_download_build_and_run_a_module_from_a_file_proxy(proxy: _goproxy.Served, tmp_path: Path) -> None:
    loaded = pins.parse(_goproxy.pins_text(proxy.sum))
    module, service = loaded.modules["hello"], loaded.services["hello"]
    source = gobuild.download(module, tmp_path / "scratch")
    assert source.go_mod == _goproxy.GO_MOD
    tree = gobuild.prepare_tree(source, tmp_path / "src" / "hello")
    (tree / "cmd" / "hello" / "scratch.txt").write_text("the copy is writable")
    binary = tmp_path / "bin" / "hello"
    gobuild.build(tree, source, service, binary)
    assert subprocess.run([binary], capture_output=True, text=True, check=True).stdout == "hello 9.9.9\n"
    assert gobuild.build_list(binary) == {}  # a module with no dependencies links none
    assert not binary.with_name("hello.partial").exists()


def test_content_that_differs_from_the_pinned_sum_is_refused(proxy: _goproxy.Served, tmp_path: Path) -> None:
    wrong = "h1:" + "B" * 43 + "="
    module = pins.parse(_goproxy.pins_text(wrong)).modules["hello"]
    with pytest.raises(PinError, match=r"served content with sum 'h1:.*', but lab/pins\.toml pins 'h1:BBB"):
        gobuild.download(module, tmp_path / "scratch")


def test_a_proxy_without_the_module_names_goproxy_as_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("GOPROXY", f"file://{tmp_path / 'empty'}")
    module = pins.parse(_goproxy.pins_text("h1:" + "C" * 43 + "=")).modules["hello"]
    module = dataclasses.replace(module, version="v0.0.0-20261201000001-0123456789ab")
    with pytest.raises(InfraError, match=r"go mod download example\.invalid/edgex-smoke-hello@.*; set GOPROXY"):
        gobuild.download(module, tmp_path / "scratch")
