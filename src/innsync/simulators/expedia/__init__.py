"""A simulated Expedia QuickConnect: AR, BR and BC over XML, with the public simulator's ids."""

from innsync.simulators.expedia.app import create_app
from innsync.simulators.expedia.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
