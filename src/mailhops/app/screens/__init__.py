"""Screens of the mailhops app."""
