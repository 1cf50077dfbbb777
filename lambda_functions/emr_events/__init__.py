"""emr_events: record and announce the outcome of this project's EMR steps and clusters (handler.py)."""
