"""The runtime contract between the stacks and the code they deploy: one definition of every shared fact.

Imported by the stacks (synth), the Lambda functions (run time) and the tools; it imports none of them. Plain
Python, standard library only (``aws`` imports botocore inside the functions that only the functions call), so it
runs on the machine's Python 3.11 and on the functions' 3.14. Every function asset carries this package whole, at
this import path (``stacks/constructs/lambda_function.py``), so the same imports work in Lambda, in the tests and in
the type checker.

- ``layout``: the buckets' prefixes, and which upload suffix is read as which format.
- ``modes``: the cluster modes and the network modes a deployment chooses from.
- ``names``: how run ids, cluster names and step names are made and recognised; the tag keys of the project.
- ``sizing``: how a transient cluster is sized by its upload (submit_job starts it, the cost report prices it).
- ``working_hours``: the weekday names and the working-hours format of the spend guard.
- ``environments``: each function's environment, one typed class per function, built by the stacks and parsed
  by the function at cold start.
- ``aws``: AWS clients in the function's region and the errors worth a retry; ``logs``: values from events
  shown in logs without flooding them.

The Spark job runs on EMR's Python 3.9 from its own zip and keeps its own copies of the upload formats, the run id
pattern and the attempts folder; ``tests/contract/test_contract.py`` pins them to the ones here.
"""
