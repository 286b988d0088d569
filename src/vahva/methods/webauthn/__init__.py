"""Security keys and passkeys (WebAuthn, py_webauthn): phishing-resistant, and passwordless
where a deployment allows it."""
