"""A Beds24 API V2 simulator, written from ``shared/channels/beds24.md`` and the OpenAPI file."""

from innsync.simulators.beds24.app import create_app
from innsync.simulators.beds24.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
