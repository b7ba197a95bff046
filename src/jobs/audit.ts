import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { JobEvent } from './schema.js';

/**
 * The persistent audit log of a job: `<root>/<job_id>/` (root: `$DELEGATE_JOB_LOGS_DIR`, else
 * `<registry dir>/delegate_job_logs`), holding the instruction sent, every event, the validation output and
 * the agent pane's final text. It outlives the job file's directory being cleaned, which is the point.
 */
export class AuditLog {
  constructor(readonly dir: string) {}

  static for(root: string, jobId: string): AuditLog {
    return new AuditLog(path.join(root, jobId));
  }

  async instruction(text: string): Promise<void> {
    await this.write('instruction.txt', text);
  }

  async event(event: JobEvent): Promise<void> {
    await this.events([event]);
  }

  /** Several events in one append, in order. */
  async events(events: readonly JobEvent[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await appendFile(path.join(this.dir, 'events.jsonl'), events.map((event) => `${JSON.stringify(event)}\n`).join(''), { mode: 0o600 });
  }

  async validation(script: string, exitCode: number, output: string): Promise<void> {
    await this.write('validation.txt', `script: ${script}\nexit: ${exitCode}\n\n${output}`);
  }

  async paneFinal(text: string): Promise<void> {
    await this.write('pane-final.txt', text);
  }

  private async write(name: string, text: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(this.dir, name), text, { mode: 0o600 });
  }
}

export async function listLogDirs(root: string): Promise<string[]> {
  return (await readdir(root, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}
