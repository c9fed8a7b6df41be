'use strict';
// The database as our scripts build it, command by command, in apply order. Each command is
// analyzed against the state left by the ones before it, so a function that reads a table created
// later fails here as it would in ADX (which validates function bodies on creation).

const { K, S, schemaText } = require('./kusto');

class DatabaseModel {
  constructor(name) {
    this.name = name;
    this.tables = new Map(); // name -> [{name, type}]
    this.functions = new Map(); // name -> {parameters, body, docstring}
    this.views = new Map(); // name -> {columns, query}
    this._globals = null;
  }

  mergeTable(name, columns) {
    const existing = this.tables.get(name) || [];
    const merged = existing.slice();
    for (const column of columns) {
      if (!merged.some((c) => c.name === column.name)) merged.push(column);
    }
    this.tables.set(name, merged);
    this._globals = null;
  }

  setFunction(name, parameters, body, docstring) {
    this.functions.set(name, { parameters, body, docstring });
    this._globals = null;
  }

  setView(name, columns, query) {
    this.views.set(name, { columns, query });
    this._globals = null;
  }

  hasTabular(name) {
    return this.tables.has(name) || this.views.has(name);
  }

  /** GlobalState with this database as the default one; rebuilt only after a change. */
  globals() {
    if (!this._globals) {
      const members = [];
      for (const [name, columns] of this.tables) members.push(new S.TableSymbol.$ctor7(name, schemaText(columns), null));
      for (const [name, view] of this.views) {
        members.push(new S.MaterializedViewSymbol.$ctor3(name, schemaText(view.columns), view.query, null));
      }
      // Functions keep their bodies so that callers get the real result schema, and a function
      // calling a function resolves.
      for (const [name, fn] of this.functions) {
        members.push(new S.FunctionSymbol.$ctor16(name, fn.parameters, fn.body, fn.docstring || null));
      }
      const database = new S.DatabaseSymbol.$ctor2(this.name, null, members);
      this._globals = K.GlobalState.Default.WithDatabase(database);
    }
    return this._globals;
  }
}

module.exports = { DatabaseModel };
