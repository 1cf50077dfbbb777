"""Least privilege, proven offline: IAM requests evaluated against the project's own policies.

``deployment``: the roles' policies (and bucket, topic and key policies) from the synthesised templates, resolved
to the names of a deployment. ``requests``: the AWS SDK calls the functions make, as the IAM requests AWS
authorises for them. ``expectations``: the written list of requests each role must be denied, and controls it
must be allowed. ``on_behalf``: the requests AWS services make for the lab (EMR with the service role, the nodes, the
workstation, RunJobFlow's share, the services publishing to the encrypted topic), each naming its documentation page.
``managed_policies``: the AWS managed policies evaluated from their documented statements, and those left out.
``simulator``: evaluates requests with @cloud-copilot/iam-simulate (Node, pinned in
package.json), identity and resource policies with their conditions.

Used by the emulated lifecycle test (every call the functions make there must be allowed) and by
tests/iam_simulation (the forbidden list and what AWS does on the lab's behalf, on synthesised templates).
"""
