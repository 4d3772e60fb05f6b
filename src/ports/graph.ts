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
}
