"""Who the caller is: users, roles, tokens, and the audit log."""
