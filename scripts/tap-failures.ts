// The failures of a tap run, told again at its end: `scripts/test` keeps tap's TAP output and prints each failing
// assertion with the path of subtests it is in and its diagnostics, so the last lines of a long run name what
// failed (CI shows the tail of the output). Reads the TAP output file named as the only argument.
import { readFileSync } from 'node:fs';

const MAX_DIAGNOSTIC_LINES = 40;

interface Failure {
  readonly path: readonly string[];
  readonly diagnostics: readonly string[];
}

/** Leaf failures only: a subtest that fails because a child failed is named in the child's path. */
export function tapFailures(tap: string): Failure[] {
  const lines = tap.split('\n');
  const names: string[] = [];
  // failedWithin[d]: an assertion failed inside the subtest whose header is at depth d.
  const failedWithin: boolean[] = [];
  const failures: Failure[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const depth = Math.floor((line.length - line.trimStart().length) / 4);
    const text = line.trimStart();
    const subtest = /^# Subtest: (.*)$/.exec(text);
    if (subtest) {
      names[depth] = subtest[1] ?? '';
      names.length = depth + 1;
      failedWithin[depth] = false;
      continue;
    }
    const notOk = /^not ok \d+ - (.*?)(?: # time=.*)?$/.exec(text);
    if (!notOk) continue;
    const name = notOk[1] ?? '';
    const diagnostics: string[] = [];
    const open = lines[i + 1] ?? '';
    if (open.trim() === '---') {
      const indent = open.length - open.trimStart().length;
      for (let j = i + 2; j < lines.length && (lines[j] ?? '').trim() !== '...'; j++) {
        diagnostics.push((lines[j] ?? '').slice(indent));
      }
    }
    const subtestResult = names[depth] === name && failedWithin[depth] === true;
    for (let d = 0; d < depth; d++) failedWithin[d] = true;
    if (!subtestResult) failures.push({ path: [...names.slice(0, depth), name], diagnostics });
  }
  return failures;
}

function main(file: string): void {
  const failures = tapFailures(readFileSync(file, 'utf8'));
  if (failures.length === 0) return;
  console.log(`\nscripts/test: ${failures.length} failing assertion(s):`);
  for (const failure of failures) {
    console.log(`\nnot ok: ${failure.path.join(' > ')}`);
    const shown = failure.diagnostics.slice(0, MAX_DIAGNOSTIC_LINES);
    for (const line of shown) console.log(`    ${line}`);
    if (failure.diagnostics.length > shown.length) {
      console.log(`    … ${failure.diagnostics.length - shown.length} more lines`);
    }
  }
}

if (process.argv[2] !== undefined) main(process.argv[2]);
