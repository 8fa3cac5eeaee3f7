"""A simulator of Booking.com's Connectivity APIs (OTA XML), for tests and demos."""

from innsync.simulators.booking_com.app import create_app
from innsync.simulators.booking_com.config import HotelSetup, RoomSetup, SimulatorConfig

__all__ = ["HotelSetup", "RoomSetup", "SimulatorConfig", "create_app"]
