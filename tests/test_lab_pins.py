from __future__ import annotations

import textwrap

import pytest

from lab import pins
from lab.pins import PinError, check_pseudo_version

SHA = "93517cc9be75f0d1e27fcce786eddade622644b5"

GOOD = textwrap.dedent(
    f"""
    [infra]
    suite = "bookworm"
    tag = "bookworm"
    packages = ["procps"]
    [modules.edgex-go]
    path = "github.com/edgexfoundry/edgex-go"
    version = "v0.0.0-20260525061200-93517cc9be75"
    release = "4.0.2"
    tag = "v4.0.2"
    commit = "{SHA}"
    sum = "h1:LJzg6zyhx3utL2/4nphLOghSj/KhtLz5oVmmCs7/exg="
    [services.core-data]
    module = "edgex-go"
    package = "github.com/edgexfoundry/edgex-go/cmd/core-data"
    res = "cmd/core-data/res"
    tags = ["no_openziti", "non_delayedstart"]
    version_vars = ["github.com/edgexfoundry/edgex-go.Version"]
    """
)


def test_pseudo_version_accepts_the_canonical_form() -> None:
    check_pseudo_version("v0.0.0-20260525061200-93517cc9be75", commit=SHA)


@pytest.mark.parametrize(
    "version",
    [
        "v4.0.2",
        "93517cc9be75",
        "v0.0.0-2026052506120-93517cc9be75",  # 13 digits
        "v0.0.0-20260525061200-93517cc9be7",  # 11 hex
        "v0.0.0-20260525061200-93517CC9BE75",  # upper case
        "v1.3.2-0.20260525061200-93517cc9be75",  # a base version the pins never use
    ],
)
def test_pseudo_version_rejects_other_forms(version: str) -> None:
    with pytest.raises(PinError, match="not a pseudo-version"):
        check_pseudo_version(version)


def test_pseudo_version_rejects_an_impossible_time() -> None:
    with pytest.raises(PinError, match="not a valid date"):
        check_pseudo_version("v0.0.0-20261325061200-93517cc9be75")


def test_pseudo_version_must_name_the_pinned_commit() -> None:
    with pytest.raises(PinError, match="names commit 0123456789ab"):
        check_pseudo_version("v0.0.0-20260525061200-0123456789ab", commit=SHA)


def test_parse_reads_modules_services_and_infra() -> None:
    loaded = pins.parse(GOOD)
    service = loaded.services["core-data"]
    assert service.module is loaded.modules["edgex-go"]
    assert service.tags == ("no_openziti", "non_delayedstart")
    assert loaded.infra.variant == "minbase"
    assert len(loaded.digest) == 64


def test_parse_rejects_a_service_of_an_unknown_module() -> None:
    with pytest.raises(PinError, match="module 'nope' is not one of"):
        pins.parse(GOOD.replace('module = "edgex-go"', 'module = "nope"'))


def test_parse_rejects_a_short_commit() -> None:
    with pytest.raises(PinError, match="not a 40-char sha"):
        pins.parse(GOOD.replace(SHA, SHA[:12]))


def test_parse_rejects_invalid_toml() -> None:
    with pytest.raises(PinError, match="not valid TOML"):
        pins.parse("[edgex\n")


def test_parse_accepts_a_tagged_semver_module() -> None:
    text = GOOD.replace("v0.0.0-20260525061200-93517cc9be75", "v4.0.2")
    assert pins.parse(text).modules["edgex-go"].version == "v4.0.2"


def test_parse_rejects_a_sum_that_is_not_an_h1_hash() -> None:
    with pytest.raises(PinError, match=r"sum 'sha256:00' is not an h1: hash; write the Sum that 'go mod download"):
        pins.parse(GOOD.replace('sum = "h1:LJzg6zyhx3utL2/4nphLOghSj/KhtLz5oVmmCs7/exg="', 'sum = "sha256:00"'))


def test_parse_rejects_a_module_without_a_sum() -> None:
    with pytest.raises(PinError, match=r"\[modules.edgex-go\] sum is missing"):
        pins.parse(GOOD.replace('sum = "h1:LJzg6zyhx3utL2/4nphLOghSj/KhtLz5oVmmCs7/exg="', ""))


def test_parse_rejects_a_tag_that_names_another_release() -> None:
    with pytest.raises(PinError, match=r"tag 'v4\.0\.1' does not name release '4\.0\.2'"):
        pins.parse(GOOD.replace('tag = "v4.0.2"', 'tag = "v4.0.1"'))


def test_parse_wants_sdk_version_var_and_sdk_module_together() -> None:
    text = GOOD.replace(
        'version_vars = ["github.com/edgexfoundry/edgex-go.Version"]', 'version_vars = []\nsdk_module = "x"'
    )
    with pytest.raises(PinError, match="sdk_version_var and sdk_module go together"):
        pins.parse(text)


def test_an_image_path_must_be_absolute_and_a_module_path_relative() -> None:
    extra = '\n[services.core-data.files]\n"/res-more/a.yaml" = "cmd/core-data/res/configuration.yaml"\n'
    assert pins.parse(GOOD + extra).services["core-data"].files == (
        ("/res-more/a.yaml", "cmd/core-data/res/configuration.yaml"),
    )
    with pytest.raises(PinError, match=r"'res-more/a.yaml' is not an absolute path inside the image"):
        pins.parse(GOOD + extra.replace('"/res-more', '"res-more'))
    with pytest.raises(PinError, match=r"is not a path inside the module"):
        pins.parse(GOOD + extra.replace('"cmd/core-data', '"../cmd/core-data'))
    with pytest.raises(PinError, match=r"binary_at '/a/../b' is not an absolute path inside the image"):
        pins.parse(GOOD.replace('module = "edgex-go"', 'module = "edgex-go"\nbinary_at = "/a/../b"', 1))


def test_repository_pins_are_consistent() -> None:
    loaded = pins.load()
    assert set(loaded.services) == {
        "core-data",
        "core-metadata",
        "core-command",
        "device-virtual",
        "device-rest",
        "device-mqtt",
        "security-secretstore-setup",
        "security-bootstrapper",
        "security-proxy-auth",
        "security-proxy-setup",
    }
    for service in loaded.services.values():
        assert service.package.startswith(service.module.path + "/")
        for _path, package in service.extra_binaries:
            assert package.startswith(service.module.path + "/")
        # edgex-go's Makefile builds its security binaries without a message bus, the others without OpenZiti.
        assert ("no_messagebus" if service.name.startswith("security-") else "no_openziti") in service.tags
        assert service.version_vars
        assert service.module.release.startswith("4.0.")
        assert (service.sdk_module != "") == service.name.startswith("device-")
    assert "postgresql-15" in loaded.infra.packages
