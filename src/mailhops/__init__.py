"""mailhops: follow a message hop by hop through Exchange transport logs."""

__version__ = "0.1.0"
