"""Reading values, ping timestamps and the generic bounded wait."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from edgex_client import Ping, parse_number, parse_timestamp, reading_value, same_number, wait_for
from harness.errors import EventTimeoutError, GatewayAuthError, GatewayError, ProductError, ReadinessTimeoutError

FLOAT_EVENT = {
    "deviceName": "MQTT-test-device",
    "readings": [
        {"resourceName": "randfloat32", "valueType": "Float32", "value": "5.67e+00"},
        {"resourceName": "image", "valueType": "Binary", "binaryValue": "AAEC", "mediaType": "image/png"},
    ],
}


@pytest.mark.parametrize(
    ("observed", "expected", "same"),
    [
        ("5.67e+00", 5.67, True),  # Float32 as EdgeX formats it (observed on a real EdgeX 4.0.2)
        ("5.67e+00", "5.67", True),
        ("5.670000076e+00", 5.67, True),  # float32 rounding of 5.67
        ("5.68e+00", 5.67, False),
        ("42", "42", True),
        ("1001", 1000, False),
        ("-1.5e+02", -150, True),
        ("0", 0.0, True),
        ("true", 1, False),
        ("NaN", "NaN", False),
    ],
)
def test_same_number_compares_edgex_values_numerically(observed: str, expected: str | float, same: bool) -> None:
    assert same_number(observed, expected) is same


def test_parse_number_rejects_non_numbers() -> None:
    assert parse_number("5.67e+00") == pytest.approx(5.67)
    assert parse_number("inf") is None
    assert parse_number("{}") is None


def test_reading_value_finds_the_reading_by_resource_name() -> None:
    assert reading_value(FLOAT_EVENT, "randfloat32") == "5.67e+00"


def test_reading_value_missing_reading_names_what_is_there() -> None:
    with pytest.raises(ProductError) as caught:
        reading_value(FLOAT_EVENT, "randfloat64")
    assert str(caught.value) == (
        "MQTT-test-device: event has no reading 'randfloat64'; readings present: ['randfloat32', 'image']; "
        "check the command or resource name in the device profile"
    )


def test_reading_value_binary_reading_has_no_string_value() -> None:
    with pytest.raises(ProductError, match=r"reading 'image' has no string value \(valueType Binary\)"):
        reading_value(FLOAT_EVENT, "image")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thu Nov 26 15:22:41 UTC 2026", datetime(2026, 11, 26, 15, 22, 41, tzinfo=UTC)),  # Go UnixDate, seen
        ("Thu, 26 Nov 2026 15:22:41 UTC", datetime(2026, 11, 26, 15, 22, 41, tzinfo=UTC)),  # RFC 1123, the spec
        ("Mon, 02 Jan 2006 15:04:05 MST", datetime(2006, 1, 2, 15, 4, 5, tzinfo=timezone(timedelta(hours=-7)))),
        ("2026-11-26T15:22:41Z", datetime(2026, 11, 26, 15, 22, 41, tzinfo=UTC)),
        ("Thu Nov  6 15:22:41 CET 2026", datetime(2026, 11, 6, 15, 22, 41)),  # unknown zone: naive
        ("yesterday", None),
    ],
)
def test_ping_timestamp_is_parsed_loosely(raw: str, expected: datetime | None) -> None:
    assert parse_timestamp(raw) == expected
    assert Ping(service_name="core-data", api_version="v3", timestamp=raw).time == expected


def test_wait_for_returns_the_first_truthy_result_and_retries_gateway_errors() -> None:
    answers: list[object] = [GatewayError("core-data: down"), None, 0, [], {"count": 3}]
    calls = 0

    def probe() -> object:
        nonlocal calls
        answer = answers[calls]
        calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_for(probe, timeout_s=10, what="count", interval_s=0.01) == {"count": 3}
    assert calls == 5


def test_wait_for_timeout_names_what_and_the_last_error() -> None:
    started = time.monotonic()

    def probe() -> None:
        raise GatewayError("core-data: GET /core-data/api/v3/ping answered 503")

    with pytest.raises(ReadinessTimeoutError) as caught:
        wait_for(probe, timeout_s=0.2, what="core-data ping", interval_s=0.05, error=ReadinessTimeoutError, fix="look")
    elapsed_s = time.monotonic() - started
    message = str(caught.value)
    assert message.startswith("core-data ping: not reached within 0.2 s (")
    assert message.endswith("attempts); last error: core-data: GET /core-data/api/v3/ping answered 503; look")
    assert isinstance(caught.value.__cause__, GatewayError)
    assert 0.2 <= elapsed_s < 3


def test_wait_for_timeout_reports_the_last_result() -> None:
    with pytest.raises(
        EventTimeoutError, match=r"events: not reached within 0.1 s \(\d+ attempts\); last result: \[\]"
    ):
        wait_for(list, timeout_s=0.1, what="events", interval_s=0.02)


def test_wait_for_timeout_leaves_out_a_false_result() -> None:
    with pytest.raises(EventTimeoutError) as caught:
        wait_for(lambda: False, timeout_s=0.1, what="an event of d", interval_s=0.02, fix="see the logs")
    assert re.fullmatch(r"an event of d: not reached within 0\.1 s \(\d+ attempts\); see the logs", str(caught.value))


def test_wait_for_does_not_retry_auth_or_unlisted_errors() -> None:
    calls = 0

    def refused() -> None:
        nonlocal calls
        calls += 1
        raise GatewayAuthError("gateway: 401")

    with pytest.raises(GatewayAuthError):
        wait_for(refused, timeout_s=30, what="ping", interval_s=0.01)
    assert calls == 1

    empty: dict[str, int] = {}
    with pytest.raises(KeyError):
        wait_for(lambda: empty["missing"], timeout_s=30, what="lookup", interval_s=0.01)
