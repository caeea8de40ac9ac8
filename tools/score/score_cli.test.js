// r1serve-score on the command line: one result line per item line, in order, for every task
// kind and a composite spec; a malformed line gets its own error line and the run goes on;
// --threads does not change the output; unusable flags and files exit non-zero.
//   node --test score_cli.test.js   (R1SERVE_SCORE_BIN: the binary)
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const {spawnSync} = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.R1SERVE_SCORE_BIN;
const ITEMS = path.join(__dirname, 'testdata', 'items.jsonl');

function score(args, input) {
  const r = spawnSync(BIN, args, {input, encoding: 'utf8', timeout: 120000});
  return {code: r.status, stdout: r.stdout, stderr: r.stderr,
          lines: r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))};
}

const run = score([`--input=${ITEMS}`, '--threads=2'], undefined);
const byId = Object.fromEntries(run.lines.filter((l) => l.id).map((l) => [l.id, l]));
const codeRuns = !(byId.code.error || '').includes('not supported');

test('one result per non-blank line, in order', () => {
  assert.equal(run.code, 0, run.stderr);
  const ids = run.lines.map((l) => l.id ?? `line ${l.line}`);
  assert.deepEqual(ids, ['math-right', 'math-wrong', 'math-frac', 'format-own-block',
                         'format-open-prompt', 'language-zh', 'language-detect', 'code',
                         'composite', 'line 11', 'no-task', 'bad-component', 'last']);
});

test('math accuracy is 1.0 when equivalent and 0.0 when not', () => {
  assert.equal(byId['math-right'].reward, 1);
  assert.equal(byId['math-right'].verdict, 'correct');
  assert.equal(byId['math-right'].extracted_answer, '42');
  assert.equal(byId['math-wrong'].reward, 0);
  assert.equal(byId['math-wrong'].verdict, 'wrong');
  assert.equal(byId['math-frac'].reward, 1, byId['math-frac'].reason);
  assert.equal(byId.last.reward, 1);
  assert.match(byId['math-right'].verifier_version, /^r1serve-verify /);
  assert.match(byId['math-right'].config_hash, /^[0-9a-f]{64}$/);
  assert.equal(byId['math-right'].config_hash, byId['math-wrong'].config_hash);
});

test('format depends on starts_in_reasoning', () => {
  assert.equal(byId['format-own-block'].reward, 1);
  assert.equal(byId['format-open-prompt'].reward, 0);
  assert.match(byId['format-open-prompt'].reason, /already opened/);
});

test('language consistency, given and detected', () => {
  assert.equal(byId['language-zh'].reward, 1, byId['language-zh'].reason);
  assert.equal(byId['language-detect'].reward, 1, byId['language-detect'].reason);
  assert.match(byId['language-detect'].reason, /Latn/);
});

test('code tests, fraction passed', {skip: !codeRuns && 'no python sandbox here'}, () => {
  const code = byId.code;
  assert.equal(code.verdict, 'wrong', JSON.stringify(code));
  assert.ok(Math.abs(code.reward - 2 / 3) < 1e-9, String(code.reward));
  assert.match(code.reason, /1 of 3 tests failed: test 3/);
});

test('a composite spec weighs its components in order', () => {
  const c = byId.composite;
  assert.deepEqual(c.components.map((x) => x.component),
                   ['math_answer', 'format', 'language_consistency']);
  assert.ok(Math.abs(c.reward - 1.35) < 1e-9, String(c.reward));
  assert.equal(c.verdict, 'correct');
  assert.match(c.reason, /^math_answer: .*; format: R1 format; language_consistency: /);
});

test('bad lines get error lines of their own', () => {
  const notJson = run.lines[9];
  assert.equal(notJson.line, 11);
  assert.match(notJson.error, /^line 11: .*not valid JSON/);
  assert.match(byId['no-task'].error, /"task" is required/);
  assert.match(byId['bad-component'].error, /unknown component "speed"/);
  assert.equal(byId['bad-component'].code, 'INVALID_ARGUMENT');
});

test('stdin to stdout, and --threads does not change the results', () => {
  const one = score(['--threads=1'], fs.readFileSync(ITEMS, 'utf8'));
  assert.equal(one.code, 0);
  const strip = (lines) => lines.map(({verify_us, ...rest}) => rest);
  assert.deepEqual(strip(one.lines), strip(run.lines));
});

test('--output writes a file; unusable flags and files exit non-zero', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'r1serve-score-'));
  const out = path.join(dir, 'out.jsonl');
  const r = score([`--input=${ITEMS}`, `--output=${out}`], undefined);
  assert.equal(r.code, 0);
  assert.equal(fs.readFileSync(out, 'utf8').trim().split('\n').length, run.lines.length);
  assert.equal(score([`--input=${dir}/missing.jsonl`], undefined).code, 1);
  assert.equal(score(['--item_timeout_s=0'], '').code, 2);
  fs.rmSync(dir, {recursive: true});
});
