// A vault writer process for the crash test: 32 concurrent callers ingest small items and hold them until
// it is killed. It prints "ingest <case> <id>" and "hold <case> <id>" once each call has resolved, so the
// parent knows exactly what the vault promised. A fifth argument writes a ledger snapshot every that many
// records, in the background while the callers go on.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Vault } from "@custody/vault";

const [dir, identityFile, scratch, round, snapshotEvery] = process.argv.slice(2);
if (dir === undefined || identityFile === undefined || scratch === undefined) throw new Error("usage");
const vault = await Vault.open({
  dir,
  ...(snapshotEvery === undefined ? {} : { ledgerSnapshotEvery: Number(snapshotEvery) }),
});
const alice = vault.authenticate(await readFile(identityFile, "utf8"));
let next = 0;

async function caller(worker: number): Promise<void> {
  for (;;) {
    const n = next++;
    const file = join(scratch, `r${round}-w${worker}-${n}.txt`);
    await writeFile(file, `round ${round} item ${n} from ${process.pid}\n`);
    const caseId = `K-${n % 5}`;
    const item = await vault.ingest(alice, file, { caseId, retainDays: 0 });
    process.stdout.write(`ingest ${caseId} ${item.id}\n`);
    if (n % 3 === 0) {
      await vault.hold(alice, { id: item.id, caseId });
      process.stdout.write(`hold ${caseId} ${item.id}\n`);
    }
    await vault.show(alice, { id: item.id, caseId });
  }
}

await Promise.all(Array.from({ length: 32 }, (_, worker) => caller(worker)));
