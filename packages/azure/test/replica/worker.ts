// One vault replica for the three-replica test: opens the vault from its own copy of the vault folder
// (keys and vault.json) over the shared Azure container, runs concurrent workers, and prints one line per
// acknowledged operation: "ingest <case> <id>", "grant <name> <scope>", "hold <case> <id>". The container
// and its connection string come from CUSTODY_TEST_AZURE_CONTAINER and CUSTODY_TEST_AZURE.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AzureBlobEvidenceStore } from "@custody/azure";
import { isCustodyError } from "@custody/core";
import { readIdentityFile, Vault } from "@custody/vault";

const [dir, identityFile, scratch, name, workersArg, roundsArg] = process.argv.slice(2);
if (dir === undefined || identityFile === undefined || scratch === undefined || name === undefined) {
  throw new Error("usage: worker.ts DIR IDENTITY SCRATCH NAME WORKERS ROUNDS");
}
const store = await AzureBlobEvidenceStore.open({
  connectionString: process.env.CUSTODY_TEST_AZURE ?? "",
  containerName: process.env.CUSTODY_TEST_AZURE_CONTAINER ?? "",
  protection: "library",
});
const vault = await Vault.open({ dir, store });
const alice = vault.authenticate(await readIdentityFile(identityFile));
const say = (line: string) => process.stdout.write(`${line}\n`);

/** What a client does on a conflict: try again (the vault already retried on races it could settle). */
async function again<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isCustodyError(error, "ERR_CONFLICT") || attempt >= 20) throw error;
    }
  }
}

async function worker(w: number): Promise<void> {
  const mine: { caseId: string; id: string }[] = [];
  for (let i = 0; i < Number(roundsArg); i += 1) {
    const file = join(scratch, `${name}-${w}-${i}.txt`);
    await writeFile(file, `replica ${name} worker ${w} item ${i}\n`);
    const caseId = `R-${i % 3}`;
    const item = await vault.ingest(alice, file, { caseId, retainDays: 0 });
    say(`ingest ${caseId} ${item.id}`);
    mine.push({ caseId, id: item.id });
    if (i % 3 === 1) {
      const grant = {
        name: `analyst-${name}-${w}-${i}`,
        role: "investigator",
        scope: `case:${caseId}`,
      } as const;
      await again(() => vault.grant(alice, grant));
      say(`grant ${grant.name} ${grant.scope}`);
    }
    if (i % 4 === 2) {
      await vault.hold(alice, { id: item.id, caseId });
      say(`hold ${caseId} ${item.id}`);
    }
    const seen = mine[Math.floor(Math.random() * mine.length)];
    if (seen !== undefined) await vault.show(alice, seen);
    if (i % 5 === 4) await vault.list(alice, { caseId });
  }
}

try {
  await Promise.all(Array.from({ length: Number(workersArg) }, (_, w) => worker(w)));
} finally {
  await vault.close();
}
