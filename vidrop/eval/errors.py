"""The one error type of evaluation input problems (the CLI turns it into a message, exit 2)."""

from vidrop.errors import VidropError


class EvalError(VidropError, ValueError):
    """Input an evaluation cannot give an honest number from; the message says what to do."""
