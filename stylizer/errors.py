"""The one error type the CLI turns into a one-line message and a non-zero exit."""


class StylizeError(Exception):
    """A user-facing problem (bad input, bad weights, bad option); the message names the culprit."""
