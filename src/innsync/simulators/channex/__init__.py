"""Channex.io API v1 simulator, written from shared/channels/channex.md and nothing else.

It never imports innsync.channels, so a misreading in the adapter cannot hide in both.
"""

from innsync.simulators.channex.app import create_app, run
from innsync.simulators.channex.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultSettings

__all__ = ["FaultSettings", "SimulatorConfig", "create_app", "run"]
