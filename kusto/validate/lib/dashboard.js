'use strict';
// ADX dashboards (the JSON "Export to file" writes, schema_version 52): the file's own consistency,
// then every query analyzed against the database model with the dashboard's parameters declared the
// way the dashboard passes them (`declare query_parameters`).

const { analyze, resultColumns } = require('./kusto');
const { position } = require('./report');

// Parameter kinds -> Kusto types; a multi-select ("array") parameter arrives as a dynamic array.
const PARAMETER_TYPES = { string: 'string', int: 'int', long: 'long', decimal: 'decimal', bool: 'bool', datetime: 'datetime' };

function declaredParameters(dashboard, fail) {
  const declared = new Map();
  for (const p of dashboard.parameters || []) {
    if (p.kind === 'duration') {
      declared.set(p.beginVariableName, 'datetime');
      declared.set(p.endVariableName, 'datetime');
    } else if (PARAMETER_TYPES[p.kind]) {
      declared.set(p.variableName, p.selectionType === 'array' ? 'dynamic' : PARAMETER_TYPES[p.kind]);
    } else {
      fail('KV040', `parameter ${p.displayName || p.id}: kind ${p.kind} is not one the validator knows`);
    }
  }
  return declared;
}

function usesName(text, name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}($|[^A-Za-z0-9_])`).test(text);
}

function checkStructure(dashboard, fail) {
  for (const key of ['schema_version', 'title', 'tiles', 'queries', 'dataSources', 'pages', 'parameters']) {
    if (!(key in dashboard)) fail('KV041', `missing top-level "${key}"`);
  }
  const ids = (items) => new Set((items || []).map((x) => x.id));
  const pages = ids(dashboard.pages);
  const queries = ids(dashboard.queries);
  const sources = ids(dashboard.dataSources);
  const used = new Set();
  for (const tile of dashboard.tiles || []) {
    if (!pages.has(tile.pageId)) fail('KV042', `tile "${tile.title}": pageId ${tile.pageId} is not a page`);
    const queryId = tile.queryRef && tile.queryRef.queryId;
    if (!queries.has(queryId)) fail('KV043', `tile "${tile.title}": queryRef ${queryId} is not a query`);
    used.add(queryId);
  }
  for (const parameter of dashboard.parameters || []) {
    const ref = parameter.dataSource && parameter.dataSource.queryRef;
    if (ref) used.add(ref.queryId);
  }
  for (const query of dashboard.queries || []) {
    const source = query.dataSource && query.dataSource.dataSourceId;
    if (!sources.has(source)) fail('KV044', `query ${query.id}: dataSourceId ${source} is not a data source`);
    if (!used.has(query.id)) fail('KV045', `query ${query.id} is used by no tile or parameter`);
  }
  if ((dashboard.baseQueries || []).length) fail('KV046', 'baseQueries are not supported by this validator');
}

function tileTitles(dashboard) {
  const titles = new Map();
  for (const tile of dashboard.tiles || []) titles.set(tile.queryRef && tile.queryRef.queryId, tile.title);
  for (const p of dashboard.parameters || []) {
    if (p.dataSource && p.dataSource.queryRef) titles.set(p.dataSource.queryRef.queryId, `parameter ${p.displayName}`);
  }
  return titles;
}

function specifiedColumns(option) {
  if (!option || option.type !== 'specified') return [];
  return Array.isArray(option.value) ? option.value : [option.value];
}

function checkDashboard(db, file, report) {
  const fail = (code, message, line = 1, column = 1, context = '') =>
    report.add({ severity: 'Error', code, message, path: file.path, line, column, context });
  let dashboard;
  try {
    dashboard = JSON.parse(file.content);
  } catch (e) {
    fail('KV047', `not valid JSON: ${e.message}`);
    return;
  }
  checkStructure(dashboard, fail);
  const declared = declaredParameters(dashboard, fail);
  const titles = tileTitles(dashboard);
  const prefix = declared.size
    ? `declare query_parameters(${[...declared].map(([n, t]) => `${n}:${t}`).join(', ')});\n`
    : '';
  const resultsByQuery = new Map();
  for (const query of dashboard.queries || []) {
    report.checked.dashboardQueries += 1;
    const context = titles.get(query.id) || query.id;
    const { code, diagnostics } = analyze(prefix + query.text, db.globals());
    for (const d of diagnostics) {
      // Offsets are shifted back past the declaration we prepended: lines are the query's own.
      const at = position(query.text, d.start - prefix.length, (i) => i + 1);
      report.add({ ...d, message: `tile "${context}": ${d.message}`, path: file.path, ...at, context });
    }
    resultsByQuery.set(query.id, resultColumns(code));
    // The dashboard sends only the parameters a query lists in usedVariables.
    const listed = new Set(query.usedVariables || []);
    for (const name of declared.keys()) {
      if (usesName(query.text, name) && !listed.has(name)) {
        fail('KV048', `tile "${context}": uses ${name} but does not list it in usedVariables`, 1, 1, context);
      }
    }
    for (const name of listed) {
      if (!declared.has(name)) fail('KV049', `tile "${context}": usedVariables names ${name}, not a parameter`, 1, 1, context);
    }
  }
  for (const tile of dashboard.tiles || []) {
    const columns = resultsByQuery.get(tile.queryRef && tile.queryRef.queryId);
    if (!columns) continue;
    const names = new Set(columns.map((c) => c.name));
    const options = tile.visualOptions || {};
    for (const key of ['xColumn', 'yColumns', 'seriesColumns', 'labelColumn', 'valueColumn']) {
      for (const column of specifiedColumns(options[key])) {
        if (!names.has(column)) {
          fail('KV050', `tile "${tile.title}": visualOptions.${key} names ${column}, not a column of its query`, 1, 1, tile.title);
        }
      }
    }
  }
}

module.exports = { checkDashboard };
