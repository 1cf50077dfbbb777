"""spend_guard: terminate forgotten clusters and stop the workstation out of hours (handler.py)."""
