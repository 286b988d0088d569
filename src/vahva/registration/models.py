"""The registration room keeps no tables of its own: the campaign's snoozes are the policy's
(:class:`vahva.policy.models.Snooze`)."""
