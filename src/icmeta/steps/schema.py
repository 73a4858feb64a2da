"""The JSON schema the workflow validates config.yaml against, made from the settings classes.

Every setting's type, range, choices, meaning and default is declared once, in its settings class
(`icmeta.settings.spec`); this module adds only what exists nowhere else: the shape of the grid
(seeds, clamps, experiment blocks) and the figure names a block may list. Snakemake's `validate`
reads the schema from a file and fills the defaults into `config`, so `write_schema` puts it where
it can.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from icmeta import figures
from icmeta.analysis.phases import AnalysisSettings
from icmeta.errors import ConfigError
from icmeta.probe.settings import ProbeSettings
from icmeta.settings.config import SECTIONS
from icmeta.settings.execution import ExecutionSettings
from icmeta.settings.experiments import DEFAULT_SEEDS
from icmeta.settings.spec import json_schema

_NAME = {"pattern": "^[A-Za-z][A-Za-z0-9_-]*$"}


def _section(cls: type) -> dict[str, Any]:
    return {**json_schema(cls), "default": {}}


def workflow_schema() -> dict[str, Any]:
    run_sections = {name: _section(cls) for name, cls in SECTIONS.items()}
    block = {
        "type": "object",
        "additionalProperties": False,
        "required": ["axes"],
        "properties": {
            "description": {"type": "string"},
            "active": {"type": "boolean", "default": True},
            "axes": {
                "description": "run-config field (bare or dotted) -> list of values; the grid is the product",
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": ["number", "string", "boolean"]},
                },
            },
            "figures": {
                "description": "figures beyond those every block gets (docs/figures.md)",
                "type": "array",
                "uniqueItems": True,
                "items": {"enum": list(figures.NAMES)},
            },
            "tie": {
                "description": "run-config field -> name of an axis whose value it takes in every cell",
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "set": {
                "description": "run-config field -> value, overriding defaults for this block",
                "type": "object",
                "additionalProperties": {"type": ["number", "string", "boolean", "object"]},
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "icmeta workflow configuration; cross-field rules are checked per grid cell",
        "type": "object",
        "additionalProperties": False,
        "required": ["experiments"],
        "properties": {
            "seeds": {
                "description": "seeds trained (as one ensemble) in every grid cell",
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": 1,
                "uniqueItems": True,
                "default": list(DEFAULT_SEEDS),
            },
            "defaults": {
                "description": "run-config fields every block starts from",
                "type": "object",
                "additionalProperties": False,
                "default": {},
                "properties": run_sections,
            },
            "execution": _section(ExecutionSettings),
            "analysis": _section(AnalysisSettings),
            "probe": _section(ProbeSettings),
            "clamps": {
                "description": "named lists of train-time interventions, values of a block's `clamp` axis",
                "type": "object",
                "default": {},
                "propertyNames": _NAME,
                "additionalProperties": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            },
            "only": {
                "description": "run just these experiment blocks, whatever their `active`",
                "type": "array",
                "items": {"type": "string"},
                "uniqueItems": True,
            },
            "experiments": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": _NAME,
                "additionalProperties": block,
            },
        },
    }


def check(config: dict[str, Any]) -> None:
    """The config against the schema, refused in one line that names the key (Snakemake's own
    validation prints the whole schema and config after its message)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(workflow_schema()).iter_errors(config)
    )
    if error is not None:
        where = ".".join(map(str, error.absolute_path)) or "the top level"
        raise ConfigError(f"{where}: {error.message}")


def write_schema(directory: str | Path) -> Path:
    """The schema as a file in `directory`, for Snakemake's `validate` (which reads only files)."""
    path = Path(directory) / "config.schema.json"
    path.write_text(json.dumps(workflow_schema(), indent=1))
    return path


def settings_yaml() -> str:
    """Every setting with its default and meaning, as YAML a config file can copy from."""
    lines: list[str] = []
    _describe(workflow_schema()["properties"], 0, lines)
    return "\n".join(lines) + "\n"


def _describe(properties: dict[str, Any], depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    for name, node in properties.items():
        note = f"  # {node['description']}" if "description" in node else ""
        if "properties" in node and node.get("default") == {}:
            lines.append(f"{pad}{name}:{note}")
            _describe(node["properties"], depth + 1, lines)
        elif "default" in node:
            lines.append(f"{pad}{name}: {json.dumps(node['default'])}{note}")
