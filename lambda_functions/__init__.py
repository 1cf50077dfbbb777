"""The project's Lambda functions, one package per function (README.md here says what each does).

Each function's asset holds its own package, this file and ``lab_contract``, at their paths here, plus the entry
module Lambda imports (``handler``, see ``stacks/constructs/lambda_function.py``): the same imports work in Lambda
and in the tests. A function imports the contract and its own package, nothing else of the project.
"""
