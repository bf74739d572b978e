// Runs podiam-policy's corpus cases through an independent evaluator,
// @cloud-copilot/iam-simulate, and prints one JSON line per case:
//   {"file", "name", "decision", "mode"?, "reason"?}
// with the same file/name/decision vocabulary as
// `cargo run -p podiam-policy --example eval_cases`.
//
// iam-simulate and its policy validator @cloud-copilot/iam-policy are
// AGPL-3.0. They are installed at run time into the gitignored node_modules
// next to this script and only called from this process; none of their code
// is part of this repository.
//
// Usage: node run.mjs [--explain CASE-NAME] <corpus.json>...
//
// decision: Allow | ExplicitDeny | ImplicitDeny (evaluation cases),
//           Valid | Invalid (validation cases), Skipped (with a reason:
//           the case cannot be expressed to the oracle).
//
// mode (evaluation cases):
//   "validated" = runSimulation, the library's checked entry point: policies
//                 validated, action and resource type checked against AWS's
//                 service reference, context keys typed single/multivalued.
//   "unsafe"    = runUnsafeSimulation, used when runSimulation refuses the
//                 request or drops context keys it does not list for the
//                 action (made-up actions, `<issuer>:sub`, `ex:*`, S3 ABAC
//                 keys, ...). It evaluates the raw request as given but cannot
//                 take a session policy; such cases are Skipped.
// Validation cases go to iam-policy's validator for their kind (the
// validators iam-simulate runs on its inputs).
//
// Translation of a corpus case (see tests/corpus.rs for the format):
//   principal  user/role/federated_user -> its ARN (role: the session ARN),
//              root -> arn:aws:iam::A:root, web -> the provider (ARN or
//              name), service -> its name, anonymous -> anonymousPrincipal.
//   resource account = resource_account, else the ARN's account, else the
//              caller's account (as podiam-policy assumes), else 111122223333.
//   context    the case's keys, plus the keys AWS derives from the caller
//              (derivedPrincipalKeys) unless the case sets them.
//   policies   identity -> identityPolicies, boundary ->
//              permissionBoundaryPolicies, session -> sessionPolicy (several
//              are merged into one), resource_policy/trust -> resourcePolicy;
//              no SCPs or RCPs.

import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import {
  anonymousPrincipal,
  runSimulation,
  runUnsafeSimulation
} from '@cloud-copilot/iam-simulate'
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy,
  validateSessionPolicy,
  validateTrustPolicy
} from '@cloud-copilot/iam-policy'

const DECISION = {
  Allowed: 'Allow',
  ExplicitlyDenied: 'ExplicitDeny',
  ImplicitlyDenied: 'ImplicitDeny'
}

// The account used when a case gives no account at all (the corpus's own).
const HOME_ACCOUNT = '111122223333'

function arnAccount(arn) {
  if (typeof arn !== 'string') return undefined
  const parts = arn.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') return undefined
  return parts[4] || undefined
}

function asPolicy(v) {
  return typeof v === 'string' ? JSON.parse(v) : v
}

/** The request principal in iam-simulate's shape. */
function requestPrincipal(p) {
  switch (p.type) {
    case 'user':
    case 'role':
    case 'federated_user':
      return p.arn
    case 'root':
      return `arn:aws:iam::${p.account}:root`
    case 'web':
      return p.provider
    case 'service':
      return p.name
    case 'anonymous':
      return anonymousPrincipal
    default:
      throw new Error(`unknown principal type ${p.type}`)
  }
}

function principalAccount(p) {
  switch (p.type) {
    case 'root':
      return p.account
    case 'web':
      return arnAccount(p.provider)
    case 'user':
    case 'role':
    case 'federated_user':
      return arnAccount(p.arn)
    default:
      return undefined
  }
}

/**
 * Request-context keys that AWS sets from the caller ("AWS global condition
 * context keys": aws:PrincipalArn, aws:PrincipalAccount, aws:username,
 * aws:userid, aws:PrincipalType, aws:PrincipalIsAWSService,
 * aws:PrincipalServiceName). iam-simulate expects them in the request; the
 * corpus describes only the caller, so they are derived here. Keys the case
 * sets itself are kept.
 */
function derivedPrincipalKeys(p) {
  const keys = {}
  const iam = ['user', 'role', 'root', 'federated_user'].includes(p.type)
  const account = principalAccount(p)
  if (iam) {
    keys['aws:PrincipalArn'] =
      p.type === 'role' ? p.role : p.type === 'root' ? `arn:aws:iam::${account}:root` : p.arn
    if (account) keys['aws:PrincipalAccount'] = account
  }
  if (p.type === 'user') keys['aws:username'] = p.arn.split('/').pop()
  const userid =
    p.userid ?? (p.type === 'root' ? account : p.type === 'anonymous' ? 'anonymous' : undefined)
  if (userid !== undefined) keys['aws:userid'] = userid
  keys['aws:PrincipalType'] = {
    user: 'User',
    role: 'AssumedRole',
    web: 'WebIdentityUser',
    service: 'AWSService',
    anonymous: 'Anonymous',
    root: 'Account',
    federated_user: 'FederatedUser'
  }[p.type]
  keys['aws:PrincipalIsAWSService'] = p.type === 'service' ? 'true' : 'false'
  if (p.type === 'service') keys['aws:PrincipalServiceName'] = p.name
  return keys
}

function contextFor(c) {
  const ctx = {}
  for (const [k, v] of Object.entries(c.context ?? {})) {
    ctx[k] = Array.isArray(v)
      ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)))
      : typeof v === 'string'
        ? v
        : JSON.stringify(v)
  }
  const have = new Set(Object.keys(ctx).map((k) => k.toLowerCase()))
  for (const [k, v] of Object.entries(derivedPrincipalKeys(c.principal))) {
    if (!have.has(k.toLowerCase())) ctx[k] = v
  }
  return ctx
}

/** Several session policies form one limit (one allowing suffices): one policy
 *  with all their statements is equivalent when they share a Version. */
function mergedSessionPolicy(list) {
  if (!list || list.length === 0) return { policy: undefined }
  const policies = list.map(asPolicy)
  if (policies.length === 1) return { policy: policies[0] }
  const versions = new Set(policies.map((p) => p.Version))
  if (versions.size !== 1) {
    return { skip: 'several session policies with different Versions cannot be merged into the one session policy iam-simulate accepts' }
  }
  const statements = policies.flatMap((p) => [p.Statement].flat())
  const merged = { Statement: statements }
  if (policies[0].Version !== undefined) merged.Version = policies[0].Version
  return { policy: merged }
}

// Policies are handed over pre-validated with the validator for their kind
// (runSimulation would otherwise check a trust policy with the generic
// resource-policy rules and a session policy with the identity rules); the
// name travels with them, which runUnsafeSimulation needs for resource policies.
function validated(doc, validate, name) {
  return createValidatedPolicy(doc, validate, { name })
}

function simulationFor(c) {
  if (c.principal.canonical_user !== undefined) {
    return {
      skip: 'the caller is identified by an S3 canonical user id; iam-simulate has no such caller (a canonical id given as the request principal is treated as an authenticated principal of no account, which then needs identity policies)'
    }
  }
  const principal = requestPrincipal(c.principal)
  const session = mergedSessionPolicy(c.session)
  if (session.skip) return { skip: session.skip }
  const resourceAccount =
    c.resource_account ?? arnAccount(c.resource) ?? principalAccount(c.principal) ?? HOME_ACCOUNT
  const anonymous = principal === anonymousPrincipal
  const simulation = {
    request: {
      principal,
      action: c.action,
      resource: { resource: c.resource, accountId: resourceAccount },
      contextVariables: contextFor(c)
    },
    identityPolicies: (c.identity ?? []).map((p, i) => ({
      name: `identity-${i}`,
      policy: validated(asPolicy(p), validateIdentityPolicy, `identity-${i}`)
    })),
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  if (anonymous && simulation.identityPolicies.length > 0) {
    return { skip: 'iam-simulate rejects identity policies for an anonymous caller' }
  }
  if (c.resource_policy !== undefined) {
    simulation.resourcePolicy = validated(asPolicy(c.resource_policy), validateResourcePolicy, 'resource')
  } else if (c.trust !== undefined) {
    simulation.resourcePolicy = validated(asPolicy(c.trust), validateTrustPolicy, 'trust')
  }
  if (c.boundary !== undefined) {
    simulation.permissionBoundaryPolicies = [
      { name: 'boundary', policy: validated(asPolicy(c.boundary), validateIdentityPolicy, 'boundary') }
    ]
  }
  if (session.policy !== undefined) {
    simulation.sessionPolicy = validated(session.policy, validateSessionPolicy, 'session')
  }
  return { simulation }
}

function errorSummary(errors) {
  const parts = [errors.message]
  for (const [k, v] of Object.entries(errors)) {
    if (k === 'message') continue
    parts.push(`${k}: ${JSON.stringify(v)}`)
  }
  return parts.join('; ')
}

async function evalCase(c) {
  const { simulation, skip } = simulationFor(c)
  if (skip) return { decision: 'Skipped', reason: skip }
  let why
  try {
    const r = await runSimulation(simulation, {})
    if (r.resultType === 'error') {
      why = `runSimulation refused the request: ${errorSummary(r.errors)}`
    } else {
      const ignored =
        r.resultType === 'single'
          ? r.result.ignoredContextKeys ?? []
          : [...new Set(r.results.flatMap((x) => x.ignoredContextKeys ?? []))]
      if (ignored.length === 0) {
        return { decision: DECISION[r.overallResult] ?? r.overallResult, mode: 'validated' }
      }
      why = `runSimulation dropped context keys ${JSON.stringify(ignored)}`
    }
  } catch (e) {
    why = `runSimulation threw: ${e.message}`
  }
  if (simulation.sessionPolicy !== undefined) {
    return { decision: 'Skipped', reason: `${why}; runUnsafeSimulation cannot take a session policy` }
  }
  try {
    const result = runUnsafeSimulation(simulation, {})
    return { decision: DECISION[result] ?? result, mode: 'unsafe', reason: why }
  } catch (e) {
    return { decision: 'Skipped', reason: `${why}; runUnsafeSimulation threw: ${e.message}` }
  }
}

// Validation cases: the document goes to iam-policy's validator for its kind
// (the validators iam-simulate runs on its inputs).
const VALIDATORS = {
  identity: validateIdentityPolicy,
  boundary: validateIdentityPolicy,
  session: validateSessionPolicy,
  resource: validateResourcePolicy,
  trust: validateTrustPolicy
}

// Default policy size quotas ("IAM and AWS STS quotas"; white space is not
// counted): identity and boundary 6,144 (managed policy), trust 2,048
// (ACLSizePerRole), session 2,048, resource-based 20,480 (S3 bucket policy).
const SIZE_QUOTA = { identity: 6144, boundary: 6144, trust: 2048, session: 2048, resource: 20480 }

/** Whether JSON text repeats a key inside one object (JSON.parse keeps the last). */
function hasDuplicateKeys(text) {
  let i = 0
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++
  }
  const str = () => {
    const start = i++
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(text.slice(start, i))
  }
  const value = () => {
    ws()
    if (text[i] === '{') {
      i++
      const seen = new Set()
      ws()
      if (text[i] === '}') return i++, false
      for (;;) {
        ws()
        const k = str()
        if (seen.has(k)) return true
        seen.add(k)
        ws()
        i++ // ':'
        if (value()) return true
        ws()
        if (text[i++] === '}') return false
      }
    }
    if (text[i] === '[') {
      i++
      ws()
      if (text[i] === ']') return i++, false
      for (;;) {
        if (value()) return true
        ws()
        if (text[i++] === ']') return false
      }
    }
    if (text[i] === '"') return str(), false
    while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++
    return false
  }
  return value()
}

async function validateCase(c) {
  const validate = VALIDATORS[c.kind]
  if (!validate) return { decision: 'Skipped', reason: `unknown kind ${c.kind}` }
  let policy = c.policy
  if (typeof policy === 'string') {
    try {
      policy = JSON.parse(policy)
    } catch (e) {
      return { decision: 'Invalid', mode: 'validated', reason: `not JSON: ${e.message}` }
    }
    // iam-policy takes a parsed document, so properties of the text itself
    // cannot be handed to it.
    if (hasDuplicateKeys(c.policy)) {
      return { decision: 'Skipped', reason: 'the text repeats a key; iam-policy takes a parsed document, in which JSON.parse has kept only the last value' }
    }
    const size = c.policy.replace(/\s/g, '').length
    if (size > SIZE_QUOTA[c.kind]) {
      return { decision: 'Skipped', reason: `the text has ${size} non-white-space characters, over the ${SIZE_QUOTA[c.kind]} quota for ${c.kind} policies; iam-simulate and iam-policy have no size quotas` }
    }
  }
  try {
    const errors = validate(policy)
    if (errors.length > 0) {
      return { decision: 'Invalid', mode: 'validated', reason: errors.map((e) => `${e.path}: ${e.message}`).join('; ') }
    }
    return { decision: 'Valid', mode: 'validated' }
  } catch (e) {
    return { decision: 'Invalid', mode: 'validated', reason: `validator threw: ${e.message}` }
  }
}

async function main() {
  const args = process.argv.slice(2)
  // --explain NAME: print iam-simulate's full analysis for one case.
  let explain
  const at = args.indexOf('--explain')
  if (at >= 0) {
    explain = args[at + 1]
    args.splice(at, 2)
  }
  if (args.length === 0) {
    console.error('usage: node run.mjs [--explain CASE-NAME] <corpus.json>...')
    process.exit(2)
  }
  for (const path of args) {
    const file = basename(path)
    const cases = JSON.parse(readFileSync(path, 'utf8'))
    for (const c of cases) {
      if (explain !== undefined) {
        if (c.name !== explain) continue
        const { simulation, skip } = c.action !== undefined ? simulationFor(c) : {}
        if (skip || !simulation) {
          console.log(JSON.stringify({ skip }, null, 2))
          continue
        }
        console.log(JSON.stringify({ simulation, result: await runSimulation(simulation, {}) }, null, 2))
        if (!simulation.sessionPolicy) {
          console.log(JSON.stringify({ unsafe: runUnsafeSimulation(simulation, {}) }))
        }
        continue
      }
      let out
      try {
        if (c.action !== undefined) out = await evalCase(c)
        else if (c.policy !== undefined && c.kind !== undefined) out = await validateCase(c)
        else out = { decision: 'Skipped', reason: 'neither an evaluation nor a validation case' }
      } catch (e) {
        out = { decision: 'Skipped', reason: `translation failed: ${e.message}` }
      }
      process.stdout.write(JSON.stringify({ file, name: c.name, ...out }) + '\n')
    }
  }
}

await main()
