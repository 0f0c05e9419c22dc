"""Backups: encrypted, self-describing sets that prove they can be read back."""
