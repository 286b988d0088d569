"""Demo Learn: a course platform that signs people in through vahva with SAML 2.0."""
