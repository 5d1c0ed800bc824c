"""Where downloaded datasets live: ``$MINILOTTERY_DATA``, else ``~/.cache/minilottery``."""

from __future__ import annotations

import os
from pathlib import Path

FETCH_HINT = "minilottery fetch mnist"


def data_home() -> Path:
    """The root of the data cache: ``$MINILOTTERY_DATA``, else ``~/.cache/minilottery``."""
    root = os.environ.get("MINILOTTERY_DATA")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "minilottery"


def mnist_cache() -> Path:
    """The folder ``minilottery fetch mnist`` fills with MNIST's four IDX files."""
    return data_home() / "mnist"
