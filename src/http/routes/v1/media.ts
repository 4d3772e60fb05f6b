import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError, notFound } from "../../../core/errors.ts";
import type { ServiceDeps } from "../../../services/deps.ts";
import { accessTokenFor } from "../../../services/whatsapp_send.ts";
import { AUTH_ERRORS, errorResponse, notFoundResponse } from "../../schemas.ts";
import { access } from "../../openapi.ts";
import type { AppEnv } from "../../types.ts";

const route = createRoute({
  method: "get",
  path: "/media/{id}",
  operationId: "getMedia",
  tags: ["Messages"],
  summary: "Download the media of an inbound message",
  description:
    "Fetches a fresh URL from the Graph media API and streams the file: Meta's URLs expire " +
    "within minutes and need the business token, so clients cannot use them directly. Media ids " +
    "from webhooks expire after 7 days.",
  ...access("messages:read"),
  request: { params: z.object({ id: z.string().regex(/^[0-9A-Za-z._-]{1,128}$/) }) },
  responses: {
    200: {
      description: "The file, with its content type",
      content: { "application/octet-stream": { schema: z.any() } },
    },
    404: notFoundResponse,
    422: errorResponse("no_access_token"),
    502: errorResponse("graph_error"),
    ...AUTH_ERRORS,
  },
});

export function mediaRoutes(
  deps: Pick<ServiceDeps, "messages" | "accounts" | "dataKeys" | "graph" | "now">,
) {
  return new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
    const p = c.get("principal");
    const mediaId = c.req.valid("param").id;
    // only media that arrived in one of this client's messages: the id alone proves nothing
    const phone = await deps.messages.mediaPhone(p.clientId, mediaId);
    if (!phone) throw notFound("Media");
    const token = await accessTokenFor(deps, p.clientId, phone.waba_account_id);
    if (!token) {
      throw new AppError(
        422,
        "no_access_token",
        "The WhatsApp Business account has no access token configured",
      );
    }
    const info = await deps.graph.mediaInfo(mediaId, token);
    if (!info.ok) {
      throw new AppError(
        502,
        "graph_error",
        `The Graph API refused the media lookup: ${info.error.title}`,
        {
          details: { code: info.error.code },
        },
      );
    }
    const file = await deps.graph.downloadMedia(info.value.url, token);
    if (!file.ok) {
      throw new AppError(502, "graph_error", `The media download failed: ${file.error.title}`);
    }
    const headers = new Headers({
      "content-type": info.value.mimeType,
      "cache-control": "private, no-store",
    });
    const length = file.value.headers.get("content-length");
    if (length) headers.set("content-length", length);
    return new Response(file.value.body, { status: 200, headers }) as never;
  });
}
