"""How the book writes numbers, counts and configurations in its sentences and tables."""

from __future__ import annotations

MINUS = "\u2212"  # a typographic minus: it does not break a line, as a hyphen may
NBSP = "\u00a0"
ABS_DELTA = "|\u2060Δ|"  # a word joiner after the bar: a line may break after a vertical bar

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number(count: int) -> str:
    """A count as a reader would write it: words up to ten, digits above."""
    return _WORDS[count] if 0 <= count < len(_WORDS) else str(count)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``"one thread"``, ``"two threads"``: a count with its noun in the right number."""
    return f"{number(count)} {noun if count == 1 else plural or noun + 's'}"


def listed(items: list) -> str:
    """Items as a sentence lists them: ``"1"``, ``"1 and 2"``, ``"0, 1 and 2"``."""
    words = [str(item) for item in items]
    return f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else words[0]


def signed(value: float, places: int = 2) -> str:
    """``value`` with an explicit sign and a typographic minus; a value that rounds to zero has none."""
    text = f"{abs(value):.{places}f}"
    if float(text) == 0:
        return text
    return ("+" if value > 0 else MINUS) + text


def percent(fraction: float, places: int = 2) -> str:
    """A signed relative difference, every one with the same decimals: ``"−0.30%"``, never "-0.00%"."""
    return signed(fraction * 100, places) + "%"


def difference(value: float, reference: float) -> str:
    """``value - reference`` in nats and relative to ``reference``, on one line: ``−0.49 (−0.30%)``."""
    diff = value - reference
    return f"{signed(diff)}{NBSP}({percent(diff / reference)})"


def plus_minus(mean: float, std: float, places: int = 2) -> str:
    """``"67.09 ± 0.09"``, breaking nowhere."""
    return f"{mean:.{places}f}{NBSP}±{NBSP}{std:.{places}f}"


def configuration(n: int, beta: float, nbsp: bool = False) -> str:
    """``"n = 64, β = 0.1"``; with ``nbsp`` it breaks only after the comma."""
    space = NBSP if nbsp else " "
    return f"n{space}={space}{n}, β{space}={space}{beta:g}"


def markdown_row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"
