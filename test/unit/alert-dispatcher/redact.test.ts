// Channel error texts are redacted before they are logged or stored: known secrets in every form, URL paths,
// and a 500-character cap.
import { describe, expect, it } from 'vitest';
import { describeFailure, MAX_ERROR_CHARS, redactSecrets } from '../../../lib/notifiers/index.js';
import { Secret } from '../../../lib/secret.js';
import { inspect } from 'node:util';

describe('redactSecrets', () => {
  const url = 'https://hooks.slack.com/services/T0/B0/MARKERSLACK';
  it('removes secret values, their URL-encoded and base64 forms, and URL paths', () => {
    const pw = new Secret('p@ss w0rd!MARKER');
    const text = `failed ${url} with p@ss w0rd!MARKER, ${encodeURIComponent('p@ss w0rd!MARKER')}, ${Buffer.from('p@ss w0rd!MARKER').toString('base64')} at https://other.example/x/y?token=1`;
    const out = redactSecrets(text, [url, pw]);
    expect(out).not.toContain('MARKER');
    expect(out).not.toContain('cDBzcy');
    expect(out).toContain('https://other.example/…');
  });

  it('caps the length', () => {
    expect(redactSecrets('x'.repeat(2000), [])).toHaveLength(MAX_ERROR_CHARS);
  });

  it('describes thrown values without stacks, with their cause', () => {
    const e = Object.assign(new Error(`connect to ${url} failed`), {
      code: 'ECONNREFUSED',
      cause: new Error('refused'),
    });
    expect(describeFailure(e, [url])).toBe('Error [ECONNREFUSED]: connect to [redacted] failed (refused)');
  });
});

describe('Secret', () => {
  it('prints as [redacted] everywhere but reveal()', () => {
    const s = new Secret('MARKER');
    expect(String(s)).toBe('[redacted]');
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect({ s })).not.toContain('MARKER');
    expect(s.reveal()).toBe('MARKER');
  });
});
