"""Append-only log of sign-ins and security-relevant changes."""
