"""Hardware OATH tokens: key-ring tokens that show a code (HOTP, RFC 4226, or TOTP, RFC 6238).

The organisation imports a batch (a vendor's PSKC file, RFC 6030, or a CSV of serial and
secret); a person activates one by its serial number and a code it shows; the helpdesk assigns,
unassigns and resynchronises them. Everything of the method lives in this package: the
engine, the wizard, Security info, the helpdesk and the validation API reach it through the
:class:`vahva.methods.base.Method` interface only.
"""
