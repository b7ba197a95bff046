import path from 'node:path';
import { UsageError } from '../util/errors.js';
import { runBroker } from '../mqtt/broker.js';
import { parseFlags, positiveSeconds, untilStopped, writeLine, type Command } from './command.js';
import { brokerDir } from '../config.js';

const HELP = `Usage: mam broker [--port N] [--host 127.0.0.1] [--idle-exit SECONDS] [--dir DIR]

Run the embedded MQTT broker (aedes, MQTT 3.1.1) in the foreground, for delegated-job events. It listens on
loopback, writes DIR/broker.json {pid, port, url, started_at} once listening and removes it when it stops
(Ctrl-C, SIGTERM, or the idle exit). Sessions and retained messages are kept in memory only: a restarted broker
has forgotten them, and subscribers catch up from the job files.

Jobs start this broker on demand (detached, --idle-exit 300) when no broker URL is configured; running it by
hand is for debugging or to keep one up.

Options:
  --port N              TCP port (default 0: any free port)
  --host ADDR           address to listen on (default 127.0.0.1; the broker has no authentication)
  --idle-exit SECONDS   exit after this long with no client connected (default: never)
  --dir DIR             where broker.json goes (default $MAM_BROKER_DIR, else
                        \${XDG_CACHE_HOME:-~/.cache}/mam/broker)`;

export const brokerCommand: Command = {
  help: HELP,
  async run(context) {
    const { values } = parseFlags('broker', context.argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      'idle-exit': { type: 'string' },
      dir: { type: 'string' },
    });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`broker: --port takes a port number 0–65535, not ${JSON.stringify(values.port)}`);
    }
    const host = values.host ?? '127.0.0.1';
    if (host.trim() === '') throw new UsageError('broker: --host takes an address, e.g. 127.0.0.1');
    const idleExitS = values['idle-exit'] === undefined ? undefined : positiveSeconds('broker', 'idle-exit', values['idle-exit'], 0);
    const dir = values.dir === undefined ? brokerDir(context.env) : path.resolve(context.cwd, values.dir);
    await untilStopped((signal) =>
      runBroker({
        port,
        host,
        dir,
        idleExitMs: idleExitS === undefined ? undefined : idleExitS * 1000,
        signal,
        log: (line) => writeLine(context.stdout, `${new Date().toISOString()} ${line}`),
      }),
    );
    return 0;
  },
};
