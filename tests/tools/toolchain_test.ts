import assert from "node:assert/strict";
import process from "node:process";
import { join } from "node:path";
import semver from "semver";
import { ROOT } from "../../tools/stack/mod.ts";

/**
 * One toolchain, as README.md states it: Node.js (its floor, "Node.js N+") runs npm and the
 * packages' install scripts; the pinned Deno runs everything else, wrangler and the Supabase CLI
 * included. npm's own engine warnings are off (.npmrc says why); these checks replace them.
 */

const readme = await Deno.readTextFile(join(ROOT, "README.md"));
const lock = JSON.parse(await Deno.readTextFile(join(ROOT, "package-lock.json"))) as {
  packages: Record<string, { engines?: { node?: string } | string[]; hasInstallScript?: boolean }>;
};

function nodeFloor(): string {
  const major = /Node\.js (\d+)\+/.exec(readme)?.[1];
  assert.ok(major, 'README.md states the Node.js version ("Node.js N+")');
  return `${major}.0.0`;
}

/** The lockfile's packages installed on this machine (platform-specific optional ones are not). */
function installed() {
  return Object.entries(lock.packages)
    .filter(([path]) => path.startsWith("node_modules/"))
    .filter(([path]) => {
      try {
        Deno.statSync(join(ROOT, path, "package.json"));
        return true;
      } catch {
        return false;
      }
    })
    .map(([path, meta]) => ({
      name: path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length),
      node: Array.isArray(meta.engines) ? undefined : meta.engines?.node,
      installScript: meta.hasInstallScript === true,
    }));
}

Deno.test("every installed package accepts the Node version of the Deno that runs it", () => {
  const denoNode = process.versions.node;
  const refused = installed()
    .filter((p) => p.node && !semver.satisfies(denoNode, p.node))
    .map((p) => `${p.name} wants Node ${p.node}`);
  assert.deepEqual(refused, [], `Deno ${Deno.version.deno} reports Node ${denoNode}`);
});

Deno.test("the packages npm runs on Node (install scripts) accept the README's Node version", () => {
  const floor = nodeFloor();
  const scripts = installed().filter((p) => p.installScript);
  assert.ok(scripts.length > 0, "some packages have install scripts (esbuild, workerd, …)");
  const refused = scripts
    .filter((p) => p.node && !semver.satisfies(floor, p.node))
    .map((p) => `${p.name} wants Node ${p.node}`);
  assert.deepEqual(refused, [], `README.md says Node.js ${floor}+`);
});

Deno.test("the machine's Node, the README and CI agree on the toolchain", async () => {
  const pinned = /npx --yes deno@(\d+\.\d+\.\d+)/.exec(readme)?.[1];
  assert.equal(Deno.version.deno, pinned, "the tests run on the Deno the README pins");
  const ci = await Deno.readTextFile(join(ROOT, ".ci", "run"));
  assert.equal(/^DENO_VERSION=(\S+)$/m.exec(ci)?.[1], pinned, ".ci/run installs that Deno");
  const node = await new Deno.Command("node", { args: ["--version"] }).output();
  const version = new TextDecoder().decode(node.stdout).trim();
  assert.ok(
    semver.satisfies(version, `>=${nodeFloor()}`),
    `the Node.js here (${version}) is one the README supports`,
  );
});

Deno.test("README.md runs wrangler and the Supabase CLI only through their deno tasks", () => {
  // inline code and the lines of code blocks: where a reader copies a command from
  const snippets = [
    ...[...readme.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n")),
    ...[...readme.replace(/```[\s\S]*?```/g, "").matchAll(/`([^`\n]+)`/g)].map((m) => m[1]),
  ];
  const bare = snippets
    .map((s) => s.trim())
    .filter((s) =>
      /^(npx (--yes )?)?(wrangler|supabase)(@\S+)?\s/.test(s) || /\| *(wrangler|supabase) /.test(s)
    );
  assert.deepEqual(bare, []);
});
