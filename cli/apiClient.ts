/** A thin client of the REST API for the CLI: answers parsed JSON or throws an ApiError with the problem. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  async get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, value);
    let response: Response;
    try {
      response = await fetch(url, {
        headers: {
          accept: 'application/json',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      const reason =
        error instanceof Error
          ? ((error.cause as Error | undefined)?.message ?? error.message)
          : String(error);
      throw new ApiError(0, 'Unreachable', `cannot reach the API at ${this.baseUrl}: ${reason}`);
    }
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) {
      throw new ApiError(
        response.status,
        typeof body?.title === 'string' ? body.title : `HTTP ${response.status}`,
        typeof body?.detail === 'string' ? body.detail : response.statusText,
        typeof body?.field === 'string' ? body.field : undefined,
      );
    }
    return body as T;
  }
}
