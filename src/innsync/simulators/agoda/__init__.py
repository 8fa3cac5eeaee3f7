"""A simulator of Agoda's YCS5 supply API (XML), for tests and demos."""

from innsync.simulators.agoda.app import create_app
from innsync.simulators.agoda.config import PropertySetup, RoomSetup, SimulatorConfig

__all__ = ["PropertySetup", "RoomSetup", "SimulatorConfig", "create_app"]
