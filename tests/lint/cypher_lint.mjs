// Lints Cypher statements with Neo4j's own front end, for Neo4j 5 (Cypher 5).
//
// stdin:  a JSON array of statements (strings).
// stdout: a JSON array [{index, errors: [{message, severity, line, column, code}]}],
//         one entry per statement, in input order.
//
// `@neo4j-cypher/language-support` runs an ANTLR syntax check plus Neo4j's
// semantic analysis (the real front end compiled to JavaScript); the
// semantic analysis is run for Cypher 5 unless a statement starts with a
// `CYPHER <version>` prefix.
//
// What counts as an error here (severity "error"):
//   - every diagnostic the library reports as an error, except "Parameter $x
//     is not defined." (we pass no parameter declarations: the project sends
//     every value as a parameter);
//   - every warning, except the performance and schema hints listed in
//     HINTS below (deprecations, for instance, fail);
//   - a `CYPHER 25` prefix (production runs Neo4j 5, which has no Cypher 25);
//   - more than one statement in one string (the driver sends one statement
//     per run).
// Hints are reported with severity "hint" so the caller can show them.
import { readFileSync } from 'node:fs';
import {
  isNotParamError,
  lintCypherQuery,
  parseStatementsStrs,
} from '@neo4j-cypher/language-support';

const SCHEMA = { defaultLanguage: 'CYPHER 5' };

// Warnings that describe cost or schema, not validity on Neo4j 5.
const HINTS = [
  /cartesian product/i,
  /shortest path with an unbounded pattern/i,
  /shortest path with an exhaustive search fallback/i,
  /is not present in the database/i,
];

const ERROR = 1;
const WARNING = 2;

function isHint(diagnostic) {
  return (
    diagnostic.severity === WARNING &&
    !/deprecat/i.test(diagnostic.message) &&
    HINTS.some((re) => re.test(diagnostic.message))
  );
}

function toEntry(diagnostic, severity) {
  return {
    message: diagnostic.message,
    severity,
    line: diagnostic.range ? diagnostic.range.start.line + 1 : null,
    column: diagnostic.range ? diagnostic.range.start.character + 1 : null,
    code: diagnostic.severity === ERROR ? 'error' : 'warning',
  };
}

function stripLeadingComments(text) {
  let rest = text;
  for (;;) {
    const trimmed = rest.replace(/^\s+/, '');
    if (trimmed.startsWith('//')) {
      const nl = trimmed.indexOf('\n');
      rest = nl < 0 ? '' : trimmed.slice(nl + 1);
    } else if (trimmed.startsWith('/*')) {
      const end = trimmed.indexOf('*/');
      rest = end < 0 ? '' : trimmed.slice(end + 2);
    } else {
      return trimmed;
    }
  }
}

function lintOne(statement) {
  if (typeof statement !== 'string') {
    return [{ message: 'statement is not a string', severity: 'error', line: null, column: null, code: 'input' }];
  }
  if (statement.trim().length === 0) {
    return [{ message: 'empty statement', severity: 'error', line: null, column: null, code: 'input' }];
  }
  const found = [];
  const head = stripLeadingComments(statement);
  const version = /^CYPHER\s+(\d+)\b/i.exec(head);
  if (version && version[1] !== '5') {
    found.push({
      message: `CYPHER ${version[1]} is not available on Neo4j 5; write Cypher 5`,
      severity: 'error',
      line: null,
      column: null,
      code: 'version',
    });
  }
  const parts = parseStatementsStrs(statement).filter((s) => s.trim().length > 0);
  if (parts.length > 1) {
    found.push({
      message: `${parts.length} statements in one string; the driver runs one statement at a time`,
      severity: 'error',
      line: null,
      column: null,
      code: 'multiple',
    });
  }
  const { diagnostics } = lintCypherQuery(statement, SCHEMA, {
    consoleCommandsEnabled: false,
  });
  for (const d of diagnostics) {
    if (!isNotParamError(d)) continue; // undeclared $param: allowed
    if (d.severity === ERROR) found.push(toEntry(d, 'error'));
    else if (isHint(d)) found.push(toEntry(d, 'hint'));
    else found.push(toEntry(d, 'error'));
  }
  return found;
}

const input = JSON.parse(readFileSync(0, 'utf8'));
if (!Array.isArray(input)) {
  process.stderr.write('cypher_lint: stdin must be a JSON array of strings\n');
  process.exit(2);
}
const results = input.map((statement, index) => ({ index, errors: lintOne(statement) }));
process.stdout.write(JSON.stringify(results));
