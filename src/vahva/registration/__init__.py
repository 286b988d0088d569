"""The setup wizard ("Keep your account secure"), Security info and adding/removing methods."""
