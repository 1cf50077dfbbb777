"""submit_job: start the ALS job on EMR for each ratings file uploaded (handler.py)."""
