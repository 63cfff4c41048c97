#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isCustodyError } from "@custody/core";
import { Vault } from "@custody/vault";
import { triageIntoVault } from "./triage.js";

const USAGE = "usage: soc-triage --vault DIR --identity FILE --case ID [--only A,B]";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      vault: { type: "string" },
      identity: { type: "string" },
      case: { type: "string" },
      only: { type: "string" },
    },
  });
  if (values.vault === undefined || values.identity === undefined || values.case === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const vault = await Vault.open({ dir: values.vault });
  try {
    const analyst = vault.authenticate(
      await readFile(values.identity, "utf8"),
      process.env.CUSTODY_IDENTITY_PASSPHRASE,
    );
    const { item, summary } = await triageIntoVault(vault, analyst, {
      caseId: values.case,
      ...(values.only === undefined ? {} : { only: values.only.split(",") }),
      onEvent: (event) => process.stderr.write(`${JSON.stringify(event)}\n`),
    });
    process.stdout.write(`${JSON.stringify({ item: item.id, case: item.caseId, summary }, null, 2)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(
      `soc-triage: ${isCustodyError(error) ? `${error.code}: ` : ""}${(error as Error).message}\n`,
    );
    return 1;
  } finally {
    await vault.close();
  }
}

process.exitCode = await main();
