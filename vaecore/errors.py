"""The base of every error a user can cause; ``vaecore`` prints them as one sentence."""


class VaecoreError(Exception):
    """A bad input or environment (a params file, a data or output folder), not a bug.

    Its message is one sentence that names the culprit and says what to do.
    """


class SweepError(VaecoreError):
    """A sweep, or one of its configurations, cannot start; the message names the culprit."""
