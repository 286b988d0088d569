"""People: the user model (e-mail is the username), passwords, directory import."""
