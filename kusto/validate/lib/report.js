'use strict';
// Findings: what the validator says about one place in our sources. Errors fail the run; warnings
// (Kusto.Language's performance and style hints) are shown but do not.

class Report {
  constructor() {
    this.findings = [];
    this.checked = { commands: 0, embeddedQueries: 0, dashboardQueries: 0 };
  }

  add(finding) {
    this.findings.push({
      severity: finding.severity === 'Error' ? 'error' : finding.severity === 'Warning' ? 'warning' : 'info',
      code: finding.code,
      message: finding.message,
      path: finding.path,
      line: finding.line,
      column: finding.column,
      context: finding.context || '',
    });
  }

  get errors() {
    return this.findings.filter((f) => f.severity === 'error');
  }

  get warnings() {
    return this.findings.filter((f) => f.severity === 'warning');
  }
}

/** 1-based line and column of `offset` in `text`, with text line i at source line `lineOf(i)`. */
function position(text, offset, lineOf) {
  const before = text.substring(0, Math.max(0, Math.min(offset, text.length)));
  const index = before.split('\n').length - 1;
  const column = before.length - (before.lastIndexOf('\n') + 1) + 1;
  return { line: lineOf(index), column };
}

module.exports = { Report, position };
