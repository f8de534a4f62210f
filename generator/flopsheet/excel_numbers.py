"""Excel's limits on numbers: it keeps 15 significant digits, and its largest number is near 1E+308.

Excel stores every number as an IEEE double and keeps at most 15 significant
digits of an entered number, so 123456789123456789 becomes 123456789123456000,
and it accepts entries below 1E+308 (John Walkenbach, Excel 2007 Bible, chapter 3,
"Excel's Numerical Limitations").
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_DIGITS = 15
LARGEST = Fraction("9.99999999999999e307")
_LARGEST_WHOLE = LARGEST.numerator
# Whole numbers below this have at most 15 digits, so none of them has more significant digits than Excel keeps.
_MIN_16_DIGITS = 10 ** MAX_DIGITS

# Number literals as the expression grammar reads them (expr._TOKEN).
_LITERAL = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def significant_digits(literal: str) -> int:
    """Count the significant digits of a decimal literal such as ``1200``, ``0.00125`` or ``1.5e+20``."""
    mantissa = literal.lower().split("e")[0].lstrip("+-")
    return len(mantissa.replace(".", "").strip("0"))


def long_literals(value) -> list[str]:
    """Return the number literals in a spec value (a number or an expression) that Excel would round."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        literals = [str(value)]
    elif isinstance(value, float):
        literals = [repr(value)]
    elif isinstance(value, str):
        literals = _LITERAL.findall(value)
    else:
        return []
    return [literal for literal in literals if significant_digits(literal) > MAX_DIGITS]


def rounded(literal: str) -> str:
    """Return a literal as Excel keeps it, with 15 significant digits."""
    return f"{float(literal):.{MAX_DIGITS}g}"


def beyond_precision(value) -> bool:
    """Tell whether a whole number has more significant digits than Excel keeps."""
    if not isinstance(value, (int, Fraction)):
        value = Fraction(value)
    if value.denominator != 1:
        return False
    numerator = abs(value.numerator)
    # Comparing with _MIN_16_DIGITS first skips the conversion to text for almost every cell.
    return numerator >= _MIN_16_DIGITS and significant_digits(str(numerator)) > MAX_DIGITS


def too_large(value) -> bool:
    """Tell whether a number's magnitude is beyond Excel's largest number."""
    if not isinstance(value, (int, Fraction)):
        value = Fraction(value)
    # |n/d| > L as whole numbers, which is faster than comparing Fractions (L is whole).
    return abs(value.numerator) > _LARGEST_WHOLE * value.denominator
