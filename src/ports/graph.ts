import type { GraphError } from "../core/whatsapp/graph_errors.ts";

export type GraphResult<T> = { ok: true; value: T } | { ok: false; error: GraphError };

/**
 * Meta's Graph API as the services use it. Every call has a timeout and answers a classified
 * error instead of throwing (adapters/http/graph_client.ts).
 */
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
  /** one page of a WhatsApp Business account's templates; `after`: the previous page's cursor */
  listTemplates(
    wabaId: string,
    token: string,
    page: { after: string | null; limit: number },
  ): Promise<GraphResult<{ data: unknown[]; after: string | null }>>;
  createTemplate(
    wabaId: string,
    token: string,
    body: Record<string, unknown>,
  ): Promise<GraphResult<{ id: string; status: string; category: string | null }>>;
  /** deletes one language of a template (Meta's hsm_id), or every language of the name */
  deleteTemplate(
    wabaId: string,
    token: string,
    target: { name: string; metaTemplateId?: string },
  ): Promise<GraphResult<true>>;
}
