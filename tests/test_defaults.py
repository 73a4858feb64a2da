"""Defaults live in three places a reader may look: the library's dataclasses (the source for every run
field), the workflow schema's `default:` and config.yaml. These tests keep them saying the same."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from icmeta.config import SECTIONS
from icmeta.phases import PAPER_DT, PAPER_THRESHOLD, PlateauDetector
from snakemake_runs import REPO

SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


def _schema_defaults(node: dict[str, Any]) -> dict[str, Any]:
    """Leaf defaults of a schema object, nested like the config."""
    out = {}
    for key, sub in node.get("properties", {}).items():
        if "properties" in sub and isinstance(sub.get("default", {}), dict):
            out[key] = _schema_defaults(sub)  # a section: its fields' defaults
        elif "default" in sub:
            out[key] = sub["default"]
    return out


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


SCHEMA_DEFAULTS = _schema_defaults(SCHEMA)


@pytest.mark.parametrize("section", list(SECTIONS))
def test_schema_lists_every_run_field_with_the_library_default(section):
    library = {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}
    assert SCHEMA_DEFAULTS["defaults"][section] == library


@pytest.mark.parametrize("section", list(SECTIONS))
def test_config_yaml_defaults_are_the_library_defaults(section):
    library = {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}
    written = CONFIG["defaults"][section]
    assert {k: library[k] for k in written} == written


def test_analysis_defaults_are_the_detectors():
    from icmeta.behaviour import DEFAULT_Z

    library = {
        "paper_rule": {"dt": PAPER_DT, "threshold": PAPER_THRESHOLD},
        "plateaus": {f.name: f.default for f in dataclasses.fields(PlateauDetector)},
        "behaviour_z": DEFAULT_Z,
    }
    for source in (SCHEMA_DEFAULTS["analysis"], CONFIG["analysis"]):
        assert {k: source[k] for k in library} == library


# What runs is config.yaml's choice, not a default: the schema leaves the probe off for a config that
# does not mention it (a work directory without config.yaml, as the tests use), config.yaml switches
# it on for the main job.
SWITCHES = ("probe.active",)


def test_every_setting_config_yaml_writes_has_the_schema_default():
    kept = {k: v for k, v in CONFIG.items() if k not in ("experiments", "clamps", "only")}
    written = {k: v for k, v in _leaves(kept).items() if k not in SWITCHES}
    defaults = _leaves(SCHEMA_DEFAULTS)
    differ = {k: (v, defaults[k]) for k, v in written.items() if k in defaults and defaults[k] != v}
    assert not differ, f"config.yaml value vs schema default: {differ}"
