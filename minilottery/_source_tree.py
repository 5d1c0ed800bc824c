"""Make ``minilottery.backends`` importable from a source checkout that is not installed.

An install (regular or editable) maps the top-level folder backends/ to the
package name ``minilottery.backends``. Running straight from a checkout
(``python -m pytest`` in the repository root with nothing installed, or with a
regular install shadowed by the checkout) has no such mapping, so this module
loads backends/ under that name by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "minilottery.backends"


def map_backends() -> None:
    """Register ../backends as ``minilottery.backends`` unless an install already maps it."""
    if _NAME in sys.modules or importlib.util.find_spec(_NAME) is not None:
        return
    folder = Path(__file__).resolve().parent.parent / "backends"
    spec = importlib.util.spec_from_file_location(
        _NAME, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"minilottery.backends: no package found at {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
