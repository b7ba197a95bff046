import { describe, expect, it } from 'vitest';
import { notifySettings } from '../../src/config.js';
import { appleScriptString, desktopCommand } from '../../src/notify/desktop.js';
import { approvalDetail, notificationText, sessionName } from '../../src/notify/message.js';
import type { Facts } from '../../src/facts/derive.js';

describe('notification settings (MAM_NOTIFY, MAM_NOTIFY_EVENTS, --no-notify)', () => {
  const of = (env: NodeJS.ProcessEnv, off = false) => {
    const settings = notifySettings(env, off);
    return { channels: [...settings.channels].sort(), events: [...settings.events].sort(), problems: settings.problems };
  };

  it('by default: every channel, approvals only', () => {
    expect(of({})).toEqual({ channels: ['desktop', 'tmux'], events: ['approval'], problems: [] });
    expect(of({ MAM_NOTIFY: 'on' })).toEqual(of({}));
  });

  it('off by the variable or the flag, whatever else is set', () => {
    for (const word of ['off', 'OFF', '0', 'none']) expect(of({ MAM_NOTIFY: word }).channels).toEqual([]);
    expect(of({ MAM_NOTIFY: 'desktop,off' }).channels).toEqual([]);
    expect(of({ MAM_NOTIFY: 'tmux' }, true).channels).toEqual([]);
  });

  it('chosen channels and events; all events', () => {
    expect(of({ MAM_NOTIFY: 'tmux', MAM_NOTIFY_EVENTS: 'approval, died' })).toEqual({ channels: ['tmux'], events: ['approval', 'died'], problems: [] });
    expect(of({ MAM_NOTIFY_EVENTS: 'all' }).events).toEqual(['approval', 'died', 'done']);
  });

  it('an unknown word is reported and skipped; the rest still counts (a typo must not stop the watcher)', () => {
    const settings = of({ MAM_NOTIFY: 'tmux,desktp', MAM_NOTIFY_EVENTS: 'aproval,died' });
    expect(settings.channels).toEqual(['tmux']);
    expect(settings.events).toEqual(['died']);
    expect(settings.problems).toEqual([
      'MAM_NOTIFY: "desktp" is not one of desktop, tmux, all; ignored',
      'MAM_NOTIFY_EVENTS: "aproval" is not one of approval, done, died, all; ignored',
    ]);
  });
});

describe('notification words and commands', () => {
  const facts: Facts = {
    session: { session_id: 's', agent: 'claude', cwd: '/home/u/landing', transcript_path: null, mam_session: null, pid: null, pid_start: null, transcript_offset: null, model: null, pane: null, started_at: '', updated_at: '' },
    agents: {
      main: { status: 'needs_approval', tools: { t1: { status: 'working', tool_name: 'Read', input: null, command: null }, t2: { status: 'needs_approval', tool_name: 'Bash', input: null, command: 'npm   test\n  --watch' } }, agent_type: null, needs_approval_since: null, background: [], limit: null, updated_at: '' },
    },
  };

  it('names a session by its registry name, else its folder, else its id; says what the approval is for', () => {
    expect(sessionName('7d2c9f4e-aaaa', facts)).toBe('landing');
    expect(sessionName('7d2c9f4e-aaaa', { ...facts, session: { ...facts.session!, mam_session: 'landing-creator-claude' } })).toBe('landing-creator-claude');
    expect(sessionName('7d2c9f4e-aaaa', undefined)).toBe('7d2c9f4e');
    expect(approvalDetail(facts)).toBe('Bash: npm test --watch');
  });

  it('one announcement is a sentence; several, a count and a line each', () => {
    const one = notificationText([{ session: 's', event: 'approval', name: 'landing', detail: 'Bash: npm test', socket: null }]);
    expect(one).toEqual({ title: 'mam: landing needs approval', body: 'Bash: npm test', line: 'mam: landing needs approval (Bash: npm test)' });
    const two = notificationText([
      { session: 's', event: 'approval', name: 'a', detail: null, socket: null },
      { session: 't', event: 'died', name: 'b', detail: null, socket: null },
    ]);
    expect(two).toEqual({ title: 'mam: 2 agents need a look', body: 'a needs approval\nb died', line: 'mam: a needs approval · b died' });
  });

  it('notify-send on Linux, osascript on macOS; argv only, quotes escaped for AppleScript', () => {
    expect(desktopCommand('linux', '-t', 'b')).toEqual({ bin: 'notify-send', args: ['--app-name=mam', '--', '-t', 'b'] });
    expect(desktopCommand('linux', 't', '')).toEqual({ bin: 'notify-send', args: ['--app-name=mam', '--', 't'] });
    expect(desktopCommand('darwin', 'say "hi"', 'a\\b')).toEqual({ bin: 'osascript', args: ['-e', 'display notification "a\\\\b" with title "say \\"hi\\""'] });
    expect(appleScriptString('x"y')).toBe('"x\\"y"');
  });
});
