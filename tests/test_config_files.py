"""A config file that cannot be read is named with its line and what to do, in one line."""

import pytest

from icmeta.errors import ConfigError
from icmeta.steps.config_files import read_config_file


def _refused(path) -> str:
    with pytest.raises(ConfigError) as err:
        read_config_file(path)
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_yaml_syntax_error_names_the_file_line_and_where_the_construct_began(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seeds: [0, 1]\nexperiments:\n  main: {axes: {T: [3]}\nanalysis: {}\n")
    message = _refused(path)
    assert message.startswith(f"{path}:4:")
    assert "starts at line 3" in message and "fix the YAML there" in message


def test_a_byte_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"seeds: [0, 1]\n# caf\xe9\n")
    assert _refused(path).startswith(f"{path}:2: byte 0xe9 is not UTF-8 text; save the file as UTF-8")


def test_a_missing_file_and_one_that_is_not_a_mapping_say_what_to_give(tmp_path):
    assert "does not exist" in _refused(tmp_path / "nope.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert "holds a list, not a mapping of settings" in _refused(listed)


def test_an_empty_file_is_no_settings_and_a_good_one_reads_back(tmp_path):
    empty = tmp_path / "e.yaml"
    empty.write_text("# nothing set here\n")
    assert read_config_file(empty) == {}
    good = tmp_path / "g.yaml"
    good.write_text("seeds: [0, 1]\n")
    assert read_config_file(good) == {"seeds": [0, 1]}
