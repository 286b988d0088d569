"""When to ask for a second factor: a pure ``decide(context) -> Decision``."""

from .decide import Context, Decision, decide

__all__ = ["Context", "Decision", "decide"]
