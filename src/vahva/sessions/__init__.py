"""Where a person is signed in: one row per browser session, its lifetimes (idle and
absolute, NIST SP 800-63B AAL2 reauthentication) and ending it from Security info or the
helpdesk."""
