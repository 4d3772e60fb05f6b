/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import { normaliseConfirmationCode } from "../../../core/privacy/codes.ts";
import { REQUEST_TYPES, type RequestType } from "../../../core/privacy/subject.ts";
import { isLabel } from "../../../core/text.ts";
import type { PrivacyService, RequestView } from "../../../services/privacy_requests.ts";
import { readForm } from "../../forms.ts";
import { limitBody } from "../../middleware/limit_body.ts";
import type { AppEnv } from "../../types.ts";
import { type Messages, messagesFor } from "./messages.ts";
import { PRIVACY_CSS } from "./style.ts";

/** Forms are a few short fields; anything larger is not from our page. */
const MAX_FORM_BYTES = 8 * 1024;
/** Form posts per address per minute (every post can send a WhatsApp message or spend a try). */
const POSTS_PER_MINUTE = 20;

/**
 * The public privacy pages: a person files a request, proves the number is theirs with the code
 * sent to it on WhatsApp, and follows the request by its confirmation code. Server-rendered
 * HTML forms that work without JavaScript, with one stylesheet from this deployment (the page
 * policy allows nothing else), labelled fields, error summaries that name the field, and the
 * language picked from `?lang=` or Accept-Language.
 */
export function privacyPageRoutes(
  privacy: PrivacyService,
  options: { contactEmail?: string; now: () => number },
) {
  const throttle = new Map<string, { count: number; resetAt: number }>();
  const overLimit = (address: string | null) => {
    const key = address ?? "unknown";
    const now = options.now();
    const window = throttle.get(key);
    if (!window || window.resetAt <= now) {
      if (throttle.size > 50_000) throttle.clear();
      throttle.set(key, { count: 1, resetAt: now + 60_000 });
      return false;
    }
    return ++window.count > POSTS_PER_MINUTE;
  };

  const when = (iso: string | null, t: Messages) =>
    iso
      ? new Date(iso).toLocaleString(t.lang, {
        dateStyle: "long",
        timeStyle: "short",
        timeZone: "UTC",
      }) + " UTC"
      : "";

  const Layout = (props: { t: Messages; title: string; children: Child }) => (
    <html lang={props.t.lang}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{props.title}</title>
        <link rel="stylesheet" href="/privacy/privacy.css" />
      </head>
      <body>
        <a class="skip" href="#main">{props.t.skip}</a>
        <header>
          <p>
            <a href={`/privacy?lang=${props.t.lang}`}>{props.t.title}</a>
          </p>
        </header>
        <main id="main">{props.children}</main>
        {options.contactEmail
          ? (
            <footer>
              <p>{props.t.contact(options.contactEmail)}</p>
            </footer>
          )
          : null}
      </body>
    </html>
  );

  type Problems = Partial<Record<"type" | "number" | "name" | "code" | "form", string>>;

  const ErrorSummary = (props: { t: Messages; problems: Problems }) => {
    const entries = Object.entries(props.problems);
    if (!entries.length) return null;
    return (
      <div class="error" role="alert" aria-labelledby="error-heading" tabindex={-1}>
        <h2 id="error-heading">{props.t.errorHeading}</h2>
        <ul>
          {entries.map(([field, text]) => (
            <li>{field === "form" ? text : <a href={`#${field}`}>{text}</a>}</li>
          ))}
        </ul>
      </div>
    );
  };

  const Index = (
    props: {
      t: Messages;
      problems?: Problems;
      values?: { type?: string; number?: string; name?: string };
    },
  ) => {
    const { t } = props;
    const problems = props.problems ?? {};
    const values = props.values ?? {};
    return (
      <Layout t={t} title={t.title}>
        <h1>{t.title}</h1>
        <ErrorSummary t={t} problems={problems} />
        <p>{t.intro}</p>
        <p>{t.how}</p>
        {privacy.canSendCodes() ? null : <p class="notice">{t.unavailable}</p>}
        <h2>{t.fileHeading}</h2>
        <form method="post" action={`/privacy/requests?lang=${t.lang}`} novalidate>
          <fieldset id="type" aria-describedby={problems.type ? "type-error" : undefined}>
            <legend>{t.typeLegend}</legend>
            {problems.type ? <p id="type-error" class="field-error">{problems.type}</p> : null}
            {REQUEST_TYPES.map((type) => (
              <div class="choice">
                <input
                  type="radio"
                  name="type"
                  id={`type-${type}`}
                  value={type}
                  checked={values.type === type}
                />
                <label for={`type-${type}`}>{t.types[type]}</label>
              </div>
            ))}
          </fieldset>
          <label for="number">{t.numberLabel}</label>
          <p id="number-hint" class="hint">{t.numberHint}</p>
          {problems.number ? <p id="number-error" class="field-error">{problems.number}</p> : null}
          <input
            type="tel"
            id="number"
            name="number"
            autocomplete="tel"
            required
            maxlength={40}
            value={values.number ?? ""}
            aria-describedby={problems.number ? "number-hint number-error" : "number-hint"}
            aria-invalid={problems.number ? "true" : undefined}
          />
          <label for="name">{t.nameLabel}</label>
          {problems.name ? <p id="name-error" class="field-error">{problems.name}</p> : null}
          <input
            type="text"
            id="name"
            name="corrected_name"
            autocomplete="name"
            maxlength={200}
            value={values.name ?? ""}
            aria-describedby={problems.name ? "name-error" : undefined}
            aria-invalid={problems.name ? "true" : undefined}
          />
          <div>
            <button type="submit">{t.submit}</button>
          </div>
        </form>
        <h2>{t.followHeading}</h2>
        <form method="get" action="/privacy/status">
          <input type="hidden" name="lang" value={t.lang} />
          <label for="follow-code">{t.followLabel}</label>
          <p id="follow-hint" class="hint">{t.followHint}</p>
          <input
            type="text"
            id="follow-code"
            name="code"
            class="code"
            autocomplete="off"
            maxlength={64}
            aria-describedby="follow-hint"
          />
          <div>
            <button type="submit" class="secondary">{t.follow}</button>
          </div>
        </form>
      </Layout>
    );
  };

  const Status = (
    props: {
      t: Messages;
      code: string;
      request: RequestView;
      notice?: string;
      problems?: Problems;
    },
  ) => {
    const { t, request, code } = props;
    const problems = props.problems ?? {};
    const base = `/privacy/requests/${code}`;
    const held = request.parts.some((p) => p.status === "held");
    return (
      <Layout t={t} title={t.requestHeading(request.reference_prefix)}>
        <h1>{t.requestHeading(request.reference_prefix)}</h1>
        <ErrorSummary t={t} problems={problems} />
        {props.notice ? <p class="notice" role="status">{props.notice}</p> : null}
        <p>
          {t.confirmation}: <span class="code">{code}</span>
        </p>
        <p class="hint">{t.keepCode}</p>
        <dl>
          <dt>{t.facts.type}</dt>
          <dd>{t.typeNames[request.type]}</dd>
          <dt>{t.facts.status}</dt>
          <dd>{t.statuses[request.status as keyof Messages["statuses"]] ?? request.status}</dd>
          <dt>{t.facts.received}</dt>
          <dd>{when(request.received_at, t)}</dd>
          {request.status === "completed"
            ? (
              <>
                <dt>{t.facts.completed}</dt>
                <dd>{when(request.completed_at, t)}</dd>
              </>
            )
            : (
              <>
                <dt>{t.facts.deadline}</dt>
                <dd>{when(request.deadline, t)}</dd>
              </>
            )}
          {request.extension
            ? (
              <>
                <dt>{t.facts.extended}</dt>
                <dd>{request.extension.reason}</dd>
              </>
            )
            : null}
          {request.rejection_reason
            ? (
              <>
                <dt>{t.facts.rejected}</dt>
                <dd>{request.rejection_reason}</dd>
              </>
            )
            : null}
        </dl>
        {request.subject_kind === "meta_user" ? <p>{t.meta}</p> : null}
        {request.channel === "web" && request.verification.verified_at
          ? <p>{t.businesses(request.parts.length)}</p>
          : null}
        {held ? <p class="notice">{t.held}</p> : null}
        {request.status === "unverified" && request.verification.method === "whatsapp_code"
          ? (
            <>
              <form method="post" action={`${base}/verify?lang=${t.lang}`} novalidate>
                <label for="code">{t.codeLabel}</label>
                <p id="code-hint" class="hint">{t.codeHint}</p>
                {problems.code ? <p id="code-error" class="field-error">{problems.code}</p> : null}
                <input
                  type="text"
                  id="code"
                  name="code"
                  class="code"
                  inputmode="numeric"
                  autocomplete="one-time-code"
                  maxlength={12}
                  aria-describedby={problems.code ? "code-hint code-error" : "code-hint"}
                  aria-invalid={problems.code ? "true" : undefined}
                />
                <div>
                  <button type="submit">{t.verify}</button>
                </div>
              </form>
              <form method="post" action={`${base}/resend?lang=${t.lang}`}>
                <button type="submit" class="secondary">{t.resend}</button>
              </form>
            </>
          )
          : null}
        {request.exports.length
          ? (
            <>
              <h2>{t.downloadsHeading}</h2>
              <ul>
                {request.exports.map((e, i) => (
                  <li>
                    {e.url
                      ? (
                        <>
                          <a href={e.url} download>{t.download(i + 1)}</a>{" "}
                          {t.downloadNote(when(e.expires_at, t))}
                        </>
                      )
                      : e.downloaded_at
                      ? t.downloaded(when(e.downloaded_at, t))
                      : t.linkGone}
                  </li>
                ))}
              </ul>
            </>
          )
          : null}
        <p>
          <a href={`/privacy?lang=${t.lang}`}>{t.back}</a>
        </p>
      </Layout>
    );
  };

  const NotFound = (props: { t: Messages; text: string }) => (
    <Layout t={props.t} title={props.t.title}>
      <h1>{props.t.title}</h1>
      <p role="alert">{props.text}</p>
      <p>
        <a href={`/privacy?lang=${props.t.lang}`}>{props.t.back}</a>
      </p>
    </Layout>
  );

  const field = (body: Record<string, string>, name: string) => body[name] ?? "";

  return new Hono<AppEnv>()
    .get("/privacy/privacy.css", (c) =>
      c.body(PRIVACY_CSS, 200, {
        "content-type": "text/css; charset=utf-8",
        "cache-control": "public, max-age=3600",
      }))
    .get("/privacy", (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      return c.html(<Index t={t} />);
    })
    .get("/privacy/status", (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      const code = normaliseConfirmationCode(c.req.query("code") ?? "");
      if (!code) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      return c.redirect(`/privacy/requests/${code}?lang=${t.lang}`, 303);
    })
    .post("/privacy/requests", limitBody(MAX_FORM_BYTES, "Forms"), async (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      if (overLimit(c.get("clientIp"))) {
        return c.html(<Index t={t} problems={{ form: t.errors.tooMany }} />, 429);
      }
      const body = await readForm(c);
      const values = {
        type: field(body, "type"),
        number: field(body, "number").slice(0, 40),
        name: field(body, "corrected_name").trim(),
      };
      const problems: Problems = {};
      if (!(REQUEST_TYPES as readonly string[]).includes(values.type)) {
        problems.type = t.errors.type;
      }
      if (
        values.type === "correction" &&
        (!values.name || values.name.length > 200 || !isLabel(values.name))
      ) problems.name = t.errors.name;
      if (Object.keys(problems).length === 0) {
        const filed = await privacy.fileFromWeb({
          type: values.type as RequestType,
          number: values.number,
          correctedName: values.type === "correction" ? values.name : undefined,
          httpRequestId: c.get("requestId"),
        });
        if ("code" in filed) {
          return c.redirect(`/privacy/requests/${filed.code}?lang=${t.lang}&n=sent`, 303);
        }
        if (filed.problem === "unavailable") {
          return c.html(<Index t={t} values={values} problems={{ form: t.unavailable }} />, 503);
        }
        problems.number = t.errors.number;
      }
      return c.html(<Index t={t} values={values} problems={problems} />, 400);
    })
    .get("/privacy/requests/:code", async (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      const code = normaliseConfirmationCode(c.req.param("code"));
      if (!code) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      const request = await privacy.status(code);
      if (!request) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      const notices: Record<string, string> = {
        sent: t.sent,
        resent: t.resent,
        verified: t.verified,
      };
      return c.html(
        <Status
          t={t}
          code={code}
          request={request}
          notice={notices[c.req.query("n") ?? ""]}
        />,
      );
    })
    .post("/privacy/requests/:code/verify", limitBody(MAX_FORM_BYTES, "Forms"), async (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      const code = normaliseConfirmationCode(c.req.param("code"));
      if (!code) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      const body = await readForm(c);
      const page = async (problems: Problems, status: 400 | 404 | 429) => {
        const request = await privacy.status(code);
        if (!request) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
        return c.html(
          <Status t={t} code={code} request={request} problems={problems} />,
          status,
        );
      };
      if (overLimit(c.get("clientIp"))) return await page({ form: t.errors.tooMany }, 429);
      const verdict = await privacy.verifyCode(code, field(body, "code"), c.get("requestId"));
      switch (verdict.outcome) {
        case "verified":
        case "already":
          return c.redirect(
            `/privacy/requests/${code}?lang=${t.lang}${
              verdict.outcome === "verified" ? "&n=verified" : ""
            }`,
            303,
          );
        case "not_found":
          return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
        case "invalid_code":
          return await page({ code: t.errors.code }, 400);
        case "wrong_code":
          return await page({ code: t.errors.wrongCode(verdict.remaining) }, 400);
        case "expired":
          return await page({ code: t.errors.expired }, 400);
        case "locked":
          return await page({ code: t.errors.locked }, 429);
        case "no_code":
          return await page({ code: t.errors.noCode }, 400);
      }
    })
    .post("/privacy/requests/:code/resend", limitBody(MAX_FORM_BYTES, "Forms"), async (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      const code = normaliseConfirmationCode(c.req.param("code"));
      if (!code) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      const request = await privacy.status(code);
      if (!request) return c.html(<NotFound t={t} text={t.errors.unknownRequest} />, 404);
      if (overLimit(c.get("clientIp"))) {
        return c.html(
          <Status
            t={t}
            code={code}
            request={request}
            problems={{ form: t.errors.tooMany }}
          />,
          429,
        );
      }
      const sent = await privacy.resendCode(code, c.get("requestId"));
      if (sent === "too_soon" || sent === "too_many") {
        return c.html(
          <Status
            t={t}
            code={code}
            request={request}
            problems={{ form: sent === "too_soon" ? t.resendTooSoon : t.resendTooMany }}
          />,
          429,
        );
      }
      return c.redirect(
        `/privacy/requests/${code}?lang=${t.lang}&n=resent`,
        303,
      );
    })
    .get("/privacy/exports/:token", async (c) => {
      const t = messagesFor(c.req.query("lang"), c.req.header("accept-language"));
      const json = await privacy.downloadExport(c.req.param("token"));
      if (json === null) return c.html(<NotFound t={t} text={t.linkGone} />, 410);
      return c.body(json, 200, {
        "content-type": "application/json; charset=utf-8",
        "content-disposition": 'attachment; filename="my-data.json"',
        "cache-control": "no-store",
      });
    });
}
