/**
 * Which Kanban assignees are agent lanes, and which agent each runs (docs/lane.md, 'Profiles'). Pure: callers pass
 * the environment.
 *
 * `MAM_LANE_PROFILES` is a comma-separated list of `profile=agent` pairs; a bare `name-tmux` means the agent
 * `name`. Default: `claude-tmux,codex-tmux,gemini-tmux`.
 */
export const DEFAULT_LANE_PROFILES = 'claude-tmux,codex-tmux,gemini-tmux';

export interface LaneProfile {
  readonly profile: string;
  readonly agent: string;
}

export function laneProfiles(env: NodeJS.ProcessEnv): LaneProfile[] {
  const text = env['MAM_LANE_PROFILES']?.trim() || DEFAULT_LANE_PROFILES;
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .flatMap((item) => {
      const [profile, agent] = item.split('=', 2).map((part) => part.trim());
      if (!profile) return [];
      if (agent) return [{ profile, agent }];
      const implied = /^(.+)-tmux$/.exec(profile)?.[1];
      return implied ? [{ profile, agent: implied }] : [];
    });
}

/** The agent a lane profile runs, or undefined when `profile` is no lane. */
export function laneAgent(profile: string, env: NodeJS.ProcessEnv): string | undefined {
  return laneProfiles(env).find((lane) => lane.profile === profile)?.agent;
}

/** The session a card runs in: `<card>-<agent>`, with anything outside the session-name alphabet turned into `-`. */
export function laneSessionName(cardId: string, agent: string): string {
  return `${cardId}-${agent}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 128);
}
