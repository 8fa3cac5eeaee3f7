"""A simulated Expedia QuickConnect: AR, BR, BC and PARR, with the public simulator's ids."""

from innsync.simulators.expedia.app import create_app
from innsync.simulators.expedia.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
