import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "../../tools/stack/mod.ts";
import {
  api,
  launch,
  type Launcher,
  ready,
  stackDir,
  type StackInfo,
  stop,
} from "../_support/dev_stack.ts";
import { isRunning } from "../_support/processes.ts";

/**
 * Master key rotation on a real `deno task dev` stack, whose keys live in its secrets.json: the
 * procedure README.md gives ("Rotating the master key"), with the app restarted between steps.
 */

const decoder = new TextDecoder();

async function keys(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tools/keys_cli.ts"), ...args],
    cwd: ROOT,
    env,
    stdin: "null",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Meta's sample template, which the dev stack's account starts with (it takes no parameters) */
const hello = (to: string) => ({
  to,
  type: "template",
  template: { name: "hello_world", language: { code: "en_US" } },
});

async function send(info: StackInfo, to: string): Promise<string> {
  const res = await api(info, "/v1/messages", {
    method: "POST",
    body: JSON.stringify(hello(to)),
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.message.id;
}

async function readBack(info: StackInfo, id: string) {
  const res = await api(info, `/v1/messages/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.message.content.template.name, "hello_world", "the content decrypts");
}

async function dataKeyVersions(info: StackInfo, serviceKey: string): Promise<string[]> {
  const res = await fetch(
    `${info.supabase_url}/rest/v1/client_data_keys?select=master_key_version`,
    { headers: { apikey: serviceKey, authorization: `Bearer ${serviceKey}` } },
  );
  assert.equal(res.status, 200);
  return (await res.json()).map((r: { master_key_version: string }) => r.master_key_version);
}

Deno.test("rotate, restart, read: rotating to a key the running stack lacks is refused; added to its secrets.json and restarted, the rotation goes through, and with the old key removed old and new messages still read", async () => {
  const dir = await stackDir("key-rotation-test-");
  const secretsFile = join(dir, "secrets.json");
  const launchers: Launcher[] = [];
  const start = async () => {
    const l = launch(dir);
    launchers.push(l);
    return await ready(l, dir);
  };
  const restart = async () => {
    const status = await stop(launchers.at(-1)!);
    assert.equal(status.code, 0, launchers.at(-1)!.output());
    return await start();
  };
  const secrets = () => JSON.parse(Deno.readTextFileSync(secretsFile));
  const setMasterKeys = (value: string) =>
    Deno.writeTextFileSync(secretsFile, JSON.stringify({ ...secrets(), master_keys: value }));
  try {
    let info = await start();
    const v1 = secrets().master_keys as string;
    const serviceKey = secrets().service_role_key as string;
    const cli = (masterKeys: string) => ({
      SUPABASE_URL: info.supabase_url,
      SUPABASE_SERVICE_ROLE_KEY: serviceKey,
      MASTER_KEYS: masterKeys,
    });
    const before = await send(info, "+44 7700 900401");
    await readBack(info, before);

    const generated = await keys(["generate", "v2"], {});
    assert.equal(generated.code, 0, generated.stderr);
    const v2 = generated.stdout.trim();

    // the key exists only where the operator typed it: the running app does not hold it
    const refused = await keys(["rotate"], cli(`${v1},${v2}`));
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /do not hold master key v2/);
    assert.match(refused.stderr, /"master_keys" in the stack's secrets\.json/);
    assert.deepEqual(await dataKeyVersions(info, serviceKey), ["v1"], "nothing was re-wrapped");

    // README: append it to master_keys in the stack's secrets.json, restart, rotate
    setMasterKeys(`${v1},${v2}`);
    info = await restart();
    // the app reports its keys at its first sweep, right after it starts listening
    let rotated = await keys(["rotate"], cli(`${v1},${v2}`));
    for (let i = 0; rotated.code !== 0 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      rotated = await keys(["rotate"], cli(`${v1},${v2}`));
    }
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /Re-wrapped 1 of 1 data keys under master key v2/);
    assert.deepEqual(await dataKeyVersions(info, serviceKey), ["v2"]);

    // the old key goes; the app restarts without it
    setMasterKeys(v2);
    info = await restart();
    await readBack(info, before);
    const after = await send(info, "+44 7700 900402");
    await readBack(info, after);
    assert.deepEqual(await dataKeyVersions(info, serviceKey), ["v2"]);
  } finally {
    for (const l of launchers.filter((l) => isRunning(l.pid))) await stop(l).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
