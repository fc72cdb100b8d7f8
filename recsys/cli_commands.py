"""Sub-commands beyond ``analyze``: each ``register_*`` adds one sub-parser with ``func`` set."""
from __future__ import annotations

REGISTER: list = []
