"""A simulator of Aiosell's channel manager API (PMS integration), for tests and demos."""

from innsync.simulators.aiosell.app import create_app
from innsync.simulators.aiosell.config import HotelMapping, RoomMapping, SimulatorConfig

__all__ = ["HotelMapping", "RoomMapping", "SimulatorConfig", "create_app"]
