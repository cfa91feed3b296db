import type { Rollout, WaveProgress } from '../../../common/api/rollouts';
import { api, ApiProblem, path } from '../api';
import { el, replaceChildren } from '../dom';
import { followStream } from '../eventStream';
import { FINISHED_STATES, type Leave, STATE_LABELS, stateBadge, type ViewContext } from './shared';

type Action = 'approve' | 'pause' | 'resume' | 'abort';

/** Which actions make sense in which state; the workflow's validators still decide. */
const ACTION_STATES: Record<Action, (rollout: Rollout) => boolean> = {
  approve: (rollout) => rollout.state === 'AWAITING_APPROVAL',
  pause: (rollout) =>
    !rollout.paused && !FINISHED_STATES.includes(rollout.state) && rollout.state !== 'PROMOTING',
  resume: (rollout) => rollout.paused === true,
  abort: (rollout) => !FINISHED_STATES.includes(rollout.state) && rollout.state !== 'PROMOTING',
};

/**
 * One rollout, kept current by its event stream: the waves fill as instances take the version, and each
 * change is announced in the live region. Release managers get the steering form; operators do not (the
 * server refuses them anyway).
 */
export async function showRollout(context: ViewContext, rolloutId: string): Promise<Leave> {
  const heading = el('h1', { tabindex: '-1' }, 'Rollout');
  const body = el('div', { id: 'rollout' }, el('p', {}, 'Loading…'));
  replaceChildren(
    context.main,
    el('p', {}, el('a', { href: '#/rollouts' }, '← All rollouts')),
    heading,
    body,
  );

  let rollout: Rollout;
  try {
    rollout = await api<Rollout>('GET', path`/v1/rollouts/${rolloutId}`);
  } catch (error) {
    if (!(error instanceof ApiProblem)) throw error;
    replaceChildren(heading, error.status === 404 ? 'Rollout not found' : 'Rollout');
    replaceChildren(body, el('p', { class: 'problem', role: 'alert' }, error.message));
    return () => undefined;
  }

  const view = new RolloutView(context, heading, body);
  view.render(rollout);
  if (FINISHED_STATES.includes(rollout.state)) return () => undefined;
  const stream = followStream(path`/v1/rollouts/${rolloutId}/events`, {
    onEvent: (event, data) => {
      if (event === 'progress') view.render(data as Rollout);
      if (event === 'error') context.alert((data as { detail?: string }).detail ?? 'the stream failed');
    },
    onProblem: context.alert,
  });
  return stream.stop;
}

class RolloutView {
  private lastAnnounced = '';
  private readonly summary = el('dl', { class: 'summary' });
  private readonly waves = el('ol', { class: 'waves', 'aria-label': 'Waves' });
  private readonly audit = el('ul', { class: 'audit', 'aria-label': 'Actions taken' });
  private readonly actions?: ActionForm;
  private current?: Rollout;

  constructor(
    private readonly context: ViewContext,
    private readonly heading: HTMLElement,
    body: HTMLElement,
  ) {
    if (context.canAct) this.actions = new ActionForm(context, (action, reason) => this.act(action, reason));
    replaceChildren(
      body,
      this.summary,
      el('h2', {}, 'Waves'),
      this.waves,
      this.actions?.element,
      el('h2', {}, 'Actions taken'),
      this.audit,
    );
  }

  render(rollout: Rollout): void {
    this.current = rollout;
    replaceChildren(this.heading, `Rollout of ${rollout.key}`);
    replaceChildren(
      this.summary,
      ...term('State', stateBadge(rollout.state), rollout.paused ? ' (paused)' : ''),
      ...term('Rollout id', el('code', {}, rollout.rolloutId)),
      ...term('Service', rollout.service ?? '—'),
      ...term(
        'Version',
        rollout.previousVersion === undefined ? '' : `${rollout.previousVersion} → `,
        rollout.candidateVersion === undefined ? '—' : String(rollout.candidateVersion),
      ),
      ...term(
        'Instances',
        el(
          'span',
          { 'data-testid': 'instances' },
          `${rollout.instances.updated} of ${rollout.instances.total} updated, ${rollout.instances.failed} failed`,
        ),
      ),
      ...(rollout.outcome ? term('Outcome', rollout.outcome) : []),
      ...(rollout.staleSince ? term('As of', `${rollout.staleSince} (no worker answered since)`) : []),
    );
    replaceChildren(this.waves, ...rollout.waves.map(waveItem));
    replaceChildren(
      this.audit,
      ...(rollout.audit.length === 0
        ? [el('li', {}, 'None yet.')]
        : rollout.audit.map((entry) =>
            el(
              'li',
              {},
              el('time', { datetime: entry.at }, entry.at),
              ` ${entry.actor} — ${entry.action}`,
              entry.reason ? `: ${entry.reason}` : '',
            ),
          )),
    );
    this.actions?.update(rollout);
    this.announce(rollout);
  }

  private announce(rollout: Rollout): void {
    const wave = rollout.waves.at(rollout.currentWave ?? 0) ?? rollout.waves.at(-1);
    const message =
      `${STATE_LABELS[rollout.state]}. ` +
      (wave
        ? `Wave ${wave.index + 1} of ${rollout.waves.length}: ${wave.updated} of ${wave.targetInstances} updated. `
        : '') +
      `${rollout.instances.updated} of ${rollout.instances.total} instances updated.`;
    if (message === this.lastAnnounced) return;
    this.lastAnnounced = message;
    this.context.announce(message);
  }

  private async act(action: Action, reason: string): Promise<void> {
    if (!this.current) return;
    const answer = await api<Rollout>(
      'POST',
      path`/v1/rollouts/${this.current.rolloutId}/${action}`,
      reason ? { reason } : {},
    );
    this.render(answer);
  }
}

function term(name: string, ...value: (Node | string)[]): HTMLElement[] {
  return [el('dt', {}, name), el('dd', {}, ...value)];
}

function waveItem(wave: WaveProgress): HTMLElement {
  const label = `Wave ${wave.index + 1}`;
  const progressId = `wave-${wave.index}-progress`;
  return el(
    'li',
    { 'data-wave': String(wave.index), 'data-wave-state': wave.state },
    el('label', { for: progressId }, label),
    el('progress', {
      id: progressId,
      max: String(Math.max(wave.targetInstances, 1)),
      value: String(wave.updated),
    }),
    el(
      'span',
      { class: 'wave-text' },
      `${wave.updated} of ${wave.targetInstances} updated, ${wave.failed} failed — ${wave.state}`,
    ),
  );
}

/** Approve, pause, resume and abort with a reason: a form, so it works with the keyboard alone. */
class ActionForm {
  readonly element: HTMLElement;
  private readonly reason = el('textarea', {
    id: 'action-reason',
    name: 'reason',
    rows: '2',
    maxlength: '500',
  });
  private readonly buttons = new Map<Action, HTMLButtonElement>();
  private readonly result = el('p', { id: 'action-result', role: 'status' });

  constructor(
    private readonly context: ViewContext,
    private readonly run: (action: Action, reason: string) => Promise<void>,
  ) {
    for (const action of Object.keys(ACTION_STATES) as Action[]) {
      const button = el('button', { type: 'submit', name: 'action', value: action, 'data-action': action });
      button.textContent = action[0]?.toUpperCase() + action.slice(1);
      this.buttons.set(action, button);
    }
    const form = el(
      'form',
      { class: 'actions', 'aria-labelledby': 'actions-heading' },
      el('h2', { id: 'actions-heading' }, 'Steer this rollout'),
      el('label', { for: 'action-reason' }, 'Reason (kept in the audit)'),
      this.reason,
      el('div', { class: 'buttons' }, ...this.buttons.values()),
      this.result,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const action = (event.submitter as HTMLButtonElement | null)?.value as Action | undefined;
      if (action) void this.submit(action);
    });
    this.element = form;
  }

  update(rollout: Rollout): void {
    for (const [action, button] of this.buttons) button.disabled = !ACTION_STATES[action](rollout);
  }

  private async submit(action: Action): Promise<void> {
    this.result.textContent = `Sending ${action}…`;
    try {
      await this.run(action, this.reason.value.trim());
      this.result.textContent = `${action} accepted.`;
      this.reason.value = '';
    } catch (error) {
      if (!(error instanceof ApiProblem)) throw error;
      this.result.textContent = '';
      this.context.alert(`${action} refused: ${error.message}`);
    }
  }
}
