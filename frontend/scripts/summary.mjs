#!/usr/bin/env node
// Print "N passed, N failed" from a Vitest (or Playwright) JSON report.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch (e) {
  console.error(`cannot read ${path}: ${e.message}`);
  process.exit(2);
}

function counts(r) {
  if (typeof r.numPassedTests === 'number') {
    // Vitest/Jest: suites that fail to load count as failures too
    const suiteErrors = (r.testResults ?? []).filter((s) => s.status === 'failed' && !(s.assertionResults ?? []).length).length;
    return { passed: r.numPassedTests, failed: r.numFailedTests + suiteErrors };
  }
  if (r.stats && typeof r.stats.expected === 'number') {
    // Playwright JSON reporter
    return { passed: r.stats.expected + (r.stats.flaky ?? 0), failed: r.stats.unexpected };
  }
  if (Array.isArray(r.results)) {
    // e2e/run.mjs's own report
    return { passed: r.results.filter((t) => t.ok).length, failed: r.results.filter((t) => !t.ok).length };
  }
  throw new Error('unrecognised report format');
}

const { passed, failed } = counts(report);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
