import { bodyLimit } from "hono/body-limit";
import { AppError } from "../../core/errors.ts";

/** Refuses bodies over `maxSize` bytes with the 413 envelope, before they are read whole. */
export function limitBody(maxSize: number, what = "Request bodies") {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new AppError(413, "payload_too_large", `${what} are limited to ${maxSize} bytes`);
    },
  });
}
