import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { acquireContended, processIsGone } from './lock.js';

describe('processIsGone', () => {
  it('knows this process and its parent are alive, and a free pid or junk is not', () => {
    expect(processIsGone(process.pid)).toBe(false);
    expect(processIsGone(process.ppid)).toBe(false);
    expect(processIsGone(0x7ffffff0)).toBe(true);
    expect(processIsGone(0)).toBe(true);
    expect(processIsGone(-1)).toBe(true);
  });

  it('counts a zombie (killed, not yet reaped) as gone', async () => {
    // sh starts `sleep 0.2` in the background, prints its pid and becomes
    // `sleep 5`, which never reaps it (0.2 s: it ends after the exec, so sh
    // cannot have reaped it).
    const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: parent.stdout! }), 'line')) as [string];
      const zombie = Number(line);
      for (let i = 0; i < 200 && !processIsGone(zombie); i++) await new Promise((r) => setTimeout(r, 10));
      expect(() => process.kill(zombie, 0)).not.toThrow(); // still in the process table...
      expect(processIsGone(zombie)).toBe(true); // ...but a zombie
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('acquireContended', () => {
  it('takes over a lock of a dead owner or of our own (reused) pid at once', () => {
    const words = new Int32Array(4);
    words[1] = 0x7ffffff0;
    acquireContended(words, 1, process.pid);
    expect(words[1]).toBe(process.pid);
    acquireContended(words, 1, process.pid);
    expect(words[1]).toBe(process.pid);
  });

  it('takes over a lock a live owner has held past the limit', () => {
    const words = new Int32Array(1);
    words[0] = process.ppid; // alive, never releases
    const started = performance.now();
    acquireContended(words, 0, process.pid, 30);
    expect(words[0]).toBe(process.pid);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });

  it('gets a free lock', () => {
    const words = new Int32Array(1);
    acquireContended(words, 0, 1234);
    expect(words[0]).toBe(1234);
  });
});
