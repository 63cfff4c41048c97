// Creates a vault in the folder given (on the volatile filesystem), then ingests small items and sets
// holds until killed, printing each acknowledged step. Its identity and the source files live in a
// second folder off that filesystem.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Vault } from "@custody/vault";

const [dir, outside] = process.argv.slice(2);
const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
await writeFile(join(outside, "alice.pem"), identityPem, { mode: 0o600 });
const alice = vault.authenticate(identityPem);
process.stdout.write("ready\n");
for (let i = 0; ; i += 1) {
  const source = join(outside, `item-${i}.txt`);
  await writeFile(source, `evidence ${i} `.repeat(1 + (i % 7) * 300));
  const item = await vault.ingest(alice, source, { caseId: "POWER" });
  process.stdout.write(`ingested ${item.id}\n`);
  if (i % 3 === 1) {
    await vault.hold(alice, item.id);
    process.stdout.write(`held ${item.id}\n`);
  }
}
