"""An Octorate Connect API simulator (the OTA side), from ``shared/channels/octorate.md``."""

from innsync.simulators.octorate.app import create_app
from innsync.simulators.octorate.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
