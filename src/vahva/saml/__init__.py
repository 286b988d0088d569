"""The SAML 2.0 identity provider (pysaml2), entered only through signin's door."""

import warnings

# pysaml2 7.5 names a cipher mode where cryptography has deprecated it; it does not use it
# for anything vahva sends, and the warning would be printed by every `vahva` command.
warnings.filterwarnings("ignore", message="CFB has been moved", module="saml2.cryptography")
