import { Hono } from "hono";
import { importHmacKey } from "../../../core/crypto/hmac.ts";
import { AppError } from "../../../core/errors.ts";
import type { PrivacyService } from "../../../services/privacy_requests.ts";
import { readForm } from "../../forms.ts";
import { limitBody } from "../../middleware/limit_body.ts";
import type { AppEnv } from "../../types.ts";

/** Meta's form is one field of a few hundred characters. */
const MAX_CALLBACK_BYTES = 16 * 1024;

/**
 * Meta's data deletion callback (App Dashboard → Data deletion request URL). Meta posts the
 * `signed_request` of a person who removed our app and asked for their data to be deleted; a
 * verified one files a deletion request and answers, as Meta requires, with the status page's URL
 * and the confirmation code shown there. A forged or malformed one is refused and leaves nothing
 * behind. Meta repeats a callback it thinks failed: the same person and time file nothing new and
 * get the same code.
 */
export function metaDataDeletionRoutes(
  privacy: PrivacyService,
  options: { appSecret: string; publicBaseUrl?: string },
) {
  const key = importHmacKey(options.appSecret, ["sign"]);
  return new Hono<AppEnv>().post(
    "/privacy/meta/data-deletion",
    limitBody(MAX_CALLBACK_BYTES, "Data deletion callbacks"),
    async (c) => {
      const type = c.req.header("content-type") ?? "";
      if (!/^\s*(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
        throw new AppError(
          415,
          "unsupported_media_type",
          "Send signed_request as a form field (application/x-www-form-urlencoded)",
        );
      }
      const form = await readForm(c);
      const signed = form.signed_request ?? null;
      const filed = await privacy.fileFromMeta(signed, await key);
      if (!filed.valid) {
        c.get("logger").warn("meta_deletion_refused", { reason: filed.reason });
        if (filed.reason === "mismatch") {
          throw new AppError(
            401,
            "invalid_signature",
            "The signed_request's signature does not match",
          );
        }
        throw new AppError(
          400,
          "invalid_payload",
          `The signed_request is ${filed.reason.replace("_", " ")}`,
        );
      }
      const base = (options.publicBaseUrl ?? new URL(c.req.url).origin).replace(/\/+$/, "");
      return c.json({
        url: `${base}/privacy/requests/${filed.code}`,
        confirmation_code: filed.code,
      }, 200);
    },
  );
}
