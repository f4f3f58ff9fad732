"""d. core-metadata lists the device-virtual devices; g. a command round trip through core-command."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from edgex_client import GatewayClient
from harness.errors import GatewayError
from suites._expect import fail, require

VIRTUAL_DEVICES = {
    "Random-Boolean-Device",
    "Random-Integer-Device",
    "Random-UnsignedInteger-Device",
    "Random-Float-Device",
}
INTEGER_DEVICE = "Random-Integer-Device"


@pytest.mark.check("d", "metadata-devices")
def test_core_metadata_lists_the_virtual_devices(gateway: GatewayClient) -> None:
    names = set(gateway.device_names("device-virtual"))
    missing = sorted(VIRTUAL_DEVICES - names)
    require(not missing, f"core-metadata: device-virtual devices missing: {', '.join(missing)} (has {sorted(names)})")


@pytest.fixture
def _restore_int8_randomization(gateway: GatewayClient) -> Iterator[None]:
    yield
    gateway.command_put(INTEGER_DEVICE, "WriteInt8Value", {"Int8": "0", "EnableRandomization_Int8": "true"})


def fresh_int8(before: str) -> str:
    """A random Int8 that differs from `before`, so an ignored PUT can never read back as written."""
    return str(secrets.choice([v for v in range(-128, 128) if str(v) != before]))


@pytest.mark.check("g", "command-round-trip")
@pytest.mark.usefixtures("_restore_int8_randomization")
def test_command_put_int8_then_get_returns_it(gateway: GatewayClient) -> None:
    try:
        before = gateway.command_value(INTEGER_DEVICE, "Int8")
        value = fresh_int8(before)
        gateway.command_put(INTEGER_DEVICE, "WriteInt8Value", {"Int8": value, "EnableRandomization_Int8": "false"})
        # Two reads: with the PUT ignored and randomization still on, both match only once in 65,536 runs.
        reads = [gateway.command_value(INTEGER_DEVICE, "Int8") for _ in range(2)]
    except GatewayError as err:
        fail(f"core-command → device-virtual: a command on {INTEGER_DEVICE} failed ({err})")
    require(
        reads == [value, value],
        f"core-command: GET {INTEGER_DEVICE}/Int8 returned {' then '.join(map(repr, reads))} after PUT Int8={value} "
        f"(it read {before!r} before)",
    )
