"""Settings declared once: the check at construction, the workflow's JSON schema and the defaults the
workflow fills in all come from the same field declarations, so they must agree on every field."""

from __future__ import annotations

import copy
import dataclasses
import tempfile
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
import yaml
from snakemake.utils import validate

from icmeta.analysis.phases import AnalysisSettings
from icmeta.errors import ConfigError
from icmeta.probe.settings import ProbeSettings
from icmeta.settings.config import SECTIONS, OptimConfig, RunConfig
from icmeta.settings.execution import ExecutionSettings
from icmeta.settings.spec import Settings, _strip_none, defaults, setting
from icmeta.steps.schema import settings_yaml, workflow_schema, write_schema

MINIMAL = {"experiments": {"grid": {"axes": {"T": [1, 2]}}}}
TOP = {"execution": ExecutionSettings, "analysis": AnalysisSettings, "probe": ProbeSettings}


@dataclass(frozen=True)
class _Inner(Settings):
    section = "outer.inner"
    width: float = setting(1.5, "a width", above=0.0)


@dataclass(frozen=True)
class _Outer(Settings):
    section = "outer"
    count: int = setting(3, "a count", lo=1, hi=9)
    mode: str = setting("a", "a mode", choices=("a", "b"))
    names: tuple[str, ...] = setting(["x"], "names", min_items=1)
    inner: _Inner = setting(_Inner, "nested")


def test_a_field_is_checked_against_its_declaration():
    assert _Outer.from_dict({"count": 9, "inner": {"width": 2}}).inner.width == 2.0  # YAML int as float
    for data, message in [
        ({"count": 0}, "'outer.count' = 0 is invalid: must be an integer in [1, 9)"),
        ({"count": True}, "'outer.count' = True is invalid: must be an integer >= 1"),
        ({"mode": "c"}, "'outer.mode' = 'c' is invalid: must be one of a, b"),
        ({"names": []}, "'outer.names' = () is invalid: must list at least 1"),
        ({"names": [""]}, "'outer.names[0]' = '' is invalid: must not be empty"),
        ({"inner": {"width": 0}}, "'outer.inner.width' = 0.0 is invalid: must be > 0"),
        ({"inner": {"depth": 1}}, "'outer.inner.depth' = 1 is invalid: unknown key; known: width"),
        ({"colour": 1}, "'outer.colour' = 1 is invalid: unknown key; known: count, inner, mode, names"),
    ]:
        with pytest.raises(ConfigError) as err:
            _Outer.from_dict(data)
        assert message in str(err.value)


def test_validating_a_config_fills_in_exactly_the_settings_defaults():
    """Snakemake's own `validate`, as the workflow calls it, against the generated schema."""
    config = copy.deepcopy(MINIMAL)
    validate(config, str(write_schema_to_tmp()))
    for name, cls in TOP.items():
        assert config[name] == defaults(cls), name
    for name, cls in SECTIONS.items():
        filled = config["defaults"][name]
        assert cls.from_dict(filled) == cls(), name
        assert filled == defaults(cls), name
    assert RunConfig.from_dict(config["defaults"]) == RunConfig()


def write_schema_to_tmp():
    return write_schema(tempfile.mkdtemp())


def test_settings_listing_is_the_filled_config():
    """`icmeta settings` shows each setting with the default the workflow would fill in."""
    config = copy.deepcopy(MINIMAL)
    validate(config, str(write_schema_to_tmp()))
    listed = yaml.safe_load(settings_yaml())
    config.pop("experiments")
    assert listed == config


def _violations(cls: type, prefix: str) -> Iterator[tuple[str, Any]]:
    """One value per field that its declaration forbids: below the lower bound, above the upper,
    outside the choices, of the wrong type."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path, kind, rule = f"{prefix}{f.name}", _strip_none(hints[f.name]), f.metadata["rule"]
        if isinstance(kind, type) and issubclass(kind, Settings):
            if f.default is dataclasses.MISSING:  # a nested section: its own fields
                yield from _violations(kind, f"{path}.")
            continue
        if rule.choices:
            yield path, "no-such-choice"
        if kind in (int, float):
            yield path, "many"
            for bound, step in ((rule.lo, -1), (rule.above, 0), (rule.hi, +1)):
                if bound is not None:
                    yield path, bound + step if kind is int else bound + step * 0.5
        if kind is bool:
            yield path, "yes"
        if rule.pattern:
            yield path, "!"


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = value
    for key in reversed(path.split(".")):
        out = {key: out}
    return out


CASES = [
    *((section, path, value) for section, cls in TOP.items() for path, value in _violations(cls, "")),
    *(("defaults." + s, path, value) for s, cls in SECTIONS.items() for path, value in _violations(cls, "")),
]


@pytest.mark.parametrize(("section", "path", "value"), CASES)
def test_the_schema_and_the_settings_class_refuse_the_same_values(section, path, value):
    """Every forbidden value is refused twice over: by the schema before any job, and by the
    settings class (naming the field) when the library builds it."""
    config = {**copy.deepcopy(MINIMAL), **_nested(f"{section}.{path}", value)}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, workflow_schema())
    owner = {**TOP, **{f"defaults.{s}": c for s, c in SECTIONS.items()}}[section]
    with pytest.raises(ConfigError, match=f"'{section.removeprefix('defaults.')}.{path}"):
        owner.from_dict(_nested(path, value), section.removeprefix("defaults."))


def test_every_settings_field_says_what_it_means():
    undocumented = [
        f"{cls.__name__}.{f.name}"
        for cls in (*TOP.values(), *SECTIONS.values())
        for f in dataclasses.fields(cls)
        if not f.metadata["rule"].doc
    ]
    assert not undocumented


def test_a_convergence_stop_is_built_from_its_mapping():
    assert OptimConfig.from_dict({"stop": {"acc": 1, "hold": 10}}).stop.acc == 1.0


def test_a_config_the_schema_refuses_is_named_in_one_line():
    from icmeta.steps.schema import check

    check(copy.deepcopy(MINIMAL))
    for config, message in [
        (
            {**MINIMAL, "colour": 3},
            "the top level: Additional properties are not allowed ('colour' was unexpected)",
        ),
        ({**MINIMAL, "seeds": [0, 0]}, "seeds: [0, 0] has non-unique elements"),
        (
            {**MINIMAL, "analysis": {"plateaus": {"min_jump": 0}}},
            "analysis.plateaus.min_jump: 0 is less than or equal",
        ),
    ]:
        with pytest.raises(ConfigError) as err:
            check(config)
        assert str(err.value).startswith(message.split(":")[0]) and message in str(err.value)
        assert "\n" not in str(err.value)
