import { describe, expect, it } from 'vitest';
import { outputTail, redact } from '../../../functions/core/redact.ts';

describe('redact', () => {
  it.each([
    ['a URL with credentials', 'connect postgres://app:hunter2hunter2@db.internal:5432/web failed', 'hunter2hunter2', 'postgres://[redacted]@db.internal'],
    ['a bearer token', 'GET /api 401 Authorization: Bearer abc.def-ghi_jkl123', 'abc.def-ghi_jkl123', '[redacted]'],
    ['an AWS access key id', 'using key AKIAIOSFODNN7EXAMPLE for s3', 'AKIAIOSFODNN7EXAMPLE', 'using key [redacted]'],
    ['a secret-looking KEY=VALUE', 'env: DATABASE_PASSWORD=s3cr3t-value PORT=3000', 's3cr3t-value', 'DATABASE_PASSWORD=[redacted] PORT=3000'],
    ['a JSON secret', '{"apiKey":"k-1234567890","port":3000}', 'k-1234567890', '"apiKey":[redacted]'],
    ['a Slack token', 'slack failed with xoxb-1234567890-abcdefghij', 'xoxb-1234567890-abcdefghij', '[redacted]'],
    ['a *_KEY=VALUE', 'starting with STRIPE_KEY=rk_live_51abcdefgh PORT=3000', 'rk_live_51abcdefgh', 'STRIPE_KEY=[redacted] PORT=3000'],
    ['a whole Cookie header', 'headers: Cookie: theme=dark; sid=s%3Aabcdef123456', 'sid=s%3Aabcdef123456', 'Cookie: [redacted]'],
    ['an AWS secret access key', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI', 'AWS_SECRET_ACCESS_KEY=[redacted]'],
    ['a JWT', 'session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJhbGciOiJIUzI1NiJ9', '[redacted]'],
  ])('hides %s', (_what, line, secret, shown) => {
    // Act
    const result = redact(line);

    // Assess
    expect(result).not.toContain(secret);
    expect(result).toContain(shown);
  });

  it('leaves ordinary log text as it is', () => {
    const line = '[PM2] Spawning PM2 daemon with pm2_home=/home/ubuntu/.pm2 spawn /usr/bin/node EACCES';
    expect(redact(line)).toBe(line);
  });
});

describe('outputTail', () => {
  it('keeps the last lines of stdout then stderr, without colours, each cut, redacted before the cut', () => {
    // Prepare
    const stdout = ['[PM2] Spawning PM2 daemon', '\u001b[31mspawn /usr/bin/node EACCES\u001b[39m', '', 'result=failed action=start exit=1'].join('\n');
    const stderr = `TOKEN=${'x'.repeat(300)}\n`;

    // Act
    const tail = outputTail({ stdout, stderr }, 3, 40);

    // Assess
    expect(tail).toEqual(['spawn /usr/bin/node EACCES', 'result=failed action=start exit=1', 'TOKEN=[redacted]']);
  });

  it('bounds the number of lines', () => {
    const stdout = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    expect(outputTail({ stdout, stderr: '' })).toEqual(Array.from({ length: 8 }, (_, i) => `line ${42 + i}`));
  });
});
