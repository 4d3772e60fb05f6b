import assert from "node:assert/strict";
import { join } from "node:path";
import { runTool } from "../_support/cli.ts";
import { appUnderTest, bearer } from "../_support/app.ts";
import { testApp, testStack } from "../_support/stack.ts";

const CLI = "tools/client_cli.ts";

/**
 * A stack directory as `deno task dev` leaves it: secrets.json always; while it runs, stack.json
 * (with the Supabase API URL it got, here the test stack's, on a port of its own) and the
 * launcher's pid in stack.lock. `launcher` stands for that pid.
 */
async function stackDir(state: { running: boolean; launcher?: number; lockedBy?: number }) {
  const dir = await Deno.makeTempDir({ prefix: "cli-stack-" });
  const s = testStack();
  await Deno.writeTextFile(join(dir, "secrets.json"), JSON.stringify(s.secrets));
  if (state.running) {
    const launcher = state.launcher ?? Deno.pid;
    await Deno.writeTextFile(
      join(dir, "stack.json"),
      JSON.stringify({ supabase_url: s.supabaseUrl, pids: [launcher, 1] }),
    );
    await Deno.writeTextFile(join(dir, "stack.lock"), String(state.lockedBy ?? launcher));
  }
  return dir;
}

/** A pid that was a process of ours and has exited. */
async function stoppedPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("the operator CLIs work on the stack running from --dir, at the URL its stack.json gives, with its own keys, and say so", async () => {
  const dir = await stackDir({ running: true });
  try {
    const url = testStack().supabaseUrl;
    const listed = await runTool(CLI, ["list", "--dir", dir, "--json"], {}, { operatorEnv: false });
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(Array.isArray(JSON.parse(listed.stdout)), "stdout holds only the JSON");
    assert.equal(
      listed.stderr.trim(),
      `client: using the local stack in ${dir} (pid ${Deno.pid}), Supabase API ${url}`,
    );

    // --dir wins over an exported configuration, and nothing of it is mixed in: a key made with
    // the exported pepper would not verify on this stack
    const created = await runTool(
      CLI,
      ["create", "--name", "Made on the dir's stack", "--json", "--dir", dir],
      {
        SUPABASE_URL: "https://production.example.com",
        SUPABASE_SERVICE_ROLE_KEY: "not-this-stack's-service-role-key",
        API_KEY_PEPPER: "p".repeat(40),
      },
      { operatorEnv: false },
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /using the local stack in /);
    const { call } = await appUnderTest();
    const me = await call("/v1/me", { headers: bearer(JSON.parse(created.stdout).key) });
    assert.equal(me.status, 200, "the key was hashed with the stack's own pepper");

    // rotate goes ahead only once a running app has reported the stack's master key: this
    // instance's sweep reports it, whichever tests ran before
    const running = await testApp();
    try {
      await running.sweep();
      const rotated = await runTool("tools/keys_cli.ts", ["rotate", "--dir", dir], {}, {
        operatorEnv: false,
      });
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stderr, new RegExp(`^keys: using the local stack in ${dir} `));
    } finally {
      await running.withdrawKeyReport();
      running.bell?.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the operator CLIs refuse a stack that is not running, and say what to do, rather than try a default port", async () => {
  const stopped = await stackDir({ running: false });
  const stale = await stackDir({ running: true, launcher: await stoppedPid() });
  const taken = await stackDir({ running: true, launcher: await stoppedPid(), lockedBy: Deno.pid });
  try {
    const notRunning = await runTool(CLI, ["list", "--dir", stopped], {}, { operatorEnv: false });
    assert.equal(notRunning.code, 78);
    assert.equal(notRunning.stdout, "");
    assert.match(notRunning.stderr, new RegExp(`no local stack is running from ${stopped}`));
    assert.match(notRunning.stderr, new RegExp(`Start it with \`deno task dev --dir ${stopped}\``));
    assert.match(notRunning.stderr, /export SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY/);

    for (const dir of [stale, taken]) {
      const left = await runTool(CLI, ["list", "--dir", dir], {}, { operatorEnv: false });
      assert.equal(left.code, 78, dir);
      assert.equal(left.stdout, "");
      assert.match(left.stderr, new RegExp(`the local stack in ${dir} is not running`));
      assert.match(left.stderr, /left over from pid \d+, which has stopped/);
    }
    const keys = await runTool("tools/keys_cli.ts", ["rotate", "--dir", stopped], {}, {
      operatorEnv: false,
    });
    assert.equal(keys.code, 78);
    assert.match(keys.stderr, /^keys: no local stack is running from /);
  } finally {
    for (const dir of [stopped, stale, taken]) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with SUPABASE_URL exported the operator CLIs use it and say which origin", async () => {
  const listed = await runTool(CLI, ["list", "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    listed.stderr.trim(),
    `client: using SUPABASE_URL from the environment (${new URL(testStack().supabaseUrl).origin})`,
  );
  const half = await runTool(CLI, ["list"], { SUPABASE_URL: "https://x.example.com" }, {
    operatorEnv: false,
  });
  assert.equal(half.code, 78, "a half-exported configuration is not completed from a stack");
  assert.match(half.stderr, /Missing configuration: SUPABASE_SERVICE_ROLE_KEY, API_KEY_PEPPER/);
});
