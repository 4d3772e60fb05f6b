/** The text of README.md's `## title` section, up to the next `## ` heading. */
export function readmeSection(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/**
 * The commands of every ```sh block in `markdown`, one per entry: comment and blank lines dropped,
 * lines ending in a backslash joined with the next.
 */
export function shellCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let pending = "";
    for (const line of block[1].split("\n")) {
      const text = line.trim();
      if (!pending && (!text || text.startsWith("#"))) continue;
      if (text.endsWith("\\")) {
        pending += `${text.slice(0, -1).trim()} `;
        continue;
      }
      commands.push(pending + text);
      pending = "";
    }
  }
  return commands;
}
