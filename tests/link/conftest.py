import sys
from pathlib import Path

# The hand-written frame helpers (frames.py, chainfix.py) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))
