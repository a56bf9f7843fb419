"""The one base class of every error that means "the input cannot give a result": the command
line prints its message on one line and exits 2 (a bug keeps its traceback and exits 1).

Each subclass also derives from the builtin a caller would naturally catch (ValueError for a bad
value, OSError for a failed write, ...), so code outside vidrop keeps working with either."""

from __future__ import annotations


class VidropError(Exception):
    """A problem with what vidrop was given (a file, a setting, a flag); the message names it and
    says what to do."""
