/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { FC } from "hono/jsx";
import type { JournalDay, JournalListing } from "../../../src/plugin_api/mod.ts";
import { type Config, type Notification, NOTIFICATIONS, PARAMETERS } from "../config.ts";

/**
 * The merchant's page, rendered on the server (hono/jsx): plain HTML forms that post back to the
 * plugin, a stylesheet of its own and a chart drawn as SVG, so it works with no script at all and
 * under a Content-Security-Policy that allows no inline script or style. Shopify's App Bridge
 * script, which Shopify requires of embedded apps, is the only thing loaded from elsewhere.
 */

export const APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js";
export const STYLE_PATH = "/plugins/shopify/app/style";

export const LABELS: Record<Notification, string> = {
  order_confirmation: "Order confirmation",
  cod_confirmation: "Cash on delivery confirmation (Confirm / Cancel buttons)",
  shipping_update: "Shipping update (carrier, tracking number and link)",
  out_for_delivery: "Out for delivery",
  delivered: "Delivered",
  cancellation: "Order cancelled",
  refund: "Refund issued",
};

/** Why a notification was not sent, as a merchant reads it. */
export const REASONS: Record<string, string> = {
  no_consent: "No WhatsApp opt-in on record",
  opted_out: "The customer opted out (STOP)",
  no_phone: "The order has no phone number",
  invalid_phone: "No usable phone number",
  stale: "Out of date (the order had moved on)",
  cancelled_by_customer: "The customer cancelled on WhatsApp",
  no_admin_access: "The app has no access to the shop: open it again",
  order_unavailable: "The order could not be read",
  admin_api_refused: "Shopify refused the change",
  outside_window: "Outside the 24-hour window",
  unknown_sender_number: "The WhatsApp sending number is unknown",
  sender_number_required: "Several WhatsApp numbers: choose one",
  template_not_found: "The template is not in your WhatsApp account in that language",
  template_not_approved: "The template is not approved (yet)",
  template_paused: "The template is paused by Meta",
  template_disabled: "The template is disabled by Meta",
  template_parameters_mismatch: "The template's variables do not fit the parameters",
};

/** A template's review state, as a merchant reads it. */
const REVIEW: Record<string, string> = {
  APPROVED: "Approved",
  PENDING: "Pending review by Meta",
  REJECTED: "Rejected",
  PAUSED: "Paused by Meta",
  DISABLED: "Disabled by Meta",
  IN_APPEAL: "In appeal",
  PENDING_DELETION: "Being deleted",
  DELETED: "Deleted",
  LIMIT_EXCEEDED: "Template limit reached",
};

const STATUS: Record<string, string> = {
  queued: "Queued",
  sending: "Sending",
  accepted: "Accepted",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Failed",
};

export interface Notice {
  tone: "ok" | "error";
  text: string;
}

const Layout: FC<{ apiKey: string; title: string; children?: unknown }> = (props) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="shopify-api-key" content={props.apiKey} />
      <title>{props.title}</title>
      <script src={APP_BRIDGE}></script>
      <link rel="stylesheet" href={STYLE_PATH} />
    </head>
    <body>
      <main>{props.children}</main>
    </body>
  </html>
);

const NoticeBox: FC<{ notice?: Notice | null }> = ({ notice }) =>
  notice
    ? (
      <p class={`notice ${notice.tone}`} role={notice.tone === "error" ? "alert" : "status"}>
        {notice.text}
      </p>
    )
    : null;

/** The page for a staff member whose session token did not verify. */
export const Refused: FC<{ apiKey: string }> = ({ apiKey }) => (
  <Layout apiKey={apiKey} title="WhatsApp notifications">
    <h1>WhatsApp notifications</h1>
    <p class="notice error" role="alert">
      Open this app from your Shopify admin: the page needs the session Shopify gives it there.
    </p>
  </Layout>
);

/** A shop no client has linked yet: the code that proves the link. */
export const LinkPage: FC<{ apiKey: string; shop: string; code: string }> = (p) => (
  <Layout apiKey={p.apiKey} title="Link your shop">
    <h1>WhatsApp notifications</h1>
    <p>
      <strong>{p.shop}</strong>{" "}
      is not linked to a WhatsApp account yet. Give this link code to your WhatsApp provider (it is
      valid for 7 days); once they have set it, open this page again.
    </p>
    <p class="code" id="link-code">{p.code}</p>
    <p class="hint">
      Your provider sets it with <code>PUT /v1/plugins/shopify</code> and{" "}
      <code>{`{"config": {"shop_domain": "${p.shop}"}, "secrets": {"link_code": "…"}}`}</code>.
    </p>
  </Layout>
);

/**
 * What the page shows about templates: the approved ones a notification can use (the picker),
 * why a configured one cannot be sent (the core's check), and the state of each proposal.
 */
export interface TemplatesView {
  approved: Array<{ name: string; language: string; variables: number | null }>;
  warnings: Partial<Record<Notification, { reason: string; message: string }>>;
  proposals: Record<
    Notification,
    { name: string; language: string; status: string | null; rejectedReason: string | null }
  >;
  /** the listing failed: the picker offers the configured templates only */
  unavailable: boolean;
}

const choice = (name: string, language: string) => `${name}|${language}`;

const TemplatePicker: FC<{ n: Notification; config: Config; view: TemplatesView }> = (
  { n, config, view },
) => {
  const s = config.notifications[n];
  const current = choice(s.template, s.language);
  const listed = view.approved.some((t) => choice(t.name, t.language) === current);
  const warning = view.warnings[n];
  return (
    <>
      <select name={`${n}.template`} aria-label={`${LABELS[n]}: template`}>
        {listed ? null : (
          <option value={current} selected>
            {`${s.template} (${s.language})${
              warning ? " ⚠ " + (REASONS[warning.reason] ?? warning.reason) : ""
            }`}
          </option>
        )}
        {view.approved.map((t) => (
          <option
            key={choice(t.name, t.language)}
            value={choice(t.name, t.language)}
            selected={choice(t.name, t.language) === current}
          >
            {`${t.name} (${t.language})${t.variables === null ? "" : `, ${t.variables} variables`}`}
          </option>
        ))}
      </select>
      {warning
        ? (
          <p class="warn" role="note" data-warning={n} data-reason={warning.reason}>
            ⚠ {REASONS[warning.reason] ?? warning.reason}: {warning.message}
          </p>
        )
        : null}
    </>
  );
};

const Proposals: FC<{ view: TemplatesView; shop: string; pageToken: string }> = (p) => (
  <section>
    <h2>Templates for your notifications</h2>
    <p class="hint">
      WhatsApp sends order notifications only with templates Meta has approved. These fit each
      notification as it is set up by default: submit one for review in one click; Meta usually
      answers within minutes to a day.
    </p>
    <table class="proposals" id="proposals">
      <thead>
        <tr>
          <th>Notification</th>
          <th>Template</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {NOTIFICATIONS.map((n) => {
          const t = p.view.proposals[n];
          return (
            <tr key={n} data-proposal={n} data-status={t.status ?? "none"}>
              <td>{LABELS[n]}</td>
              <td>
                <code>{t.name}</code> ({t.language})
              </td>
              <td>
                {t.status === null
                  ? (
                    <form method="post" action="/plugins/shopify/app/templates" class="inline">
                      <input type="hidden" name="shop" value={p.shop} />
                      <input type="hidden" name="page_token" value={p.pageToken} />
                      <input type="hidden" name="notification" value={n} />
                      <button type="submit" aria-label={`Submit ${t.name} for review`}>
                        Submit for review
                      </button>
                    </form>
                  )
                  : `${REVIEW[t.status] ?? t.status}${
                    t.rejectedReason && t.rejectedReason !== "NONE" ? `: ${t.rejectedReason}` : ""
                  }`}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  </section>
);

export interface SettingsPageProps {
  apiKey: string;
  shop: string;
  pageToken: string;
  config: Config;
  connected: boolean;
  notice?: Notice | null;
  recent: JournalListing[];
  days: JournalDay[];
  templates: TemplatesView;
}

const mask = (digits: string | null) =>
  digits ? `+${digits.slice(0, Math.max(1, digits.length - 10))} ••• ${digits.slice(-4)}` : "—";

function describe(e: JournalListing): string {
  if (e.outcome === "suppressed") return `Not sent: ${REASONS[e.reason ?? ""] ?? e.reason}`;
  if (e.outcome === "sent") return STATUS[e.messageStatus ?? ""] ?? "Sent (no longer kept)";
  if (e.outcome === "done") {
    return e.data.action === "cancel" ? "Customer cancelled" : "Customer confirmed";
  }
  return "In progress";
}

function kindLabel(kind: string): string {
  if (kind.startsWith("test:")) return `Test: ${LABELS[kind.slice(5) as Notification] ?? kind}`;
  if (kind === "cod_answer") return "Cash on delivery answer";
  return LABELS[kind as Notification] ?? kind;
}

const Chart: FC<{ days: JournalDay[] }> = ({ days }) => {
  const total = (d: JournalDay) => d.sent + Object.values(d.suppressed).reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...days.map(total));
  const width = 18;
  const height = 120;
  const scale = (n: number) => (n / max) * height;
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${days.length * width + 40} ${height + 30}`}
      role="img"
      aria-label="Notifications per day over the last 30 days"
    >
      {days.map((d, i) => {
        const suppressed = total(d) - d.sent;
        const parts: Array<[string, number]> = [
          ["read", d.read],
          ["delivered", d.delivered - d.read],
          ["sent", d.sent - d.delivered],
          ["suppressed", suppressed],
        ];
        let y = height + 10;
        const x = 30 + i * width;
        return (
          <g key={d.day}>
            <title>
              {`${d.day}: ${d.sent} sent, ${d.delivered} delivered, ${d.read} read, ${suppressed} not sent`}
            </title>
            {parts.map(([name, n]) => {
              if (n <= 0) return null;
              const h = scale(n);
              y -= h;
              return (
                <rect key={name} class={`bar ${name}`} x={x} y={y} width={width - 4} height={h} />
              );
            })}
          </g>
        );
      })}
      <line class="axis" x1="28" y1={height + 10} x2={days.length * width + 30} y2={height + 10} />
      <text class="label" x="30" y={height + 26}>{days[0]?.day ?? ""}</text>
      <text class="label end" x={days.length * width + 26} y={height + 26}>
        {days.at(-1)?.day ?? ""}
      </text>
      <text class="label end" x="24" y="16">{String(max)}</text>
    </svg>
  );
};

const Totals: FC<{ days: JournalDay[] }> = ({ days }) => {
  const sum = (f: (d: JournalDay) => number) => days.reduce((a, d) => a + f(d), 0);
  const reasons = new Map<string, number>();
  for (const d of days) {
    for (const [r, n] of Object.entries(d.suppressed)) reasons.set(r, (reasons.get(r) ?? 0) + n);
  }
  return (
    <table class="totals" id="totals">
      <tbody>
        <tr>
          <th scope="row">
            <span class="key sent"></span>Sent
          </th>
          <td data-total="sent">{sum((d) => d.sent)}</td>
        </tr>
        <tr>
          <th scope="row">
            <span class="key delivered"></span>Delivered
          </th>
          <td data-total="delivered">{sum((d) => d.delivered)}</td>
        </tr>
        <tr>
          <th scope="row">
            <span class="key read"></span>Read
          </th>
          <td data-total="read">{sum((d) => d.read)}</td>
        </tr>
        {[...reasons].map(([reason, n]) => (
          <tr key={reason}>
            <th scope="row">
              <span class="key suppressed"></span>Not sent: {REASONS[reason] ?? reason}
            </th>
            <td data-total={`suppressed:${reason}`}>{n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
};

export const SettingsPage: FC<SettingsPageProps> = (p) => (
  <Layout apiKey={p.apiKey} title="WhatsApp notifications">
    <header>
      <h1>WhatsApp notifications</h1>
      <p class="shop">
        {p.shop} · {p.connected ? "connected" : "not connected: reload to connect"}
      </p>
    </header>
    <NoticeBox notice={p.notice} />

    <section>
      <h2>Last 30 days</h2>
      <Chart days={p.days} />
      <Totals days={p.days} />
    </section>

    <section>
      <h2>Notifications</h2>
      <form method="post" action="/plugins/shopify/app/settings" id="settings">
        <input type="hidden" name="shop" value={p.shop} />
        <input type="hidden" name="page_token" value={p.pageToken} />
        <table class="settings">
          <thead>
            <tr>
              <th>Notification</th>
              <th>On</th>
              <th>Template (approved ones)</th>
              <th>Parameters</th>
            </tr>
          </thead>
          <tbody>
            {NOTIFICATIONS.map((n) => {
              const s = p.config.notifications[n];
              return (
                <tr key={n}>
                  <td>{LABELS[n]}</td>
                  <td>
                    <input
                      type="checkbox"
                      name={`${n}.enabled`}
                      aria-label={`${LABELS[n]}: on`}
                      checked={s.enabled}
                    />
                  </td>
                  <td>
                    <TemplatePicker n={n} config={p.config} view={p.templates} />
                  </td>
                  <td>
                    <input
                      type="text"
                      name={`${n}.parameters`}
                      value={s.parameters.join(", ")}
                      aria-label={`${LABELS[n]}: parameters`}
                      title={`In order, from: ${PARAMETERS.join(", ")}`}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <button type="submit">Save</button>
      </form>
    </section>

    <Proposals view={p.templates} shop={p.shop} pageToken={p.pageToken} />

    <section>
      <h2>Send a test message</h2>
      <form method="post" action="/plugins/shopify/app/test" id="test" class="inline">
        <input type="hidden" name="shop" value={p.shop} />
        <input type="hidden" name="page_token" value={p.pageToken} />
        <label>
          Notification{" "}
          <select name="notification">
            {NOTIFICATIONS.map((n) => <option key={n} value={n}>{LABELS[n]}</option>)}
          </select>
        </label>
        <label>
          To <input type="tel" name="phone" placeholder="+91 98470 12345" required />
        </label>
        <button type="submit">Send test</button>
      </form>
    </section>

    <section>
      <h2>Recent notifications</h2>
      <table class="recent" id="recent">
        <thead>
          <tr>
            <th>When (UTC)</th>
            <th>Notification</th>
            <th>Order</th>
            <th>To</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {p.recent.length === 0
            ? (
              <tr>
                <td colspan={5}>Nothing yet.</td>
              </tr>
            )
            : p.recent.map((e) => (
              <tr
                key={e.key}
                data-kind={e.kind}
                data-outcome={e.outcome}
                data-reason={e.reason ?? ""}
              >
                <td>{e.createdAt.slice(0, 16).replace("T", " ")}</td>
                <td>{kindLabel(e.kind)}</td>
                <td>{e.subject ?? ""}</td>
                <td>{mask(e.recipient)}</td>
                <td>{describe(e)}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  </Layout>
);

/** The page's stylesheet, served by the plugin (style-src 'self': no inline style). */
export const STYLESHEET = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0; background: #f6f6f7; color: #202223; }
main { max-width: 980px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 1.4rem; margin: 0.4rem 0; }
h2 { font-size: 1.05rem; margin: 0 0 0.6rem; }
section { background: #fff; border-radius: 10px; padding: 14px 16px; margin: 14px 0;
  box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.shop { color: #6d7175; margin: 0; }
.notice { padding: 10px 12px; border-radius: 8px; }
.notice.ok { background: #e3f1df; }
.notice.error { background: #fbeae5; }
.code { font: 600 1.2rem ui-monospace, monospace; background: #fff; padding: 12px;
  border-radius: 8px; word-break: break-all; }
.hint { color: #6d7175; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e1e3e5; }
td input[type=text], td select { width: 100%; box-sizing: border-box; }
.warn { margin: 4px 0 0; color: #8a4b00; font-size: .85rem; }
button { margin-top: 10px; background: #008060; color: #fff; border: 0; border-radius: 6px;
  padding: 8px 14px; font-weight: 600; cursor: pointer; }
form.inline { display: flex; gap: 12px; align-items: end; flex-wrap: wrap; }
.chart { width: 100%; height: auto; max-height: 220px; }
.bar.read { fill: #2c6ecb; } .bar.delivered { fill: #5c9ded; } .bar.sent { fill: #b4d4f7; }
.bar.suppressed { fill: #e0b3a5; }
.axis { stroke: #8c9196; stroke-width: 1; }
.label { font-size: 9px; fill: #6d7175; } .label.end { text-anchor: end; }
.totals { width: auto; margin-top: 8px; }
.key { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.key.read { background: #2c6ecb; } .key.delivered { background: #5c9ded; }
.key.sent { background: #b4d4f7; } .key.suppressed { background: #e0b3a5; }
`;
