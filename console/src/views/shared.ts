import type { RolloutSummary } from '../../../common/api/rollouts';
import { el } from '../dom';

export type RolloutState = RolloutSummary['state'];

/** Every state with the words the page uses for it: a Record, so a state added to the API fails the build here. */
export const STATE_LABELS: Record<RolloutState, string> = {
  PREPARING: 'Preparing',
  ROLLING_OUT: 'Rolling out',
  BAKING: 'Baking',
  AWAITING_APPROVAL: 'Awaiting approval',
  PAUSED: 'Paused',
  PROMOTING: 'Promoting',
  SUCCEEDED: 'Succeeded',
  ROLLING_BACK: 'Rolling back',
  ROLLED_BACK: 'Rolled back',
  FAILED: 'Failed',
};

export const FINISHED_STATES: readonly RolloutState[] = ['SUCCEEDED', 'ROLLED_BACK', 'FAILED'];

/** The state as text with its code, so it never relies on colour alone. */
export function stateBadge(state: RolloutState): HTMLElement {
  return el('span', { class: 'state', 'data-state': state }, state);
}

/** What a view hands back: called when the page leaves it (to close its stream). */
export type Leave = () => void;

/** A view's place on the page: its main region and the page-wide message regions. */
export interface ViewContext {
  readonly main: HTMLElement;
  /** Polite announcements for screen readers (wave progress). */
  readonly announce: (message: string) => void;
  /** Problems the user must read now: shown in the alert region. */
  readonly alert: (message: string) => void;
  readonly canAct: boolean;
}

/**
 * A one-field search form whose submit changes the route (so the browser's back button and a copied
 * URL keep the choice); `target` turns the field's value into the route.
 */
export function searchForm(options: {
  name: string;
  field: HTMLInputElement | HTMLSelectElement;
  label: string;
  button: string;
  target: (value: string) => string;
}): HTMLFormElement {
  const form = el(
    'form',
    { class: 'filter', role: 'search', 'aria-label': options.name },
    el('label', { for: options.field.id }, options.label),
    options.field,
    el('button', { type: 'submit' }, options.button),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = options.target(options.field.value.trim());
  });
  return form;
}
