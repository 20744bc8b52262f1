"""Who a connection is: the little of a Django user that a connection keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectionUser:
    id: Any
    username: str
