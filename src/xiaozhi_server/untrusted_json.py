"""Parsing JSON that comes from outside (report bodies, feed commands) without surprises.

``json.loads`` can fail in ways its own error type does not cover: nesting deeper than the
interpreter's recursion limit raises RecursionError, and an integer of more than 4,300 digits
raises a bare ValueError (CPython's guard against quadratic int parsing). Both were answered
with a 500 and a traceback. Here every way a text can fail is one ``JsonTextError`` with a
message that says what is wrong, and nothing is parsed that no client of ours ever sends.
"""

from __future__ import annotations

import json
from typing import Any

# The longest integer any field takes: epoch milliseconds have 13 digits, ids at most 19.
MAX_INTEGER_DIGITS = 30


class JsonTextError(ValueError):
    """A text that is not JSON this hub accepts; the message says why."""


def parse_json(text: str | bytes) -> Any:
    """The value ``text`` holds; raise JsonTextError if it is not acceptable JSON."""
    try:
        if isinstance(text, bytes | bytearray):  # as json.loads reads bytes
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        return _DECODER.decode(text)
    except JsonTextError:
        raise
    except RecursionError:
        raise JsonTextError("not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    except UnicodeDecodeError:
        raise JsonTextError("not valid JSON (not UTF-8 text)") from None
    except ValueError:
        raise JsonTextError("not valid JSON") from None


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise JsonTextError(f"not valid JSON (a number has more than {MAX_INTEGER_DIGITS} digits)")
    return int(digits)


def _no_constant(name: str) -> Any:
    raise JsonTextError(f"not valid JSON ({name} is not a JSON value)")


# One decoder for every call: json.loads with hooks builds a new one each time (~10 µs).
_DECODER = json.JSONDecoder(parse_int=_bounded_int, parse_constant=_no_constant)
