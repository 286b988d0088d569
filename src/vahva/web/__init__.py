"""The web shell: layout, help pages, security headers, error pages, system checks."""
