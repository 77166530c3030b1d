"""Widgets of the guided screen."""
