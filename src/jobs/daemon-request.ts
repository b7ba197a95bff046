import path from 'node:path';
import * as z from 'zod';
import type { DaemonRequest as Request } from './daemon-client.js';
import { EVENT_KEY_PATTERN, JOB_EVENTS, JOB_ID_PATTERN } from './names.js';

/** A request line the job daemon accepts (src/jobs/daemon-client.ts sends it). */
export const DaemonRequest = z.object({
  v: z.literal(1),
  dir: z.string().refine((dir) => path.isAbsolute(dir), { error: 'dir must be an absolute path' }),
  id: z.string().regex(JOB_ID_PATTERN),
  event: z.enum(JOB_EVENTS),
  detail: z.string().nullable(),
  key: z.string().regex(EVENT_KEY_PATTERN),
}) satisfies z.ZodType<Request>;
