// Evaluates IAM requests with @cloud-copilot/iam-simulate (pinned in package.json): identity policies, the
// resource's policy and their conditions, as AWS does for a same-account request (no SCPs, RCPs or boundaries:
// the project deploys none).
// stdin: a JSON list of {request: {principal, action, resource, context}, account, identityPolicies, resourcePolicy}
// (the principal is a role's ARN, or a service principal such as budgets.amazonaws.com acting for the account)
// stdout: a JSON list, in the same order, of {result: "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error",
// errors}
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = []
for (const item of cases) {
  const account = item.account
  const response = await runSimulation(
    {
      request: {
        principal: item.request.principal,
        action: item.request.action,
        resource: { resource: item.request.resource, accountId: account },
        contextVariables: item.request.context,
      },
      identityPolicies: item.identityPolicies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(item.resourcePolicy ? { resourcePolicy: item.resourcePolicy } : {}),
    },
    {},
  )
  if (response.resultType === 'error') {
    results.push({ result: 'Error', errors: response.errors })
  } else {
    results.push({ result: response.overallResult, errors: null })
  }
}
process.stdout.write(JSON.stringify(results))
