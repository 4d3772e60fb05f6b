import type { GraphError } from "../../core/whatsapp/graph_errors.ts";

export type GraphResult<T> = { ok: true; value: T } | { ok: false; error: GraphError };

export interface GraphClient {
  sendMessage(
    phoneNumberId: string,
    token: string,
    body: Record<string, unknown>,
  ): Promise<GraphResult<{ wamid: string; waId: string | null }>>;
  markRead(phoneNumberId: string, token: string, wamid: string): Promise<GraphResult<true>>;
  mediaInfo(
    mediaId: string,
    token: string,
  ): Promise<
    GraphResult<{ url: string; mimeType: string; fileSize: number | null; sha256: string | null }>
  >;
  downloadMedia(url: string, token: string): Promise<GraphResult<Response>>;
}

/**
 * The Graph API over fetch. Base URL and version come from configuration, which is how the local
 * stack and the tests point it at the emulator; nothing else differs from production.
 * Every call has a timeout and returns a classified error instead of throwing.
 */
export function graphClient(options: {
  baseUrl: string;
  version: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}): GraphClient {
  const doFetch = options.fetch ?? fetch;
  const base = options.baseUrl.replace(/\/$/, "");

  async function call(
    path: string,
    token: string,
    init: RequestInit = {},
  ): Promise<GraphResult<Response>> {
    let res: Response;
    try {
      res = await doFetch(`${base}/${options.version}/${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...init.headers },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      const timeout = (error as Error).name === "TimeoutError";
      return {
        ok: false,
        error: {
          code: 0,
          httpStatus: null,
          title: timeout ? `No response within ${options.timeoutMs} ms` : "Network error",
          details: timeout ? null : (error as Error).message,
          kind: timeout ? "timeout" : "network",
        },
      };
    }
    if (res.ok) return { ok: true, value: res };
    return { ok: false, error: await readGraphError(res) };
  }

  async function json<T>(result: GraphResult<Response>): Promise<GraphResult<T>> {
    if (!result.ok) return result;
    try {
      return { ok: true, value: await result.value.json() as T };
    } catch {
      return {
        ok: false,
        error: {
          code: 0,
          httpStatus: result.value.status,
          title: "Response body was not JSON",
          details: null,
          kind: "network",
        },
      };
    }
  }

  return {
    async sendMessage(phoneNumberId, token, body) {
      const res = await json<
        { messages?: Array<{ id: string }>; contacts?: Array<{ wa_id: string }> }
      >(
        await call(`${phoneNumberId}/messages`, token, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
      if (!res.ok) return res;
      const wamid = res.value.messages?.[0]?.id;
      if (!wamid) {
        return {
          ok: false,
          error: {
            code: 0,
            httpStatus: 200,
            title: "Response had no message id",
            details: null,
            kind: "network",
          },
        };
      }
      return { ok: true, value: { wamid, waId: res.value.contacts?.[0]?.wa_id ?? null } };
    },
    async markRead(phoneNumberId, token, wamid) {
      const res = await json<{ success?: boolean }>(
        await call(`${phoneNumberId}/messages`, token, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            messaging_product: "whatsapp",
            status: "read",
            message_id: wamid,
          }),
        }),
      );
      return res.ok ? { ok: true, value: true } : res;
    },
    async mediaInfo(mediaId, token) {
      const res = await json<
        { url: string; mime_type: string; file_size?: number; sha256?: string }
      >(
        await call(encodeURIComponent(mediaId), token),
      );
      if (!res.ok) return res;
      return {
        ok: true,
        value: {
          url: res.value.url,
          mimeType: res.value.mime_type,
          fileSize: res.value.file_size ?? null,
          sha256: res.value.sha256 ?? null,
        },
      };
    },
    async downloadMedia(url, token) {
      // media URLs are absolute and expire within minutes; they still need the bearer token
      try {
        const res = await doFetch(url, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(options.timeoutMs * 3),
        });
        if (res.ok) return { ok: true, value: res };
        return { ok: false, error: await readGraphError(res) };
      } catch (error) {
        return {
          ok: false,
          error: {
            code: 0,
            httpStatus: null,
            title: "Media download failed",
            details: (error as Error).message,
            kind: "network",
          },
        };
      }
    },
  };
}

async function readGraphError(res: Response): Promise<GraphError> {
  let body: {
    error?: {
      code?: number;
      message?: string;
      error_user_title?: string;
      error_data?: { details?: string };
    };
  } = {};
  try {
    body = await res.json();
  } catch { /* not JSON: keep the status */ }
  return {
    code: body.error?.code ?? 0,
    httpStatus: res.status,
    title: body.error?.message ?? body.error?.error_user_title ?? `HTTP ${res.status}`,
    details: body.error?.error_data?.details ?? null,
    kind: "graph",
  };
}
