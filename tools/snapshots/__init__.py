"""Reviewed template snapshots: the normalisation both the tests and the diff use, and the diff itself."""
