import createFetchClient, { type Client } from "openapi-fetch";
import { GlooftError } from "./errors.ts";
import { OPERATIONS } from "./generated/operations.ts";
import type { operations, paths } from "./generated/schema.ts";

/** Every operation of the API, by its `operationId`. */
export type OperationId = keyof typeof OPERATIONS;

type Op<K extends OperationId> = operations[K];
type Defined<T> = Exclude<T, undefined>;
type IsNever<T> = [T] extends [never] ? true : false;
/** true when an empty object is assignable to T: every key optional */
type AllOptional<T> = Record<PropertyKey, never> extends T ? true : false;

type PathParams<K extends OperationId> = Defined<Op<K>["parameters"]["path"]>;
type QueryParams<K extends OperationId> = Defined<Op<K>["parameters"]["query"]>;
type HeaderParams<K extends OperationId> = Defined<Op<K>["parameters"]["header"]>;
type JsonContent<T> = [T] extends [never] ? never
  : T extends { content: { "application/json": infer B } } ? B
  : never;
type RequestBody<K extends OperationId> = JsonContent<Defined<Op<K>["requestBody"]>>;

type PathPart<K extends OperationId> = IsNever<PathParams<K>> extends true ? { path?: never }
  : { path: PathParams<K> };
type QueryPart<K extends OperationId> = IsNever<QueryParams<K>> extends true ? { query?: never }
  : AllOptional<QueryParams<K>> extends true ? { query?: QueryParams<K> }
  : { query: QueryParams<K> };
type BodyPart<K extends OperationId> = IsNever<RequestBody<K>> extends true ? { body?: never }
  : { body: RequestBody<K> };
type IdempotencyPart<K extends OperationId> = IsNever<HeaderParams<K>> extends true
  ? { idempotencyKey?: never }
  : "idempotency-key" extends keyof HeaderParams<K> ? {
      /**
       * Sent as `Idempotency-Key`: the same key always returns the same result and never acts
       * twice (the same key with another body is `409 idempotency_key_reused`), so a call whose
       * answer was lost can be repeated safely. Use one key per intended action.
       */
      idempotencyKey?: string;
    }
  : { idempotencyKey?: never };

/** What a call takes: its path and query parameters, its body, and per-call options. */
export type CallInput<K extends OperationId> =
  & PathPart<K>
  & QueryPart<K>
  & BodyPart<K>
  & IdempotencyPart<K>
  & {
    /** aborts the call */
    signal?: AbortSignal;
    /** extra headers for this call */
    headers?: Record<string, string>;
  };

type JsonBody<R> = R extends { content: { "application/json": infer T } } ? T
  : R extends { content: Record<string, unknown> } ? Response
  : undefined;
type SuccessStatus = 200 | 201 | 202 | 203 | 204;
/**
 * What a call returns: the JSON body of its success answer (a union where an operation has
 * several, as `sendMessage` does), or the `Response` itself for a file (`getMedia`).
 */
export type CallOutput<K extends OperationId> = {
  [S in keyof Op<K>["responses"]]: S extends SuccessStatus ? JsonBody<Op<K>["responses"][S]>
    : never;
}[keyof Op<K>["responses"]];

type RequiredKeys<T> = {
  [P in keyof T]-?: Record<PropertyKey, never> extends Pick<T, P> ? never : P;
}[keyof T];
type CallArgs<K extends OperationId> = IsNever<RequiredKeys<CallInput<K>>> extends true
  ? [input?: CallInput<K>]
  : [input: CallInput<K>];

/** One typed method per operation of the API, named by its `operationId`. */
export type Operations = {
  [K in OperationId]: (...args: CallArgs<K>) => Promise<CallOutput<K>>;
};

/** Operations that page with `cursor` / `next_cursor`. */
export type PaginatedOperationId = {
  [K in OperationId]: "cursor" extends keyof QueryParams<K>
    ? CallOutput<K> extends { data: unknown[]; next_cursor: string | null } ? K : never
    : never;
}[OperationId];
type Item<K extends PaginatedOperationId> = CallOutput<K> extends { data: Array<infer T> } ? T
  : never;

export interface GlooftClientOptions {
  /** the API's URL, for example `https://edge.example.com` (the `servers` of /openapi.json) */
  baseUrl: string;
  /**
   * An API key (`glf_live_…` / `glf_test_…`) or a Supabase Auth access token; a function is
   * asked before every call (a token that refreshes)
   */
  apiKey: string | (() => string | Promise<string>);
  /** the fetch to use (default: the global one) */
  fetch?: (request: Request) => Promise<Response>;
  /** headers sent with every call */
  headers?: Record<string, string>;
}

export type GlooftClient = Operations & {
  /**
   * Every item of a cursor-paginated list, fetched page by page as you iterate:
   * `for await (const m of client.paginate("listMessages", { query: { status: "failed" } }))`.
   * `query.limit` is the page size; stopping the loop stops fetching.
   */
  paginate<K extends PaginatedOperationId>(
    operation: K,
    ...args: CallArgs<K>
  ): AsyncIterableIterator<Item<K>>;
  /** The underlying openapi-fetch client, typed by path, for anything else. */
  readonly raw: Client<paths>;
};

/**
 * A client of the glooft-edge API: `await client.sendMessage({ body, idempotencyKey })`. A call
 * returns the answer's body, typed from the API's OpenAPI document, or throws `GlooftError` (the
 * error envelope) for any status ≥ 400. Runs on Node 20+, Deno, Bun and Cloudflare Workers.
 */
export function createClient(options: GlooftClientOptions): GlooftClient {
  const raw = createFetchClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: options.fetch,
    headers: options.headers,
  });
  raw.use({
    async onRequest({ request }) {
      const key = typeof options.apiKey === "function" ? await options.apiKey() : options.apiKey;
      request.headers.set("Authorization", `Bearer ${key}`);
      return request;
    },
  });

  async function call(operation: OperationId, input: Partial<AnyInput> = {}): Promise<unknown> {
    const { method, path, stream } = OPERATIONS[operation];
    const headers: Record<string, string> = { ...input.headers };
    if (input.idempotencyKey !== undefined) headers["Idempotency-Key"] = input.idempotencyKey;
    // the table and the types come from the same document; the typed surface is CallInput
    const request = raw.request as unknown as (
      method: string,
      path: string,
      init: Record<string, unknown>,
    ) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
    const { data, error, response } = await request(method, path, {
      params: { path: input.path, query: input.query },
      body: input.body,
      headers,
      signal: input.signal,
      parseAs: stream ? "stream" : "json",
    });
    if (!response.ok) throw GlooftError.fromResponse(response, error);
    return stream ? response : data;
  }

  const methods: Record<string, unknown> = { raw };
  for (const operation of Object.keys(OPERATIONS) as OperationId[]) {
    methods[operation] = (input?: AnyInput) => call(operation, input);
  }
  methods.paginate = async function* paginate(operation: OperationId, input?: AnyInput) {
    let cursor: string | undefined = input?.query?.cursor as string | undefined;
    do {
      const page = await call(operation, {
        ...input,
        query: { ...input?.query, ...(cursor ? { cursor } : {}) },
      }) as { data: unknown[]; next_cursor: string | null };
      yield* page.data;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  };
  return methods as GlooftClient;
}

interface AnyInput {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}
