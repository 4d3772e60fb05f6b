/**
 * Figures the reliability suite reports (`deno task reliability` writes them to
 * docs/reliability.md). Each test records what it tried and what held; outside that command
 * (`deno task test`) nothing is written and the assertions alone decide.
 */
export interface Figures {
  [name: string]: number | string | boolean;
}

/**
 * Appends one JSON line `{section, name, figures}` to the file named by RELIABILITY_REPORT.
 * `section` groups lines in the report: "hostile input", "faults", "load", "soak", "security".
 */
export async function recordFigures(section: string, name: string, figures: Figures) {
  const file = Deno.env.get("RELIABILITY_REPORT");
  if (!file) return;
  await Deno.writeTextFile(file, JSON.stringify({ section, name, figures }) + "\n", {
    append: true,
  });
}
