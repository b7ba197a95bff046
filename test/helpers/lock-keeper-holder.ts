/**
 * A process that takes a lock through src/registry/lock-keeper.ts and holds it until it is killed: prints `held`
 * once it has it. For test/registry/lock-keeper.test.ts, which SIGKILLs it and expects the lock to be free.
 */
import { lockKeeper } from '../../src/registry/lock-keeper.js';

const file = process.argv[2];
if (!file) throw new Error('usage: lock-keeper-holder.ts LOCK_FILE');
await lockKeeper().withLock(file, async () => {
  process.stdout.write('held\n');
  await new Promise(() => undefined);
});
