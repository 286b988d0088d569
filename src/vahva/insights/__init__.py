"""The sign-in log with the policy's reasons, and the adoption page, for admins and the helpdesk."""
