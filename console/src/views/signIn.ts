import { el, replaceChildren } from '../dom';
import { beginSignIn, type HostedUi } from '../hostedUi';
import { SessionError, storeSession } from '../session';

/**
 * Sign-in: the Cognito hosted UI when this server is configured for it, and a pasted token always
 * (`cfgctl dev-token` prints one locally; on AWS, any token cfgctl would use).
 */
export function showSignIn(
  main: HTMLElement,
  options: { hostedUi?: HostedUi; message?: string; signedIn: () => void },
): void {
  const token = el('textarea', {
    id: 'token',
    name: 'token',
    rows: '4',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const problem = el('p', { id: 'sign-in-problem', class: 'problem', role: 'alert' }, options.message ?? '');
  const tokenForm = el(
    'form',
    { 'aria-labelledby': 'token-heading' },
    el('h2', { id: 'token-heading' }, 'With a token'),
    el('label', { for: 'token' }, 'Bearer token'),
    el(
      'p',
      { class: 'hint', id: 'token-hint' },
      'Locally, `cfgctl dev-token --tenant <tenant> --role release-manager` prints one.',
    ),
    token,
    el('button', { type: 'submit' }, 'Sign in with token'),
  );
  token.setAttribute('aria-describedby', 'token-hint');
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    try {
      storeSession(token.value);
      token.value = '';
      options.signedIn();
    } catch (error) {
      if (!(error instanceof SessionError)) throw error;
      problem.textContent = error.message;
    }
  });

  const hosted = options.hostedUi;
  const hostedButton = hosted
    ? el('button', { type: 'button', id: 'hosted-sign-in' }, 'Sign in with your organisation')
    : undefined;
  hostedButton?.addEventListener('click', () => {
    if (hosted) void beginSignIn(hosted);
  });
  replaceChildren(
    main,
    el('h1', { tabindex: '-1' }, 'Sign in'),
    problem,
    hostedButton ? el('section', { 'aria-label': 'Single sign-on' }, hostedButton) : undefined,
    tokenForm,
  );
}
