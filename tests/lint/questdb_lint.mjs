// Lints QuestDB SQL statements with QuestDB's parser (@questdb/sql-parser).
//
// stdin:  a JSON array of statements (strings).
// stdout: a JSON array [{index, errors: [{message, severity, line, column, code}]}],
//         one entry per statement, in input order.
//
// Statements are checked as the project sends them, with placeholders. The
// parser knows no placeholders, so before parsing each placeholder outside
// quoted text is replaced by the literal 0 (a number parses wherever a bound
// value may stand):
//   - PostgreSQL / psycopg server-side:  $1, $2, ...
//   - psycopg client-side:               %s, %b, %t, %(name)s, %(name)b, %(name)t
//   - qmark:                             ?
// When a statement holds psycopg placeholders, `%%` (psycopg's escaped percent
// sign) is read back as `%`, inside and outside quoted text.
// Error positions refer to the normalised text, which keeps every line
// break of the original.
//
// A string holding more than one statement is an error: the client sends one
// statement per execute.
import { readFileSync } from 'node:fs';
import { parseToAst } from '@questdb/sql-parser';

const PSYCOPG = /^%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[sbt]/;

/** Replace placeholders outside '...' strings and "..." identifiers. */
function normalisePlaceholders(sql) {
  const psycopg = hasPsycopgPlaceholder(sql);
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "'" || ch === '"') {
      const end = closingQuote(sql, i);
      const quoted = sql.slice(i, end);
      out += psycopg ? quoted.replaceAll('%%', '%') : quoted;
      i = end;
      continue;
    }
    const rest = sql.slice(i);
    let m;
    if ((m = /^\$\d+/.exec(rest))) {
      out += '0';
      i += m[0].length;
    } else if (psycopg && rest.startsWith('%%')) {
      out += '%';
      i += 2;
    } else if (psycopg && (m = PSYCOPG.exec(rest))) {
      out += '0';
      i += m[0].length;
    } else if (ch === '?') {
      out += '0';
      i += 1;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

/** Index just past the quote closing the one at `start` (doubled quote = escape). */
function closingQuote(sql, start) {
  const q = sql[start];
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}

function hasPsycopgPlaceholder(sql) {
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "'" || ch === '"') {
      i = closingQuote(sql, i);
      continue;
    }
    if (sql.startsWith('%%', i)) {
      i += 2;
      continue;
    }
    if (ch === '%' && PSYCOPG.test(sql.slice(i, i + 80))) {
      return true;
    }
    i += 1;
  }
  return false;
}

function entry(message, line, column, code) {
  return { message, severity: 'error', line: line ?? null, column: column ?? null, code };
}

function lintOne(statement) {
  if (typeof statement !== 'string') return [entry('statement is not a string', null, null, 'input')];
  if (statement.trim().length === 0) return [entry('empty statement', null, null, 'input')];
  const sql = normalisePlaceholders(statement);
  let result;
  try {
    result = parseToAst(sql);
  } catch (exc) {
    return [entry(`parser failed: ${exc && exc.message ? exc.message : String(exc)}`, null, null, 'crash')];
  }
  const found = result.errors.map((e) => entry(e.message, e.line, e.column, 'syntax'));
  if (found.length === 0 && result.ast.length !== 1) {
    found.push(
      entry(
        `${result.ast.length} statements in one string; send one statement per execute`,
        null,
        null,
        'multiple',
      ),
    );
  }
  return found;
}

const input = JSON.parse(readFileSync(0, 'utf8'));
if (!Array.isArray(input)) {
  process.stderr.write('questdb_lint: stdin must be a JSON array of strings\n');
  process.exit(2);
}
const results = input.map((statement, index) => ({ index, errors: lintOne(statement) }));
process.stdout.write(JSON.stringify(results));
