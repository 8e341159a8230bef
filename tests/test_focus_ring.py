"""The keyboard focus ring is visible: at least 3:1 against every background it sits on (WCAG 1.4.11)."""
import re
from pathlib import Path

CSS = (Path(__file__).resolve().parents[1] / "static" / "css" / "kassa.css").read_text()


def _var(name: str) -> str:
    return re.search(rf"--{name}:\s*([^;]+);", CSS)[1].strip()


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_focus_ring_reaches_3_to_1_on_every_background():
    ring = _var("focus-ring")
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", ring), "an opaque colour: a translucent ring depends on what is under it"
    for background in ("bg", "surface", "surface-2", "primary-soft"):
        assert contrast(ring, _var(background)) >= 3, background


def test_every_focus_style_uses_the_ring():
    assert "var(--focus-ring)" in _var("focus")
    assert not re.search(r"--focus:[^;]*rgb\([^)]*/", CSS)  # no alpha in the ring
