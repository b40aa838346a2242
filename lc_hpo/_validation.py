"""One check for integer parameters, so every constructor refuses bad counts with the same words."""

from __future__ import annotations

import numbers


def check_int(name: str, value: object, minimum: int = 1, *, allow_none: bool = False,
              why: str = "") -> int | None:
    """``value`` as an ``int`` if it is an integer (not a bool) of at least ``minimum``.

    NumPy integers pass; floats, bools and strings do not, even when they hold a whole number.  With
    ``allow_none``, None passes through.  Otherwise a ValueError names the parameter, what it must be
    (``why``, if given, says the reason in brackets) and what it got.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= minimum:
        return int(value)
    if minimum == 1:
        wanted = "a positive integer"
    elif minimum == 0:
        wanted = "a non-negative integer"
    else:
        wanted = f"an integer of at least {minimum}"
    if allow_none:
        wanted += " or None"
    reason = f" ({why})" if why else ""
    raise ValueError(f"{name} must be {wanted}{reason}, got {value!r}")
