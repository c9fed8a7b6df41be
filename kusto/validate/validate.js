#!/usr/bin/env node
'use strict';
// Validates our KQL offline with Microsoft's Kusto.Language (see lib/kusto.js).
//
// Input: a manifest (JSON, from a file argument or stdin) that `python -m kusto validate` writes:
//   {"database": "oteldb",
//    "commands": [{"path", "lines": [source line of each text line], "text"}, ...],   // apply order
//    "dashboards": [{"path", "content"}]}
// Output: findings as `path:line:col: severity code: message` lines, or with --json one JSON object
// {"errors", "warnings", "findings", "checked", "schema"}. Exit 1 when there is an error, 2 on bad input.

const fs = require('fs');
const { checkCommand } = require('./lib/commands');
const { checkDashboard } = require('./lib/dashboard');
const { DatabaseModel } = require('./lib/database');
const { Report } = require('./lib/report');

function readManifest(argv) {
  const file = argv.find((a) => !a.startsWith('--'));
  return JSON.parse(fs.readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8'));
}

function run(manifest) {
  const db = new DatabaseModel(manifest.database || 'oteldb');
  const report = new Report();
  for (const command of manifest.commands || []) checkCommand(db, command, report);
  for (const dashboard of manifest.dashboards || []) checkDashboard(db, dashboard, report);
  return { db, report };
}

function main(argv) {
  let manifest;
  try {
    manifest = readManifest(argv);
  } catch (e) {
    process.stderr.write(`kusto-validate: cannot read the manifest: ${e.message}\n`);
    return 2;
  }
  const { db, report } = run(manifest);
  if (argv.includes('--json')) {
    const schema = {
      tables: Object.fromEntries([...db.tables].map(([n, cols]) => [n, cols])),
      materializedViews: Object.fromEntries([...db.views].map(([n, v]) => [n, v.columns])),
      functions: Object.fromEntries([...db.functions].map(([n, f]) => [n, f.parameters])),
    };
    const output = {
      errors: report.errors.length,
      warnings: report.warnings.length,
      findings: report.findings,
      checked: report.checked,
      schema,
    };
    process.stdout.write(JSON.stringify(output, null, 1) + '\n');
  } else {
    for (const f of report.findings) {
      process.stdout.write(`${f.path}:${f.line}:${f.column}: ${f.severity} ${f.code}: ${f.message}\n`);
    }
    const c = report.checked;
    process.stdout.write(
      `${report.errors.length} errors, ${report.warnings.length} warnings in ${c.commands} commands, ` +
        `${c.embeddedQueries} update-policy queries, ${c.dashboardQueries} dashboard queries\n`,
    );
  }
  return report.errors.length ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
