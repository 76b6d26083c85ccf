"""Files shipped with the package: templates and the default config.yaml.

An installed wheel carries them inside `bot/`; a source checkout keeps them at the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_PACKAGED_NAMES = {"config.yaml": "default_config.yaml", "templates": "templates"}


def resource_path(name: str) -> Path:
    """Path of a shipped resource (`templates` or `config.yaml`)."""
    packaged = _PACKAGE / _PACKAGED_NAMES[name]
    return packaged if packaged.exists() else _PACKAGE.parent / name
