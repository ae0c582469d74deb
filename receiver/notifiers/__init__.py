"""Notifiers: one module per channel; see base.py for the contract and registry.py for the
table of channel types."""

from receiver.notifiers.base import DeliveryResult, Notifier, Outcome
from receiver.notifiers.registry import CHANNELS, ChannelConfig, build_notifier

__all__ = ["CHANNELS", "ChannelConfig", "DeliveryResult", "Notifier", "Outcome", "build_notifier"]
