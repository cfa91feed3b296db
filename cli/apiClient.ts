/** A thin client of the REST API for the CLI: answers parsed JSON or throws an ApiError with the problem. */
export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when the API could not be reached at all. */
    readonly status: number,
    /** The problem's `title`: the platform's error code. */
    readonly code: string,
    /** The problem's `detail`. */
    message: string,
    /** The problem's `field`: the input at fault. */
    readonly field?: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | undefined>;

/** Plain requests answer within this; an event stream is open as long as the rollout runs. */
const REQUEST_TIMEOUT_MS = 15_000;

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async get<T>(path: string, query: Query = {}): Promise<T> {
    return this.json<T>(await this.send('GET', path, { query }));
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(await this.send('POST', path, { body }));
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(await this.send('PUT', path, { body }));
  }

  /** For resources answered with 204 No Content. */
  async delete(path: string): Promise<void> {
    const response = await this.send('DELETE', path, {});
    if (!response.ok) throw await problemOf(response);
  }

  /** Opens a server-sent event stream; `signal` closes it (Ctrl-C). Answers the open stream's body. */
  async openEventStream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await this.send('GET', path, { accept: 'text/event-stream', signal });
    if (!response.ok) throw await problemOf(response);
    if (!response.body)
      throw new ApiError(response.status, 'EmptyStream', `${path} answered no event stream`);
    return response.body;
  }

  private async send(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: { query?: Query; body?: unknown; accept?: string; signal?: AbortSignal },
  ): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(options.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, value);
    try {
      return await fetch(url, {
        method,
        headers: {
          accept: options.accept ?? 'application/json',
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: options.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      // Ctrl-C is not an outage: let the caller see its own abort.
      if (options.signal?.aborted) throw error;
      const reason =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new ApiError(0, 'Unreachable', `cannot reach the API at ${this.baseUrl}: ${reason}`);
    }
  }

  /** The body of a successful response, or the problem of a failed one as an ApiError. */
  private async json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await problemOf(response);
    try {
      return (await response.json()) as T;
    } catch {
      throw new ApiError(
        response.status,
        'InvalidResponse',
        `${response.url} answered something other than JSON`,
      );
    }
  }
}

/** An RFC 9457 problem as an ApiError; a body that is no problem still yields the HTTP status. */
async function problemOf(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  return new ApiError(
    response.status,
    typeof body?.title === 'string' ? body.title : `HTTP ${response.status}`,
    typeof body?.detail === 'string' ? body.detail : response.statusText,
    typeof body?.field === 'string' ? body.field : undefined,
  );
}
