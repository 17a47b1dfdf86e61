"""The headless data layer of mailhops: polars and the standard library only.

Never import textual or rich from here (tests/test_import_boundary.py proves it).
"""
