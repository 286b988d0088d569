"""Recovery codes: ten single-use codes to print or save, for when the other methods cannot be
used. Never the default, offered under "Sign in another way"."""
