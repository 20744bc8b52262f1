"""Who may connect: browser origins, and users from a session cookie or a signed token."""
