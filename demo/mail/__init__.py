"""Demo Mail: a relying party that signs people in through vahva with OpenID Connect."""
