"""Widgets of the mailhops app."""
