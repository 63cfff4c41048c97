// Regenerates docs/cli.md from the built CLI's command registry.
import { writeFileSync } from "node:fs";
import { commands } from "../packages/cli/dist/commands/index.js";
import { renderCliReference } from "../packages/cli/dist/docs.js";

writeFileSync(new URL("../docs/cli.md", import.meta.url), renderCliReference(commands));
