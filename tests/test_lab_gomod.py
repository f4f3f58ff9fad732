from __future__ import annotations

import re
from pathlib import Path

import pytest

from lab import gobuild, gomod, pins
from lab.paths import GOMOD_DIR
from lab.pins import PinError
from tests.test_lab_pins import GOOD


@pytest.fixture
def loaded() -> pins.Pins:
    return pins.parse(GOOD)


def test_go_mod_requires_each_pinned_module(loaded: pins.Pins) -> None:
    text = gomod.render_go_mod(loaded)
    assert text.startswith("module edgex-smoke.invalid/lab\n")
    assert gomod.requirements(text) == {"github.com/edgexfoundry/edgex-go": "v0.0.0-20260525061200-93517cc9be75"}


def test_tools_go_blank_imports_the_main_packages_behind_a_build_tag(loaded: pins.Pins) -> None:
    text = gomod.render_tools_go(loaded)
    assert text.startswith("//go:build tools\n")
    assert '\t_ "github.com/edgexfoundry/edgex-go/cmd/core-data"\n' in text


def test_requirements_reads_single_lines_blocks_and_comments() -> None:
    text = "module x\n\nrequire a.b/c v1.2.3\n\nrequire (\n\td.e/f v0.0.0-20260101000000-abcdefabcdef // indirect\n)\n"
    assert gomod.requirements(text) == {"a.b/c": "v1.2.3", "d.e/f": "v0.0.0-20260101000000-abcdefabcdef"}


def test_check_names_a_go_mod_out_of_step_with_the_pins(loaded: pins.Pins, tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(
        "module x\n\nrequire github.com/edgexfoundry/edgex-go v0.0.0-20250101000000-93517cc9be75\n"
    )
    (tmp_path / "go.sum").write_text("")
    with pytest.raises(PinError, match=re.escape("pins v0.0.0-20260525061200-93517cc9be75; run 'python -m lab gomod'")):
        gomod.check(loaded, tmp_path)


def test_check_wants_a_go_sum(loaded: pins.Pins, tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text(gomod.render_go_mod(loaded))
    with pytest.raises(PinError, match=r"go\.sum: missing"):
        gomod.check(loaded, tmp_path)
    (tmp_path / "go.sum").write_text("")
    gomod.check(loaded, tmp_path)


def test_committed_wrapper_matches_the_repository_pins() -> None:
    gomod.check(pins.load(), GOMOD_DIR)


def test_build_argv_is_static_trimmed_tagged_and_versioned(loaded: pins.Pins, tmp_path: Path) -> None:
    argv = gobuild.build_argv(loaded.services["core-data"], "4.0.2", tmp_path / "core-data")
    assert argv[:4] == ["go", "build", "-trimpath", "-buildvcs=false"]
    assert "-tags=no_openziti,non_delayedstart" in argv
    assert "-ldflags=-s -w -X github.com/edgexfoundry/edgex-go.Version=4.0.2" in argv
    assert argv[-3:] == ["-o", str(tmp_path / "core-data"), "github.com/edgexfoundry/edgex-go/cmd/core-data"]
