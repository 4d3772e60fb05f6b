import assert from "node:assert/strict";
import {
  judgeTemplateSend,
  parseGraphTemplate,
  type StoredTemplate,
  type TemplateDefinition,
  templateDefinitionProblems,
  templateWebhookEvent,
  variablesIn,
} from "../../../src/core/whatsapp/templates.ts";

const stored = (over: Partial<StoredTemplate> = {}): StoredTemplate => ({
  name: "order_update",
  language: "en_US",
  status: "APPROVED",
  category: "UTILITY",
  parameter_format: "POSITIONAL",
  components: [{ type: "BODY", text: "Hi {{1}}, order {{2}} shipped." }],
  ...over,
});
const body = (...texts: string[]) => ({
  type: "body",
  parameters: texts.map((text) => ({ type: "text", text })),
});
const send = (components: Array<Record<string, unknown>> = [], language = "en_US") => ({
  name: "order_update",
  language: { code: language },
  components,
});

Deno.test("judgeTemplateSend() accepts a send whose body parameters fill the positional slots", () => {
  assert.deepEqual(judgeTemplateSend(stored(), [], send([body("Ana", "#1001")])), { ok: true });
});

Deno.test("judgeTemplateSend() refuses a missing body parameter, saying how many the body takes", () => {
  const verdict = judgeTemplateSend(stored(), [], send([body("Ana")]));
  assert.equal(verdict.ok, false);
  assert.ok(!verdict.ok && verdict.code === "template_parameters_mismatch");
  assert.match(verdict.message, /body takes 2 parameters \(\{\{1\}\}, \{\{2\}\}\); 1 given/);
  const problems = (verdict.details as { problems: Array<{ path: string }> }).problems;
  assert.equal(problems[0].path, "template.components.0.parameters");
});

Deno.test("judgeTemplateSend() counts a repeated variable once", () => {
  const t = stored({ components: [{ type: "BODY", text: "Hi {{1}}. Bye {{1}}." }] });
  assert.equal(judgeTemplateSend(t, [], send([body("Ana")])).ok, true);
  assert.equal(judgeTemplateSend(t, [], send([body("Ana", "Bo")])).ok, false);
});

Deno.test("judgeTemplateSend() refuses an unknown template and names the languages it exists in", () => {
  const verdict = judgeTemplateSend(null, ["en", "pt_BR"], send([], "en_GB"));
  assert.ok(!verdict.ok && verdict.code === "template_not_found");
  assert.match(verdict.message, /exists in en, pt_BR/);
  assert.deepEqual(verdict.details.languages, ["en", "pt_BR"]);
  const none = judgeTemplateSend(null, [], send());
  assert.ok(!none.ok && /No template named "order_update"/.test(none.message));
});

Deno.test("judgeTemplateSend() refuses paused, disabled, pending and rejected templates with their own codes", () => {
  const code = (status: string) => {
    const v = judgeTemplateSend(stored({ status }), [], send([body("a", "b")]));
    return v.ok ? "ok" : v.code;
  };
  assert.equal(code("PAUSED"), "template_paused");
  assert.equal(code("DISABLED"), "template_disabled");
  assert.equal(code("PENDING"), "template_not_approved");
  assert.equal(code("REJECTED"), "template_not_approved");
  assert.equal(code("APPROVED"), "ok");
  const rejected = judgeTemplateSend(
    stored({ status: "REJECTED", rejected_reason: "INVALID_FORMAT" }),
    [],
    send(),
  );
  assert.ok(!rejected.ok && rejected.message.includes("INVALID_FORMAT"));
});

Deno.test("judgeTemplateSend() matches named parameters by name: missing, unknown and unnamed ones are named", () => {
  const t = stored({
    parameter_format: "NAMED",
    components: [{ type: "BODY", text: "Hi {{first_name}}, order {{order_id}} shipped." }],
  });
  const named = (params: Array<Record<string, unknown>>) =>
    judgeTemplateSend(t, [], send([{ type: "body", parameters: params }]));
  assert.equal(
    named([
      { type: "text", parameter_name: "order_id", text: "#1" },
      { type: "text", parameter_name: "first_name", text: "Ana" },
    ]).ok,
    true,
    "any order",
  );
  const missing = named([{ type: "text", parameter_name: "first_name", text: "Ana" }]);
  assert.ok(!missing.ok && /missing 1 parameter: \{\{order_id\}\}/.test(missing.message));
  const wrong = named([
    { type: "text", parameter_name: "first_name", text: "Ana" },
    { type: "text", parameter_name: "order", text: "#1" },
  ]);
  assert.ok(!wrong.ok);
  const messages = (wrong.details as { problems: Array<{ message: string }> }).problems
    .map((p) => p.message).join(" | ");
  assert.match(messages, /missing 1 parameter: \{\{order_id\}\}/);
  assert.match(messages, /has no parameter \{\{order\}\}/);
  const unnamed = named([{ type: "text", text: "Ana" }, { type: "text", text: "#1" }]);
  assert.ok(!unnamed.ok && /needs parameter_name/.test(JSON.stringify(unnamed.details)));
});

Deno.test("judgeTemplateSend() checks a media header's type and a text header's variable", () => {
  const image = stored({
    components: [{ type: "HEADER", format: "IMAGE" }, { type: "BODY", text: "Look." }],
  });
  const header = (p: Record<string, unknown>) => ({ type: "header", parameters: [p] });
  assert.equal(
    judgeTemplateSend(
      image,
      [],
      send([header({ type: "image", image: { link: "https://x/y.png" } })]),
    )
      .ok,
    true,
  );
  const noHeader = judgeTemplateSend(image, [], send([]));
  assert.ok(
    !noHeader.ok && /header is an image: give one header parameter of type image/.test(
      noHeader.message,
    ),
  );
  const video = judgeTemplateSend(image, [], send([header({ type: "video", video: { id: "1" } })]));
  assert.ok(!video.ok && /given: video/.test(video.message));
  const empty = judgeTemplateSend(image, [], send([header({ type: "image", image: {} })]));
  assert.ok(!empty.ok && /needs an id or a link/.test(empty.message));

  const text = stored({
    components: [{ type: "HEADER", format: "TEXT", text: "Order {{1}}" }, {
      type: "BODY",
      text: "Shipped.",
    }],
  });
  assert.equal(judgeTemplateSend(text, [], send([header({ type: "text", text: "#1" })])).ok, true);
  assert.equal(judgeTemplateSend(text, [], send([])).ok, false);
  const extra = judgeTemplateSend(
    stored({ components: [{ type: "BODY", text: "Plain." }] }),
    [],
    send([
      header({ type: "text", text: "x" }),
    ]),
  );
  assert.ok(!extra.ok && /no header/.test(extra.message));
});

Deno.test("judgeTemplateSend() requires the parameter of a URL button with a variable, and refuses buttons the template lacks", () => {
  const t = stored({
    components: [
      { type: "BODY", text: "Track it." },
      {
        type: "BUTTONS",
        buttons: [
          { type: "QUICK_REPLY", text: "Stop" },
          { type: "URL", text: "Track", url: "https://shop.example/t/{{1}}" },
          { type: "PHONE_NUMBER", text: "Call", phone_number: "+15550001111" },
        ],
      },
    ],
  });
  const url = {
    type: "button",
    sub_type: "url",
    index: "1",
    parameters: [{ type: "text", text: "ab" }],
  };
  assert.equal(judgeTemplateSend(t, [], send([url])).ok, true);
  const quick = {
    type: "button",
    sub_type: "quick_reply",
    index: 0,
    parameters: [{ type: "payload", payload: "STOP" }],
  };
  assert.equal(judgeTemplateSend(t, [], send([url, quick])).ok, true, "a payload may be given");
  const missing = judgeTemplateSend(t, [], send([]));
  assert.ok(
    !missing.ok && /Button 1 \(url\) needs a button component with sub_type url/.test(
      missing.message,
    ),
  );
  const phone = judgeTemplateSend(t, [], send([url, { ...url, index: "2" }]));
  assert.ok(!phone.ok && /Button 2 \(phone_number\) takes no parameters/.test(phone.message));
  const beyond = judgeTemplateSend(t, [], send([url, { ...url, index: "7" }]));
  assert.ok(!beyond.ok && /no button at index 7/.test(beyond.message));
});

Deno.test("judgeTemplateSend() lets a template known only from a webhook (no components) through when approved", () => {
  assert.equal(judgeTemplateSend(stored({ components: null }), [], send([body("x")])).ok, true);
});

const definition = (over: Partial<TemplateDefinition> = {}): TemplateDefinition => ({
  name: "order_update",
  language: "en_US",
  category: "UTILITY",
  components: [{
    type: "BODY",
    text: "Hi {{1}}, your order {{2}} has shipped.",
    example: { body_text: [["Ana", "#1001"]] },
  }],
  ...over,
});
const messages = (def: TemplateDefinition) =>
  templateDefinitionProblems(def).map((p) => `${p.path}: ${p.message}`);

Deno.test("templateDefinitionProblems() accepts a well-formed template", () => {
  assert.deepEqual(messages(definition()), []);
  assert.deepEqual(
    messages(definition({
      parameter_format: "NAMED",
      components: [
        {
          type: "HEADER",
          format: "TEXT",
          text: "Order {{order_id}}",
          example: { header_text_named_params: [{ param_name: "order_id", example: "#1" }] },
        },
        {
          type: "BODY",
          text: "Hi {{first_name}}, it shipped.",
          example: { body_text_named_params: [{ param_name: "first_name", example: "Ana" }] },
        },
        { type: "FOOTER", text: "Reply STOP to opt out" },
        {
          type: "BUTTONS",
          buttons: [
            {
              type: "URL",
              text: "Track",
              url: "https://x.example/t/{{1}}",
              example: ["https://x.example/t/1"],
            },
            { type: "QUICK_REPLY", text: "Stop" },
            { type: "QUICK_REPLY", text: "More" },
          ],
        },
      ],
    })),
    [],
  );
});

Deno.test("templateDefinitionProblems() names Meta's rules a body breaks", () => {
  const bodyWith = (text: string, example?: string[]) =>
    messages(definition({
      components: [{
        type: "BODY",
        text,
        ...(example ? { example: { body_text: [example] } } : {}),
      }],
    })).join("\n");
  assert.match(bodyWith("{{1}} is your code", ["1"]), /cannot start or end with a variable/);
  assert.match(bodyWith("Your code is {{1}}", ["1"]), /cannot start or end with a variable/);
  assert.match(bodyWith("Hi {{1}} {{2}} there", ["a", "b"]), /side by side/);
  assert.match(
    bodyWith("Hi {{1}} and {{3}} there", ["a", "b"]),
    /in order from \{\{1\}\} without gaps/,
  );
  assert.match(bodyWith("Hi {{1}} there"), /needs an example value/);
  assert.match(bodyWith("Hi {{1}} there", ["a", "b"]), /needs an example value/);
  assert.match(bodyWith("Hi {{ name }} there", ["a"]), /is not a variable/);
  assert.match(bodyWith("Hi {{1} there"), /Unbalanced/);
  assert.match(bodyWith("Hi {{name}} there", ["a"]), /numbered \{\{1\}\}.*parameter_format NAMED/);
  assert.match(bodyWith("x".repeat(1025)), /at most 1024 characters/);
  assert.match(messages(definition({ components: [] })).join(), /needs a BODY/);
});

Deno.test("templateDefinitionProblems() enforces header, footer and button limits", () => {
  const all = (components: Array<Record<string, unknown>>) =>
    messages(definition({
      components: [{ type: "BODY", text: "Plain text." }, ...components],
    })).join("\n");
  assert.match(all([{ type: "HEADER", format: "TEXT", text: "x".repeat(61) }]), /at most 60/);
  assert.match(
    all([{
      type: "HEADER",
      format: "TEXT",
      text: "{{1}} and {{2}}",
      example: { header_text: ["a", "b"] },
    }]),
    /one variable at most/,
  );
  assert.match(all([{ type: "HEADER", format: "IMAGE" }]), /header_handle/);
  assert.match(all([{ type: "FOOTER", text: "Hi {{1}}" }]), /footer cannot hold variables/);
  const qr = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ type: "QUICK_REPLY", text: `b${i}` }));
  assert.match(all([{ type: "BUTTONS", buttons: qr(11) }]), /1 to 10 buttons/);
  const url = { type: "URL", text: "Go", url: "https://x.example" };
  assert.match(all([{ type: "BUTTONS", buttons: [url, url, url] }]), /At most 2 URL buttons/);
  assert.match(
    all([{
      type: "BUTTONS",
      buttons: [{ type: "QUICK_REPLY", text: "a" }, url, { type: "QUICK_REPLY", text: "b" }],
    }]),
    /grouped together/,
  );
  assert.match(
    all([{ type: "BUTTONS", buttons: [{ ...url, url: "https://x.example/{{1}}" }] }]),
    /needs an example/,
  );
  assert.match(
    all([{
      type: "BUTTONS",
      buttons: [{ ...url, url: "https://x.example/{{1}}/more", example: ["u"] }],
    }]),
    /at its end/,
  );
  assert.match(
    all([{ type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "x".repeat(26) }] }]),
    /1 to 25/,
  );
  assert.match(
    all([{ type: "BUTTONS", buttons: [{ type: "COPY_CODE", example: "SAVE10" }] }]),
    /MARKETING templates only/,
  );
  assert.match(
    all([{ type: "FOOTER", text: "a" }, { type: "FOOTER", text: "b" }]),
    /at most one FOOTER/,
  );
});

Deno.test("templateDefinitionProblems() takes authentication templates in their own shape", () => {
  const auth = (components: Array<Record<string, unknown>>) =>
    messages(definition({ category: "AUTHENTICATION", components }));
  assert.deepEqual(
    auth([
      { type: "BODY", add_security_recommendation: true },
      { type: "FOOTER", code_expiration_minutes: 10 },
      { type: "BUTTONS", buttons: [{ type: "OTP", otp_type: "COPY_CODE" }] },
    ]),
    [],
  );
  assert.match(
    auth([{ type: "BODY", text: "Your code is {{1}}" }]).join(),
    /body text is Meta's own/,
  );
  assert.match(
    auth([{ type: "BODY" }, { type: "BUTTONS", buttons: [{ type: "QUICK_REPLY", text: "x" }] }])
      .join(),
    /one OTP button/,
  );
});

Deno.test("variablesIn() reads positional and named variables and reports broken braces", () => {
  assert.deepEqual(variablesIn("{{1}} {{first_name}} {{1}}"), {
    names: ["1", "first_name", "1"],
    malformed: null,
  });
  assert.match(variablesIn("{{First}}").malformed!, /not a variable/);
  assert.match(variablesIn("a }} b").malformed!, /Unbalanced/);
});

Deno.test("parseGraphTemplate() reads Meta's listing and refuses what the store cannot hold", () => {
  const row = parseGraphTemplate({
    id: "1234567890",
    name: "order_update",
    language: "en_US",
    status: "APPROVED",
    category: "UTILITY",
    components: [{ type: "BODY", text: "Hi {{1}}" }],
    parameter_format: "POSITIONAL",
    quality_score: { score: "GREEN", date: 1 },
    rejected_reason: "NONE",
  });
  assert.deepEqual(row, {
    meta_template_id: "1234567890",
    name: "order_update",
    language: "en_US",
    category: "UTILITY",
    status: "APPROVED",
    quality_score: "GREEN",
    parameter_format: "POSITIONAL",
    components: [{ type: "BODY", text: "Hi {{1}}" }],
    rejected_reason: null,
  });
  assert.ok(
    "problem" in
      parseGraphTemplate({ id: "1", name: "Bad Name", language: "en", status: "APPROVED" }),
  );
  assert.ok(
    "problem" in parseGraphTemplate({ id: "x1", name: "a", language: "en", status: "APPROVED" }),
  );
  assert.ok(
    "problem" in
      parseGraphTemplate({ id: "1", name: "a", language: "en\u0000", status: "APPROVED" }),
  );
  assert.ok(
    "problem" in parseGraphTemplate({
      id: "1",
      name: "a",
      language: "en",
      status: "APPROVED",
      components: [{ type: "BODY", text: "x".repeat(70_000) }],
    }),
  );
});

Deno.test("templateWebhookEvent() reads Meta's three template webhooks and maps events to statuses", () => {
  const ref = {
    message_template_id: 1234567890,
    message_template_name: "order_update",
    message_template_language: "en_US",
  };
  assert.deepEqual(
    templateWebhookEvent("111", "message_template_status_update", {
      ...ref,
      event: "REJECTED",
      reason: "INVALID_FORMAT",
      message_template_category: "UTILITY",
    }),
    {
      waba_id: "111",
      meta_template_id: "1234567890",
      name: "order_update",
      language: "en_US",
      kind: "status",
      status: "REJECTED",
      reason: "INVALID_FORMAT",
      category: "UTILITY",
    },
  );
  const reinstated = templateWebhookEvent("111", "message_template_status_update", {
    ...ref,
    event: "REINSTATED",
    reason: "NONE",
  });
  assert.equal(reinstated?.status, "APPROVED");
  assert.equal(reinstated?.reason, null);
  const flagged = templateWebhookEvent("111", "message_template_status_update", {
    ...ref,
    event: "FLAGGED",
  });
  assert.equal(flagged?.status, null, "a status the event does not say is asked of Meta");
  assert.equal(
    templateWebhookEvent("111", "message_template_quality_update", {
      ...ref,
      previous_quality_score: "GREEN",
      new_quality_score: "RED",
    })?.quality_score,
    "RED",
  );
  const impending = templateWebhookEvent("111", "template_category_update", {
    ...ref,
    correct_category: "MARKETING",
    new_category: "UTILITY",
  });
  assert.equal(impending, null, "a change announced but not made is not applied");
  assert.equal(
    templateWebhookEvent("111", "template_category_update", {
      ...ref,
      previous_category: "UTILITY",
      new_category: "MARKETING",
    })?.category,
    "MARKETING",
  );
  assert.equal(templateWebhookEvent("111", "account_update", { event: "X" }), null);
  assert.equal(
    templateWebhookEvent("111", "message_template_status_update", { ...ref, event: 7 }),
    null,
  );
});
