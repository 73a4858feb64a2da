"""Settings declared once.

A settings dataclass declares each field with `setting(default, meaning, rule...)`. From that one
declaration come the check at construction (an error naming the field, the value and what is
allowed), building from plain YAML data (unknown keys refused, `1` accepted where a float is meant)
and the JSON schema the workflow validates `config.yaml` against and fills its defaults from. No
default, range or choice is written anywhere else.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from icmeta.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """What a field allows beyond its type. Bounds are inclusive except `above` (strictly greater)."""

    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    above: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    min_items: int | None = None
    unique: bool = False


def setting(default: Any = MISSING, doc: str = "", **rule: Any) -> Any:
    """A dataclass field with its default, its one-line meaning and its `Rule`. A list default is
    held as a tuple (frozen settings), and a nested settings class as its default instance."""
    meta = {"rule": Rule(doc=doc, **rule)}
    if isinstance(default, list):
        return field(default=tuple(default), metadata=meta)
    if isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


def fail(name: str, value: Any, allowed: str) -> typing.NoReturn:
    raise ConfigError(f"config field '{name}' = {value!r} is invalid: {allowed}")


class Settings:
    """Base of a settings dataclass: every field's rule is checked when an instance is made.

    `section` is the dotted config key the class sits under, so that errors name the key a user
    writes. A subclass with rules across fields extends `__post_init__` and calls this one first.
    """

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in fields(self):  # type: ignore[arg-type]
            check_value(_dotted(self.section, f.name), getattr(self, f.name), hints[f.name], _rule(f))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, section: str | None = None) -> Any:
        """Build from plain data: unknown keys are refused, nested settings built, lists held as
        tuples and YAML integers accepted where a float is meant (`eps: 1`), nothing looser."""
        where = cls.section if section is None else section
        values = {} if data is None else data
        if not isinstance(values, Mapping):
            fail(where, values, "must be a mapping of field names to values")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        for key in values:
            if key not in known:
                fail(_dotted(where, key), values[key], f"unknown key; known: {', '.join(sorted(known))}")
        missing = [f.name for f in known.values() if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in missing if name not in values]
        if missing:
            fail(where, dict(values), f"needs the keys {', '.join(missing)}")
        hints = _hints(cls)
        out = {}
        for key, value in values.items():
            kind = _strip_none(hints[key])
            if _is_settings(kind) and kind is hints[key]:  # an optional one: its owner builds it
                value = kind.from_dict(value, _dotted(where, key))
            elif kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif typing.get_origin(kind) is tuple and isinstance(value, list):
                value = tuple(value)
            out[key] = value
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]


def check_value(name: str, value: Any, kind: Any, rule: Rule) -> None:
    """Check one value against its declared type and rule; `None` passes where the type allows it."""
    if value is None and _strip_none(kind) is not kind:
        return
    kind = _strip_none(kind)
    if _is_settings(kind):
        if not isinstance(value, kind):
            fail(name, value, f"must be a mapping with the keys {', '.join(f.name for f in fields(kind))}")
    elif rule.choices is not None:
        if value not in rule.choices:
            fail(name, value, f"must be one of {', '.join(rule.choices)}")
    elif kind is bool:
        if not isinstance(value, bool):
            fail(name, value, "must be true or false")
    elif kind is int:
        _check_int(name, value, rule)
    elif kind is float:
        _check_float(name, value, rule)
    elif kind is str:
        if not isinstance(value, str):
            fail(name, value, "must be a string")
        if rule.pattern is not None and not re.search(rule.pattern, value):
            fail(name, value, f"must match {rule.pattern}")
    elif typing.get_origin(kind) is tuple:
        _check_items(name, value, typing.get_args(kind)[0], rule)


def _check_int(name: str, value: Any, rule: Rule) -> None:
    lo = rule.lo if rule.lo is not None else -math.inf
    if isinstance(value, bool) or not isinstance(value, int):
        fail(name, value, f"must be an integer >= {rule.lo}" if rule.lo is not None else "must be an integer")
    if value < lo or (rule.hi is not None and value > rule.hi):
        fail(name, value, f"must be an integer in [{rule.lo}, {rule.hi if rule.hi is not None else 'inf'})")


def _check_float(name: str, value: Any, rule: Rule) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(name, value, "must be a number")
    # NaN passes every comparison below, and YAML's .nan/.inf are numbers: both would train on NaN
    # (an infinite Zipf exponent gives 0 * inf weights) or silently as another value (p_B = nan as 0).
    if not math.isfinite(value):
        fail(name, value, "must be a finite number")
    if rule.above is not None and value <= rule.above:
        if rule.hi is None:
            fail(name, value, f"must be > {rule.above:g}")
        fail(name, value, f"must be in ({rule.above:g}, {rule.hi:g}]")
    lo = rule.lo if rule.lo is not None else -math.inf
    if value < lo or (rule.hi is not None and value > rule.hi):
        fail(name, value, f"must be a number in [{rule.lo}, {rule.hi if rule.hi is not None else 'inf'}]")


def _check_items(name: str, value: Any, item: Any, rule: Rule) -> None:
    if not isinstance(value, list | tuple):
        fail(name, value, "must be a list")
    if rule.min_items is not None and len(value) < rule.min_items:
        fail(name, value, f"must list at least {rule.min_items}")
    if rule.unique and len(set(value)) != len(value):
        fail(name, value, "must not repeat a value")
    for i, v in enumerate(value):
        check_value(f"{name}[{i}]", v, item, Rule(lo=rule.lo))
        if item is str and not v:
            fail(f"{name}[{i}]", v, "must not be empty")


def json_schema(cls: type) -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of a settings class: types, ranges, choices, meanings and the
    defaults the workflow fills in; a field without a default is required."""
    hints = _hints(cls)
    properties = {}
    for f in fields(cls):
        node = _field_schema(hints[f.name], _rule(f))
        if f.default is not MISSING:
            node["default"] = _plain(f.default)
        elif f.default_factory is not MISSING:
            node["default"] = {}  # a nested section: the workflow fills its fields' defaults
        properties[f.name] = node
    out: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    if required:
        out["required"] = required
    if cls.__doc__:
        out["description"] = cls.__doc__.split("\n\n")[0].strip()
    return out


def defaults(cls: type) -> dict[str, Any]:
    """Every field's default as plain data, nested sections included."""
    return _plain(dataclasses.asdict(cls()))


def _field_schema(kind: Any, rule: Rule) -> dict[str, Any]:
    nullable = _strip_none(kind) is not kind
    kind = _strip_none(kind)
    if _is_settings(kind):
        node = json_schema(kind)
        node.pop("description", None)
        if nullable:  # a validator filling defaults would write into a null; the class fills its own
            for inner in node["properties"].values():
                inner.pop("default", None)
    elif rule.choices is not None:
        node = {"enum": list(rule.choices)}
    elif typing.get_origin(kind) is tuple:
        item = _field_schema(typing.get_args(kind)[0], Rule(lo=rule.lo))
        if item.get("type") == "string":
            item["minLength"] = 1
        node = {"type": "array", "items": item}
        if rule.min_items is not None:
            node["minItems"] = rule.min_items
        if rule.unique:
            node["uniqueItems"] = True
    else:
        node = {"type": _JSON_TYPES[kind]}
        for key, value in (("minimum", rule.lo), ("maximum", rule.hi), ("exclusiveMinimum", rule.above)):
            if value is not None:
                node[key] = value
        if rule.pattern is not None:
            node["pattern"] = rule.pattern
    if nullable:
        node["type"] = [node["type"], "null"] if "type" in node else ["null"]
        if "enum" in node:
            node["enum"].append(None)
    if rule.doc:
        node["description"] = rule.doc
    return node


_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _rule(f: dataclasses.Field) -> Rule:
    return f.metadata.get("rule", Rule())


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_none(kind: Any) -> Any:
    """`X | None` -> X; any other type as it is."""
    args = typing.get_args(kind)
    if type(None) in args and len(args) == 2:
        return next(a for a in args if a is not type(None))
    return kind


def _is_settings(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, Settings)


def _dotted(section: str, name: str) -> str:
    return f"{section}.{name}" if section else name


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
