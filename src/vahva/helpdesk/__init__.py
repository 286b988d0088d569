"""The helpdesk's tools: look a person up, verify a caller, issue a temporary access pass,
remove a device, grant an exemption; every action audited."""
