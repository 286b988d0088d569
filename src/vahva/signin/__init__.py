"""The sign-in engine: password step, policy, second factor, session binding, throttling."""
