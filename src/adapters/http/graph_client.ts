import type { GraphError } from "../../core/whatsapp/graph_errors.ts";
import type { GraphClient, GraphResult } from "../../ports/graph.ts";

/** What the template sync reads of each template (Meta sends only the fields asked for). */
const TEMPLATE_FIELDS =
  "id,name,language,status,category,components,parameter_format,quality_score,rejected_reason";

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
    async listTemplates(wabaId, token, page) {
      const query = new URLSearchParams({ fields: TEMPLATE_FIELDS, limit: String(page.limit) });
      if (page.after) query.set("after", page.after);
      const res = await json<
        { data?: unknown; paging?: { cursors?: { after?: unknown }; next?: unknown } }
      >(await call(`${wabaId}/message_templates?${query}`, token));
      if (!res.ok) return res;
      if (!Array.isArray(res.value.data)) return malformed("The template list had no data array");
      const after = res.value.paging?.cursors?.after;
      // Meta gives `next` only while there is a next page; the cursor alone is given on the last
      return {
        ok: true,
        value: {
          data: res.value.data,
          after: res.value.paging?.next && typeof after === "string" && after ? after : null,
        },
      };
    },
    async createTemplate(wabaId, token, body) {
      const res = await json<{ id?: unknown; status?: unknown; category?: unknown }>(
        await call(`${wabaId}/message_templates`, token, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      );
      if (!res.ok) return res;
      const { id, status, category } = res.value;
      if ((typeof id !== "string" && typeof id !== "number") || typeof status !== "string") {
        return malformed("The created template had no id or status");
      }
      return {
        ok: true,
        value: {
          id: String(id),
          status,
          category: typeof category === "string" ? category : null,
        },
      };
    },
    async deleteTemplate(wabaId, token, target) {
      const query = new URLSearchParams({ name: target.name });
      if (target.metaTemplateId) query.set("hsm_id", target.metaTemplateId);
      const res = await json<{ success?: boolean }>(
        await call(`${wabaId}/message_templates?${query}`, token, { method: "DELETE" }),
      );
      return res.ok ? { ok: true, value: true } : res;
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

function malformed(title: string): { ok: false; error: GraphError } {
  return { ok: false, error: { code: 0, httpStatus: 200, title, details: null, kind: "network" } };
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
