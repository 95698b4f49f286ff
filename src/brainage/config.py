"""Typed configuration: dataclasses saved as YAML next to every output they produced."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from brainage.errors import InputError
from brainage.files import write_text

T = TypeVar("T")


#: Field metadata of a setting added after results were fingerprinted: at its default it is left
#: out of fingerprints, so adding it does not make every finished fold look changed.
ADDED_LATER = {"added_later": True}


def _at_added_default(config: Any, f: dataclasses.Field) -> bool:
    if not f.metadata.get("added_later"):
        return False
    if "legacy" in f.metadata:  # a default resolved later (from the model registry): the value before it existed
        default = f.metadata["legacy"]
    else:
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return getattr(config, f.name) == default


def added_later(legacy: Any) -> dict:
    """Field metadata of a setting added later whose default is resolved at construction (e.g. from
    the model registry): ``legacy`` is the value every config had before it existed, left out of
    fingerprints like :data:`ADDED_LATER` defaults are."""
    return {**ADDED_LATER, "legacy": legacy}


def _dataclass_of(kind: Any) -> Any:
    """The dataclass of an annotation, also when it is optional (``AugmentConfig | None``)."""
    if dataclasses.is_dataclass(kind):
        return kind
    options = [a for a in typing.get_args(kind) if a is not type(None)]
    return options[0] if len(options) == 1 and dataclasses.is_dataclass(options[0]) else None


def to_dict(config: Any, for_fingerprint: bool = False) -> dict[str, Any]:
    """Plain-dict view of a (possibly nested) config dataclass, paths as strings.

    ``for_fingerprint`` leaves out settings marked :data:`ADDED_LATER` that are at their default.
    """

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {
                f.name: plain(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if not (for_fingerprint and _at_added_default(value, f))
            }
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


def save_config(config: Any, path: str | Path) -> Path:
    """Write ``config`` as YAML (atomically, so a crash never leaves half a file)."""
    return write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def from_dict(cls: type[T], data: dict, source: str | Path | None = None, saved: bool = False) -> T:
    """Rebuild a (nested) config dataclass from :func:`to_dict` output; unknown keys are an error.
    ``saved``: ``data`` was written whole by :func:`save_config`, so a setting :func:`added_later` that
    it lacks predates the file and takes its legacy value, not today's default (a model trained
    before the setting existed was trained without it).

    Example:
        >>> from brainage.training.config import TrainConfig
        >>> config = from_dict(TrainConfig, {"model": {"name": "seresnet", "tasks": ["age"]}, "max_epochs": 5})
        >>> config.model.tasks, config.max_epochs, config.optim.lr
        (('age',), 5, 0.001)
    """
    if not isinstance(data, dict):
        raise InputError(source, f"expected a mapping of settings for {cls.__name__}, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        raise InputError(source, f"unknown config keys {sorted(unknown)} for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        kind = hints.get(name)
        if _dataclass_of(kind) is not None and isinstance(value, dict):
            value = from_dict(_dataclass_of(kind), value, source, saved)
        elif isinstance(value, list) and (kind is tuple or typing.get_origin(kind) is tuple):
            value = tuple(value)
        values[name] = value
    if saved:
        missing = (f for name, f in fields.items() if name not in data and "legacy" in f.metadata)
        values.update({f.name: f.metadata["legacy"] for f in missing})
    return cls(**values)


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a YAML file written by :func:`save_config` back into ``cls``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(path, f"not a readable YAML config ({str(exc).splitlines()[0]})") from None
    return from_dict(cls, data, path, saved=True)


def fingerprint(*parts: Any) -> str:
    """Stable short hash of JSON-able parts (configs, file stats), used to decide what to redo."""
    blob = json.dumps([to_dict(p, for_fingerprint=True) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
