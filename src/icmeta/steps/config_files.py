"""Reading a workflow config file, with one line for each way it can be wrong: the file, the line
and what to do, where a YAML parser would name neither or stop on a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from icmeta.errors import ConfigError


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The settings in `path`, a YAML mapping (an empty file is no settings)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} does not exist; give the path of config.yaml or of a file laid "
            f"over it (examples/ has some)"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: byte 0x{raw[err.start]:02x} is not UTF-8 text; save the file as UTF-8 "
            f"(or write that character as plain ASCII)"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark, opened = err.problem_mark, err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = err.problem or "a syntax error"
        if err.context and opened is not None and (mark is None or opened.line != mark.line):
            what += f", {err.context} that starts at line {opened.line + 1}"
        raise ConfigError(f"{where}: not valid YAML ({what}); fix the YAML there") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err}); fix the YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: holds a {type(data).__name__}, not a mapping of settings (key: value lines)"
        )
    return data
