"""One bounded wait for any EdgeX condition that can be probed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from tenacity import RetryError, Retrying, retry_if_exception, retry_if_result, stop_after_delay, wait_fixed

from harness.errors import EventTimeoutError, GatewayAuthError, GatewayError, SmokeError

T = TypeVar("T")

RESULT_REPR_CHARS = 200


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 1.0,
    retry_on: tuple[type[Exception], ...] = (GatewayError,),
    error: type[SmokeError] = EventTimeoutError,
    fix: str | None = None,
) -> T:
    """Call `probe` until it returns something truthy, for at most `timeout_s` seconds.

    A probe that raises one of `retry_on` is tried again; `GatewayAuthError` never
    is, because a refused token does not heal by waiting.

    Args:
        probe: Returns a falsy value (None, False, 0, empty) while the condition does not hold yet.
        timeout_s: How long to keep trying.
        what: What is awaited, for the timeout message (``"core-data event count above 3"``).
        interval_s: Pause between attempts.
        retry_on: Exceptions that mean "not yet".
        error: The error to raise on timeout.
        fix: What to check when it times out; appended to the message.

    Returns:
        The first truthy value the probe returned.

    Raises:
        SmokeError: `error`, naming `what`, the timeout and the last result or error.
    """

    def retryable(exc: BaseException) -> bool:
        return isinstance(exc, retry_on) and not isinstance(exc, GatewayAuthError)

    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry=retry_if_exception(retryable) | retry_if_result(lambda result: not result),
    )
    try:
        # Falsy results, None included, are retried, so what comes back is a T.
        return cast(T, retrying(probe))
    except RetryError as exc:
        last = exc.last_attempt
        cause = last.exception()
        if cause is not None:
            detail = f"; last error: {cause}"
        else:
            result = last.result()
            detail = "" if isinstance(result, bool) else f"; last result: {_short_repr(result)}"  # False says nothing
        message = f"{what}: not reached within {timeout_s:g} s ({last.attempt_number} attempts){detail}"
        raise error(f"{message}; {fix}" if fix else message) from cause


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= RESULT_REPR_CHARS else text[:RESULT_REPR_CHARS] + "…"
