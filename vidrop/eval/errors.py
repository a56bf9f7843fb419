"""The one error type of evaluation input problems (the CLI turns it into a message, exit 2)."""


class EvalError(ValueError):
    """Input an evaluation cannot give an honest number from; the message says what to do."""
