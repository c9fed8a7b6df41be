'use strict';
// Thin layer over Microsoft's Kusto.Language (the C# parser/analyzer compiled to JavaScript with
// Bridge.NET, shipped as @kusto/language-service-next). Bridge keeps C# shapes: overloaded
// constructors are `$ctorN`, lists are read through System.Array helpers, and the library installs
// itself as globals (`Bridge`, `System`, `Kusto`), which is why it is loaded with bare requires.

require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

const K = globalThis.Kusto.Language;
const S = K.Symbols;
const SyntaxKind = K.Syntax.SyntaxKind;

function listItems(list, type) {
  if (!list) return [];
  const count = System.Array.getCount(list, type);
  const items = [];
  for (let i = 0; i < count; i++) items.push(System.Array.getItem(list, i, type));
  return items;
}

/** Parse and analyze `text` against `globals`; return the code and its diagnostics as plain objects. */
function analyze(text, globals) {
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = listItems(code.GetDiagnostics(), K.Diagnostic).map((d) => ({
    severity: String(d.Severity),
    code: String(d.Code),
    message: String(d.Message),
    start: d.Start,
  }));
  return { code, diagnostics };
}

function kindName(node) {
  return System.Enum.toString(SyntaxKind, node.Kind);
}

/** Depth-first walk over the syntax tree; `visit` returning false stops descent into that node. */
function walk(node, visit) {
  if (!node) return;
  if (visit(node) === false) return;
  for (let i = 0; i < node.ChildCount; i++) walk(node.GetChild(i), visit);
}

/** The first node whose role in its parent (Kusto.Language's grammar names them) is `name`. */
function findNamed(root, name) {
  let found = null;
  walk(root, (node) => {
    if (found) return false;
    if (node.NameInParent === name) {
      found = node;
      return false;
    }
    return true;
  });
  return found;
}

function findAllNamed(root, name) {
  const found = [];
  walk(root, (node) => {
    if (node.NameInParent === name) found.push(node);
    return true;
  });
  return found;
}

/** The statement of a control command: a CustomCommand (known), UnknownCommand, or null. */
function commandNode(code) {
  let found = null;
  walk(code.Syntax, (node) => {
    if (found) return false;
    const kind = kindName(node);
    if (kind === 'CustomCommand' || kind === 'UnknownCommand' || kind === 'CommandAndSkippedTokens') {
      found = node;
      return false;
    }
    return true;
  });
  return found;
}

function nodeText(text, node) {
  return text.substring(node.TextStart, node.End);
}

function literalValue(node) {
  return node && node.LiteralValue != null ? String(node.LiteralValue) : null;
}

/** Columns of a tabular result as [{name, type}], type in schema spelling (real, dynamic, ...). */
function resultColumns(code) {
  const type = code.ResultType;
  if (!type || !(type instanceof S.TableSymbol)) return null;
  return listItems(type.Columns, S.ColumnSymbol).map((c) => ({ name: String(c.Name), type: String(c.Type.Name) }));
}

function schemaText(columns) {
  // Bracket-quoted names: a column called e.g. `Timestamp` or `Path` is fine unquoted, but quoting
  // keeps the schema text valid whatever a name is.
  return '(' + columns.map((c) => `['${c.name}']:${c.type}`).join(', ') + ')';
}

module.exports = {
  K,
  S,
  analyze,
  commandNode,
  findAllNamed,
  findNamed,
  kindName,
  listItems,
  literalValue,
  nodeText,
  resultColumns,
  schemaText,
  walk,
};
