"""OpenID Provider on django-oauth-toolkit; it enters sign-in through :mod:`vahva.signin`."""
