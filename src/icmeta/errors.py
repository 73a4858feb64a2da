"""The library's error for bad configuration, in a module of its own so that every layer can raise it."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field, the value and how to fix it."""


class DamagedRunFile(ValueError):
    """A finished run's file is incomplete or unreadable; the message names the file, what is wrong
    with it and what to do."""
