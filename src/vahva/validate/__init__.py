"""The validation API for RADIUS/VPN gateways and scripts: is this person's code right?

``POST /api/validate/v1/check`` with ``{"user": e-mail, "code": "123456"}``, authenticated by
a per-client API key (``vahva validate-client add NAME``). The code is checked against the
person's authenticator app (TOTP) or the vahva app's offline code, through the sign-in
engine's second-factor check: the same throttle, the same single use and the same audit trail
as a sign-in in the browser.
"""
