"""The organisation's directory: sign-in by bind to LDAP / Active Directory, and sync."""
