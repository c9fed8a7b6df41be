'use strict';
// One control command: Kusto.Language's diagnostics, then what the command does to the database
// model, plus the checks ADX makes when the command runs but the language service does not (the
// JSON inside mappings and update policies).

const { analyze, commandNode, findAllNamed, findNamed, kindName, literalValue, nodeText, resultColumns, walk } =
  require('./kusto');
const { position } = require('./report');

// Spellings ADX accepts for one type; mapping datatypes and table schemas may use either.
const TYPE_ALIASES = {
  double: 'real', float: 'real', boolean: 'bool', date: 'datetime', time: 'timespan', int32: 'int',
  int64: 'long', uniqueid: 'guid',
};
const canonicalType = (t) => TYPE_ALIASES[String(t).toLowerCase()] || String(t).toLowerCase();

/** `X`, `['X']` or `["X"]` -> `X`. */
function plainName(text) {
  const t = text.trim();
  const m = /^\[\s*(['"])(.*)\1\s*\]$/.exec(t);
  return m ? m[2] : t;
}

function checkCommand(db, command, report) {
  report.checked.commands += 1;
  const lineOf = (i) => command.lines[Math.min(i, command.lines.length - 1)];
  const at = (offset) => position(command.text, offset, lineOf);
  const fail = (code, message, offset = 0, context = '') =>
    report.add({ severity: 'Error', code, message, path: command.path, ...at(offset), context });

  const { code, diagnostics } = analyze(command.text, db.globals());
  for (const d of diagnostics) {
    report.add({ ...d, path: command.path, ...at(d.start), context: firstLine(command.text) });
  }
  const node = commandNode(code);
  if (!node || kindName(node) === 'UnknownCommand') {
    // Kusto.Language parses unknown commands without a diagnostic; for us it is a typo or a
    // command the service would reject.
    fail('KV001', 'not a control command Kusto.Language knows: ' + firstLine(command.text));
    return;
  }
  if (kindName(node) !== 'CustomCommand') return; // a syntax error, already reported above
  const handler = HANDLERS[node.CommandKind];
  if (handler) handler({ db, command, node, fail, report, at });
}

function firstLine(text) {
  return text.split('\n', 1)[0].slice(0, 120);
}

function onTable({ db, command, node }) {
  const name = plainName(nodeText(command.text, findNamed(node, 'TableName')));
  const names = findAllNamed(node, 'ColumnName').map((n) => plainName(nodeText(command.text, n)));
  const types = findAllNamed(node, 'ColumnType').map((n) => canonicalType(nodeText(command.text, n).trim()));
  db.mergeTable(name, names.map((n, i) => ({ name: n, type: types[i] })));
}

function onFunction({ db, command, node }) {
  const name = plainName(nodeText(command.text, findNamed(node, 'FunctionName')));
  let declaration = null;
  walk(node, (n) => {
    if (declaration) return false;
    if (kindName(n) === 'FunctionDeclaration') {
      declaration = n;
      return false;
    }
    return true;
  });
  if (!declaration) return;
  const parameters = nodeText(command.text, findNamed(declaration, 'Parameters')).trim();
  const body = nodeText(command.text, findNamed(declaration, 'Body')).trim();
  db.setFunction(name, parameters, body, null);
}

function onMaterializedView({ db, command, node, fail }) {
  const name = plainName(nodeText(command.text, findNamed(node, 'MaterializedViewName')));
  const source = plainName(nodeText(command.text, findNamed(node, 'SourceTableName')));
  const bodyNode = findNamed(node, 'SourceBody');
  const body = nodeText(command.text, bodyNode).trim();
  const query = body.replace(/^\{/, '').replace(/\}$/, '');
  if (!db.tables.has(source)) fail('KV010', `materialized view ${name}: source table ${source} does not exist yet`);
  // The body's own diagnostics came with the command; here we only need its result schema.
  const columns = resultColumns(analyze(query, db.globals()).code);
  if (!columns) {
    fail('KV011', `materialized view ${name}: its query has no tabular result`, bodyNode.TextStart);
    return;
  }
  db.setView(name, columns, query);
}

function parseJsonLiteral(node, what, fail) {
  const value = literalValue(node);
  try {
    return JSON.parse(value);
  } catch (e) {
    fail('KV020', `${what} is not valid JSON: ${e.message}`, node.TextStart);
    return null;
  }
}

function onUpdatePolicy({ db, command, node, fail, report, at }) {
  const table = plainName(nodeText(command.text, findNamed(node, 'TableName')));
  const literal = findNamed(node, 'UpdatePolicy');
  const policies = parseJsonLiteral(literal, `update policy of ${table}`, fail);
  if (policies === null) return;
  if (!Array.isArray(policies)) {
    fail('KV021', `update policy of ${table} must be a JSON array`, literal.TextStart);
    return;
  }
  const target = db.tables.get(table) || [];
  policies.forEach((policy, i) => {
    const where = `update policy ${i + 1} of ${table}`;
    if (!db.tables.has(policy.Source)) fail('KV022', `${where}: Source table ${policy.Source} does not exist`, literal.TextStart);
    if (typeof policy.Query !== 'string' || !policy.Query.trim()) {
      fail('KV023', `${where}: Query is missing`, literal.TextStart);
      return;
    }
    report.checked.embeddedQueries += 1;
    const { code, diagnostics } = analyze(policy.Query, db.globals());
    for (const d of diagnostics) {
      const finding = { ...d, message: `${where} (${policy.Query}): ${d.message}` };
      report.add({ ...finding, path: command.path, ...at(literal.TextStart) });
    }
    if (diagnostics.some((d) => d.severity === 'Error')) return;
    // ADX refuses a policy whose query output differs from the target table; check names, order
    // and types the same way, before anything is deployed.
    const columns = resultColumns(code) || [];
    const expected = target.map((c) => `${c.name}:${c.type}`).join(', ');
    const actual = columns.map((c) => `${c.name}:${canonicalType(c.type)}`).join(', ');
    if (expected !== actual) {
      fail('KV024', `${where}: query output (${actual}) does not match table ${table} (${expected})`, literal.TextStart);
    }
  });
}

function onMapping({ db, command, node, fail }) {
  const table = plainName(nodeText(command.text, findNamed(node, 'TableName')));
  const literal = findNamed(node, 'MappingFormat');
  const name = literalValue(findNamed(node, 'MappingName'));
  const entries = parseJsonLiteral(literal, `mapping ${name}`, fail);
  if (entries === null) return;
  if (!Array.isArray(entries)) {
    fail('KV030', `mapping ${name} must be a JSON array`, literal.TextStart);
    return;
  }
  const columns = new Map((db.tables.get(table) || []).map((c) => [c.name, c.type]));
  for (const entry of entries) {
    const column = entry.column || entry.Column;
    const path = entry.path || (entry.Properties && entry.Properties.Path);
    const datatype = entry.datatype || entry.DataType;
    if (!columns.has(column)) {
      fail('KV031', `mapping ${name}: column ${column} is not in table ${table}`, literal.TextStart);
      continue;
    }
    if (datatype && canonicalType(datatype) !== columns.get(column)) {
      fail('KV032', `mapping ${name}: ${column} is ${columns.get(column)} in ${table}, mapped as ${datatype}`, literal.TextStart);
    }
    if (typeof path !== 'string' || !path.startsWith('$')) {
      fail('KV033', `mapping ${name}: ${column} needs a JSON path starting with $`, literal.TextStart);
    }
  }
}

// Keyed by Kusto.Language's CommandKind; commands not listed are checked for syntax and names only.
const HANDLERS = {
  CreateTable: onTable,
  CreateMergeTable: onTable,
  CreateFunction: onFunction,
  AlterFunction: onFunction,
  CreateOrAlterFunction: onFunction,
  CreateMaterializedView: onMaterializedView,
  CreateOrAlterMaterializedView: onMaterializedView,
  AlterMaterializedView: onMaterializedView,
  AlterTablePolicyUpdate: onUpdatePolicy,
  AlterMergeTablePolicyUpdate: onUpdatePolicy,
  CreateTableIngestionMapping: onMapping,
  CreateOrAlterTableIngestionMapping: onMapping,
  AlterTableIngestionMapping: onMapping,
};

module.exports = { checkCommand, canonicalType };
