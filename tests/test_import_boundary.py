"""The data layer stays headless: importing it must not load Textual or Rich."""

import subprocess
import sys

HEADLESS_MODULES = [
    "mailhops.index",
    "mailhops.index.schema",
    "mailhops.index.problems",
    "mailhops.index.discover",
    "mailhops.index.parse",
    "mailhops.index.classify",
    "mailhops.index.sessions",
    "mailhops.index.cache",
    "mailhops.index.build",
    "mailhops.index.model",
    "mailhops.index.segments",
    "mailhops.index.links",
    "mailhops.index.chain",
    "mailhops.safe_text",
    "mailhops.sample",
]


def test_data_layer_imports_neither_textual_nor_rich() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {HEADLESS_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"data layer pulled in: {out}"


def test_boundary_check_detects_a_leak() -> None:
    """The check above must be able to fail: importing the app does load Textual."""
    code = "import sys, textual; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True"
