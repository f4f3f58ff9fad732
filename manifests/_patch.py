"""A small deep merge for the image-source and distro patches.

A patch is a partial object written in the shape of the object it changes. The
rules, applied from the top down:

- mapping onto mapping: merged key by key; a key whose patch value is ``null``
  is removed;
- a non-empty list of mappings that all have a ``name`` onto a list of the same
  kind (``containers``, ``env``, ``volumes``, ``volumeMounts``, ``ports``):
  merged item by item on ``name``; items with a new name are appended in patch
  order; an item ``{name: x, $patch: delete}`` removes ``x``;
- anything else (scalars, other lists, ``[]``): the patch value replaces the
  old one.

So an overlay adds ``nodeSelector``, ``tolerations`` or ``hostNetwork`` by
writing them under ``spec``, and changes one container by naming it. This is a
subset of Kubernetes' strategic merge patch, enough for our own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ManifestError
from manifests import _files

DELETE_KEY = "$patch"
DELETE_VALUE = "delete"


def _is_named_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in value
    )


def _merge_named(base: list[Any], patch: list[Any], *, where: str, source: str) -> list[Any]:
    result: list[Any] = list(base)
    for item in patch:
        name = item["name"]
        index = next((i for i, old in enumerate(result) if old["name"] == name), None)
        directive = item.get(DELETE_KEY)
        if directive is not None and directive != DELETE_VALUE:
            raise ManifestError(
                f"{source}: {where}[name={name}].{DELETE_KEY} is {directive!r}; the only directive is {DELETE_VALUE!r}"
            )
        if directive == DELETE_VALUE:
            if index is None:
                raise ManifestError(f"{source}: {where} deletes {name!r}, which is not there; fix or drop the item")
            del result[index]
        elif index is None:
            result.append(merge({}, item, where=f"{where}[name={name}]", source=source))
        else:
            result[index] = merge(result[index], item, where=f"{where}[name={name}]", source=source)
    return result


def merge(base: Any, patch: Any, *, where: str = "", source: str = "patch") -> Any:
    """Return `base` with `patch` applied by the rules in the module docstring.

    Neither argument is changed; the result shares no objects with `patch`.

    Args:
        base: The object being changed (plain YAML data).
        patch: The partial object to apply.
        where: Dotted path of `base` inside the whole object, for messages.
        source: The patch file as messages name it.

    Raises:
        ManifestError: A ``$patch`` directive is unknown or deletes a missing item.
    """
    if isinstance(patch, dict):
        if not isinstance(base, dict):
            base = {}
        result = dict(base)
        for key, value in patch.items():
            if value is None:
                result.pop(key, None)
            else:
                result[key] = merge(result.get(key), value, where=f"{where}.{key}" if where else key, source=source)
        return result
    if patch and _is_named_list(patch) and _is_named_list(base):
        return _merge_named(base, patch, where=where, source=source)
    return _files.fresh(patch)


def apply_file(base: dict[str, Any], path: Path, *, allowed: frozenset[str]) -> dict[str, Any]:
    """Apply the patch in `path` to `base`; its top-level keys must be among `allowed`."""
    patch = _files.load_mapping(path)
    source = _files.shown(path)
    unknown = sorted(set(patch) - allowed)
    if unknown:
        raise ManifestError(
            f"{source}: unknown top-level key {unknown[0]!r}; a patch may set only: {', '.join(sorted(allowed))}"
        )
    result: dict[str, Any] = merge(base, patch, source=source)
    return result
