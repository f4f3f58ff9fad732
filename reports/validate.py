"""Check that a decoded JSON value has the shape of `schema.RawReport`.

The checker walks the TypedDict annotations in `reports.schema`, so the schema
is written once. Unknown keys are allowed (a reader ignores them); missing keys,
wrong types and values outside a `Literal` are not. Every problem becomes a
`ReportError` whose one-line message names the source, the key path and the
bad value.
"""

from __future__ import annotations

import math
import types
import typing
from datetime import datetime
from typing import Any, Literal, cast, get_args, get_origin, get_type_hints, is_typeddict

from reports import schema
from reports.errors import ReportError

_MAX_SHOWN = 60
_TIMESTAMPS = ("started_at", "finished_at")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


_UNIONS = (types.UnionType, typing.Union)
_SCALARS: dict[object, str] = {
    type(None): "null",
    bool: "true or false",
    int: "an integer",
    float: "a finite number",
    str: "a string",
}


def _describe(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(annotation))
    if origin in _UNIONS:
        return " or ".join(_describe(a) for a in get_args(annotation))
    return "a list" if origin is list else "an object"


def _matches_scalar(value: object, annotation: Any) -> bool:
    if annotation not in _SCALARS:
        raise TypeError(f"reports.validate cannot check {annotation!r}")  # schema.py grew a type this must learn
    if isinstance(value, bool):  # bool is an int in Python but not in JSON
        return annotation is bool
    if annotation is float:
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, annotation)


def _conforms(value: object, annotation: Any, where: str) -> bool:
    """Return whether the outer type of `value` matches; raise `ReportError` for a problem further in."""
    origin = get_origin(annotation)
    if origin in _UNIONS:
        return any(_conforms(value, option, where) for option in get_args(annotation))
    if origin is Literal:
        return isinstance(value, str) and value in get_args(annotation)
    if is_typeddict(annotation):
        container, check_inside = dict, _check_typeddict
    elif origin in (list, dict):
        container, check_inside = origin, _check_items
    else:
        return _matches_scalar(value, annotation)
    if not isinstance(value, container):
        return False
    check_inside(value, annotation, where)
    return True


def _check(value: object, annotation: Any, where: str) -> None:
    if not _conforms(value, annotation, where):
        raise ReportError(f"{where} is {_show(value)}; expected {_describe(annotation)}")


def _check_items(value: Any, annotation: Any, where: str) -> None:
    item = get_args(annotation)[-1]
    if isinstance(value, dict):
        for key, element in value.items():
            _check(element, item, f"{where}.{key}")
    else:
        for index, element in enumerate(value):
            _check(element, item, f"{where}[{index}]")


def _check_typeddict(value: Any, annotation: Any, where: str) -> None:
    hints = get_type_hints(annotation)
    prefix = f"{where}." if where else ""
    for key in sorted(annotation.__required_keys__, key=list(hints).index):
        if key not in value:
            raise ReportError(f"{prefix}{key} is missing")
        _check(value[key], hints[key], f"{prefix}{key}")
    for key in sorted(annotation.__optional_keys__ & set(value), key=list(hints).index):
        _check(value[key], hints[key], f"{prefix}{key}")


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp with a zone (``2026-11-26T15:38:24Z``), or raise `ReportError`."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise ReportError(f"{_show(text)} is not an ISO-8601 time with a zone, such as '2026-11-26T15:38:24Z'")
    return stamp


def _upgrade(data: dict[str, Any], version: object) -> None:
    """Read an older report as the current version.

    Before 3, a check's ``not-run`` was called ``skipped``, and images had no ``labels``. Checks had no
    ``ended_s`` before 2026-12-02 (an added field: the version stayed 3).
    """
    for check in data.get("checks") or []:
        if isinstance(check, dict):
            check.setdefault("ended_s", None)
    if isinstance(version, int) and version < 3:
        for check in data.get("checks") or []:
            if isinstance(check, dict) and check.get("outcome") == "skipped":
                check["outcome"] = "not-run"
        edgex = data.get("edgex")
        for image in (edgex.get("images") or []) if isinstance(edgex, dict) else []:
            if isinstance(image, dict):
                image.setdefault("labels", {})


def validate(data: object, *, source: str) -> schema.RawReport:
    """Return `data` typed as a report if it has the report's shape.

    Args:
        data: A decoded JSON value.
        source: What to name in errors, usually the file path.

    Raises:
        ReportError: One line: "<source>: <key path> is <value>; expected <what>".
    """
    try:
        if not isinstance(data, dict):
            raise ReportError(f"the top level is {type(data).__name__}, not an object")
        version = data.get("schema_version")
        if "schema_version" not in data:
            raise ReportError("schema_version is missing; this is not an edgex-smoke report")
        if isinstance(version, int) and not isinstance(version, bool) and version not in schema.READABLE_VERSIONS:
            fix = "re-run the smoke test to write a new one"
            if version > schema.SCHEMA_VERSION:
                fix = "upgrade edgex-smoke to read it"
            raise ReportError(
                f"schema_version is {version}, this edgex-smoke reads version {schema.SCHEMA_VERSION}; {fix}"
            )
        _upgrade(data, version)
        _check(data, schema.RawReport, "")
        for key in _TIMESTAMPS:
            try:
                parse_timestamp(data[key])
            except ReportError as err:
                raise ReportError(f"{key}: {err}") from None
    except ReportError as err:
        raise ReportError(f"{source}: {err}") from None
    return cast(schema.RawReport, data)
