import { describe, expect, it } from 'vitest';
import { cannotRun } from './real-agent.js';

/** cannotRun decides whether a real-CLI test file skips; only a CLI that cannot run here may make it skip. */
describe('cannotRun', () => {
  it('a CLI that prints its version: no reason', () => {
    expect(cannotRun(['sh', '-c', 'echo 1.2.3'], /^\d+\.\d+\.\d+/)).toBeUndefined();
  });

  it('a missing binary, or one that answers something else: the reason to skip with', () => {
    expect(cannotRun(['/nonexistent/mam-no-such-cli', '--version'], /./)).toMatch(/^\/nonexistent\/mam-no-such-cli --version: .*ENOENT/);
    expect(cannotRun(['sh', '-c', 'echo nope; exit 2'], /^\d/)).toBe('sh -c echo nope; exit 2 exited 2: nope');
  });

  it('a CLI too slow to answer is no reason to skip: it throws, so the file fails and says why', () => {
    expect(() => cannotRun(['sleep', '30'], /./, 200)).toThrow('sleep 30 did not answer within 0.2 s: it hangs, or the machine is overloaded');
  });
});
