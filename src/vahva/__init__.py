"""vahva: self-hosted multi-factor sign-in for organisations."""

__version__ = "0.1.0"
