"""Notifications service: who hears about what, through which channel."""
