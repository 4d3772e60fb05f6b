import assert from "node:assert/strict";
import { join } from "node:path";
import { runTool } from "../_support/cli.ts";
import { isRunning, processTree } from "../_support/processes.ts";
import {
  api,
  launch,
  type Launcher,
  ready,
  STACK_FIELDS,
  stackDir,
  type StackInfo,
  within,
} from "../_support/dev_stack.ts";

/**
 * The `deno task dev` contract (README: Set up), checked on a real launcher: a stack in its own
 * directory on free ports, so it runs beside the test stack and any `deno task dev` of yours.
 */

/** Checks a running launcher against the contract; returns every process it runs. */
async function assertRunning(info: StackInfo, launcher: Launcher): Promise<number[]> {
  for (const field of STACK_FIELDS) {
    assert.equal(typeof info[field], "string", `stack.json has ${field}`);
    assert.ok(info[field].length > 0, `stack.json has a value for ${field}`);
  }
  const health = await fetch(`${info.app_url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const me = await api(info, "/v1/me");
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.client.id, info.client_id);
  const emulator = await fetch(info.emulator_url, { signal: AbortSignal.timeout(5000) });
  await emulator.body?.cancel();

  assert.ok(info.pids.includes(launcher.pid), "stack.json lists the launcher itself");
  for (const pid of info.pids) assert.ok(isRunning(pid), `pid ${pid} from stack.json runs`);
  // everything below the launcher too (PostgreSQL's own workers, wrangler's workerd, ...)
  return [...new Set([...info.pids, ...processTree(launcher.pid).map((p) => p.pid)])];
}

async function assertStopped(
  launcher: Launcher,
  signal: Deno.Signal,
  dir: string,
  pids: number[],
) {
  Deno.kill(launcher.pid, signal);
  const status = await within(launcher.status, 30_000, `stopping on ${signal}`);
  assert.equal(status.code, 0, launcher.output());
  // pieces stopped out of order show up as errors (the app flushing into a stopped database)
  assert.doesNotMatch(launcher.output(), /Uncaught|request_log_failed/, launcher.output());
  // orphans are re-parented and reaped by init: give that a moment, no more
  const deadline = Date.now() + 5000;
  while (pids.some(isRunning) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(pids.filter(isRunning), [], `every process is gone after ${signal}`);
  await assert.rejects(Deno.stat(join(dir, "stack.lock")), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(join(dir, "stack.json")), Deno.errors.NotFound);
}

Deno.test("`deno task dev` starts the stack, serves the operator CLI through its dir, refuses a second copy, stops everything on SIGTERM and SIGINT, and keeps its data across restarts (Deno, then workerd)", async () => {
  const dir = await stackDir("dev-stack-test-");
  const launchers: Launcher[] = [];
  // every process seen, so that a failed run does not leave any of them behind
  const seen = new Set<number>();
  const start = (options: { workers?: boolean } = {}): Launcher => {
    const l = launch(dir, options);
    launchers.push(l);
    return l;
  };
  try {
    const first = start();
    const info = await ready(first, dir);
    assert.equal(info.runtime, "deno");
    const pids = await assertRunning(info, first);
    pids.forEach((pid) => seen.add(pid));
    // the local-stack contract: the demo shop is connected to the Shopify plugin, so a
    // signed orders/create with the opt-in attribute becomes a template send at the Graph emulator
    const order = await fetch(`${info.shopify_emulator_url}/__emulator/orders`, {
      method: "POST",
      body: JSON.stringify({
        shop: info.shop_domain,
        phone: "098470 12345",
        country: "IN",
        opt_in: true,
      }),
    }).then((r) => r.json());
    assert.equal(order.deliveries?.[0]?.status, 200, JSON.stringify(order));
    const deadline = Date.now() + 15_000;
    let templates: Array<{ to: string; body: { template: { name: string } } }> = [];
    while (Date.now() < deadline && !templates.length) {
      const sent = await (await fetch(`${info.emulator_url}/__emulator/messages`)).json();
      templates = sent.data.filter((m: { type: string; to: string }) =>
        m.type === "template" && m.to.replace(/\D/g, "") === "919847012345"
      );
      if (!templates.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(templates.length, 1, first.output());
    assert.equal(templates[0].body.template.name, "order_confirmation");
    // the operator CLI finds this stack on the free ports it took, through its dir, and says so
    const listed = await runTool("tools/client_cli.ts", ["list", "--dir", dir, "--json"], {}, {
      operatorEnv: false,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).some((c: { id: string }) => c.id === info.client_id));
    assert.equal(
      listed.stderr.trim(),
      `client: using the local stack in ${dir} (pid ${first.pid}), Supabase API ${
        (info as unknown as { supabase_url: string }).supabase_url
      }`,
    );
    const created = await api(info, "/v1/api-keys", {
      method: "POST",
      body: JSON.stringify({ name: "survives a restart", scopes: ["messages:read"] }),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const started = performance.now();
    const second = start();
    const refused = await within(second.status, 15_000, "refusing a second copy");
    assert.equal(refused.code, 1);
    assert.ok(performance.now() - started < 10_000, "the second copy fails fast");
    assert.match(second.output(), new RegExp(`already running .*\\(pid ${first.pid}\\)`));
    assert.ok(isRunning(first.pid), "the first copy is undisturbed");
    assert.equal((await fetch(`${info.app_url}/healthz`)).status, 200);

    await assertStopped(first, "SIGTERM", dir, pids);
    const refusedCli = await runTool("tools/client_cli.ts", ["list", "--dir", dir], {}, {
      operatorEnv: false,
    });
    assert.equal(refusedCli.code, 78, "a stopped stack's dir is refused, not tried");
    assert.match(refusedCli.stderr, /no local stack is running from /);

    // the restart runs the app in workerd: the same data, and wrangler's processes must stop too
    const again = start({ workers: true });
    const restarted = await ready(again, dir);
    assert.equal(restarted.runtime, "workerd");
    const pidsAgain = await assertRunning(restarted, again);
    pidsAgain.forEach((pid) => seen.add(pid));
    // wrangler dev offline: no attempt to fetch Cloudflare's sample request.cf (a DNS stack trace)
    assert.doesNotMatch(again.output(), /Request\.cf|ENOTFOUND/, again.output());
    const binaries = processTree(again.pid).map((p) => p.comm);
    assert.ok(binaries.includes("workerd"), `the app runs in workerd: ${binaries.join(", ")}`);
    assert.equal(restarted.api_key, info.api_key, "the demo key is kept");
    const keys = await api(restarted, "/v1/api-keys");
    assert.equal(keys.status, 200);
    assert.ok(
      keys.body.data.some((k: { id: string }) => k.id === created.body.api_key.id),
      "the key created before the restart is still there",
    );

    await assertStopped(again, "SIGINT", dir, pidsAgain);
  } finally {
    for (const l of launchers) {
      if (!isRunning(l.pid)) continue;
      const tree = processTree(l.pid).map((p) => p.pid);
      Deno.kill(l.pid, "SIGTERM");
      await within(l.status, 30_000, "stopping after a failure").catch(() => {
        for (const pid of tree.filter(isRunning)) Deno.kill(pid, "SIGKILL");
      });
    }
    await Promise.all(launchers.map((l) => l.status.catch(() => {})));
    for (const pid of [...seen].filter(isRunning)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a SIGTERM to the outermost process of `npx deno task dev` stops the whole stack, and `--dir` alone runs it on free ports", async () => {
  const dir = await stackDir("npx-stack-test-");
  const launcher = launch(dir, { npx: true, ports: "default" });
  let tree: Array<{ pid: number; comm: string }> = [];
  try {
    const info = await ready(launcher, dir);
    assert.notEqual(
      new URL(info.app_url).port,
      "8787",
      "--dir alone: not the default stack's port",
    );
    assert.notEqual(new URL(info.supabase_url).port, "54321");
    assert.equal((await api(info, "/v1/me")).status, 200);
    // npx → sh → deno task → deno run tools/dev.ts → PostgreSQL, PostgREST, the app, …
    tree = processTree(launcher.pid);
    const names = tree.map((p) => p.comm);
    for (const name of ["postgres", "postgrest", "deno"]) {
      assert.ok(names.includes(name), `${name} runs below npx: ${names.join(", ")}`);
    }

    Deno.kill(launcher.pid, "SIGTERM");
    const deadline = Date.now() + 30_000;
    while (tree.some((p) => isRunning(p.pid)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const left = tree.filter((p) => isRunning(p.pid)).map((p) => `${p.comm} (${p.pid})`);
    assert.deepEqual(left, [], `nothing is left 30 s after SIGTERM to npx:\n${launcher.output()}`);
    await within(launcher.status, 10_000, "the launcher's output closing");
    await assert.rejects(Deno.stat(join(dir, "stack.lock")), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(join(dir, "stack.json")), Deno.errors.NotFound);
  } finally {
    for (const p of tree.filter((p) => isRunning(p.pid))) Deno.kill(p.pid, "SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
