// Compares podiam-policy's decisions with the oracle's and checks every
// disagreement against known-differences.json.
//
// Usage: node compare.mjs <podiam.jsonl> <oracle.jsonl> <known-differences.json>
//
// Exit status 1 when:
//   * a case disagrees and is not listed in known-differences.json,
//   * a listed case no longer disagrees the way it is recorded (stale entry:
//     update or remove it, with the reason, when either side changes),
//   * podiam-policy could not evaluate a case (decision "Error"), or a case is
//     missing from either side.
// Skipped cases (the oracle cannot express them) are reported, not failures.

import { readFileSync } from 'node:fs'

function lines(path) {
  const out = new Map()
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue
    const r = JSON.parse(line)
    out.set(`${r.file}\u0000${r.name}`, r)
  }
  return out
}

const [podiamPath, oraclePath, knownPath] = process.argv.slice(2)
if (!knownPath) {
  console.error('usage: node compare.mjs <podiam.jsonl> <oracle.jsonl> <known-differences.json>')
  process.exit(2)
}
const podiam = lines(podiamPath)
const oracle = lines(oraclePath)
const known = new Map()
for (const k of JSON.parse(readFileSync(knownPath, 'utf8')).differences) {
  known.set(`${k.file}\u0000${k.case}`, k)
}

const problems = []
const skipped = []
const settled = []
let agree = 0
let disagree = 0
for (const [key, p] of podiam) {
  const [file, name] = key.split('\u0000')
  const o = oracle.get(key)
  const label = `${file}: ${name}`
  if (!o) {
    problems.push(`${label}: missing from the oracle's output`)
    continue
  }
  if (p.decision === 'Error') {
    problems.push(`${label}: podiam-policy could not evaluate it: ${p.error}`)
    continue
  }
  if (o.decision === 'Skipped') {
    skipped.push(`${label}: ${o.reason}`)
    if (known.has(key)) problems.push(`${label}: listed in known-differences.json but now skipped`)
    continue
  }
  const k = known.get(key)
  if (p.decision === o.decision) {
    agree++
    if (k) {
      problems.push(
        `${label}: listed in known-differences.json (podiam ${k.podiam}, oracle ${k.oracle}) but both now say ${p.decision}; remove the entry`
      )
    }
    continue
  }
  disagree++
  if (!k) {
    problems.push(
      `${label}: podiam ${p.decision}, iam-simulate ${o.decision}` +
        (o.mode ? ` [${o.mode}]` : '') +
        (o.reason ? ` (${o.reason})` : '') +
        ' -- not in known-differences.json: settle it from the IAM User Guide and record it'
    )
  } else if (k.podiam !== p.decision || k.oracle !== o.decision) {
    problems.push(
      `${label}: recorded as podiam ${k.podiam} / oracle ${k.oracle}, now podiam ${p.decision} / oracle ${o.decision}; re-settle it`
    )
  } else {
    settled.push(`${label}: podiam ${p.decision}, iam-simulate ${o.decision}; verdict: ${k.verdict}`)
  }
}
for (const key of oracle.keys()) {
  if (!podiam.has(key)) problems.push(`${key.replace('\u0000', ': ')}: missing from podiam-policy's output`)
}
for (const key of known.keys()) {
  if (!podiam.has(key)) problems.push(`${key.replace('\u0000', ': ')}: in known-differences.json but not in the corpus`)
}

if (skipped.length) {
  console.log(`Skipped (the oracle cannot express the case): ${skipped.length}`)
  for (const s of skipped) console.log(`  - ${s}`)
}
if (settled.length) {
  console.log(`Known differences (settled in known-differences.json): ${settled.length}`)
  for (const s of settled) console.log(`  - ${s}`)
}
console.log(
  `Summary: ${podiam.size} cases; ${agree} agree, ${disagree} disagree (${settled.length} known), ${skipped.length} skipped`
)
if (problems.length) {
  console.log(`FAILED: ${problems.length} problem(s):`)
  for (const s of problems) console.log(`  - ${s}`)
  process.exit(1)
}
console.log('OK: every disagreement is recorded in known-differences.json')
