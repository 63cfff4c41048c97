// A writer process for the crash and two-writer tests. Prints "<seq> <hash>" after each append resolves,
// so the parent knows exactly which records were promised durable.
import { readFile } from "node:fs/promises";
import { type AuditLog, openFileAuditLog } from "@custody/audit";
import { isCustodyError } from "@custody/core";
import { createKeySigner } from "@custody/manifest";

const [dir, keyFile, certFile, mode, countArg, sealKeyHex] = process.argv.slice(2);
if (dir === undefined || keyFile === undefined || certFile === undefined) throw new Error("usage");
const signer = createKeySigner({
  keyPem: await readFile(keyFile, "utf8"),
  certificatePem: await readFile(certFile, "utf8"),
});
let n = 0;
const event = () => ({
  actor: `pid-${process.pid}`,
  action: "item.read",
  target: `case-1/item-${n++}`,
  outcome: "allow" as const,
  reason: "crash test",
  details: { pid: process.pid },
});
const report = (seq: number, hash: string) => process.stdout.write(`${seq} ${hash}\n`);
const appendOne = async (log: AuditLog): Promise<void> => {
  const record = await log.append(event());
  report(record.seq, record.hash);
};

async function openWhenFree(blockingWrites: boolean | "when-alone" = false): Promise<AuditLog> {
  for (;;) {
    try {
      return await openFileAuditLog({
        dir: dir as string,
        signer,
        checkpointEvery: 150,
        checkpointIntervalMs: 0,
        blockingWrites,
      });
    } catch (error) {
      if (!isCustodyError(error, "ERR_AUDIT_LOCKED")) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 5));
    }
  }
}

if (mode === "sealed") {
  // Sealed appends, each durable before it is reported, and no checkpoint: then it waits to be killed.
  const log = await openFileAuditLog({
    dir,
    signer,
    sealKey: Buffer.from(sealKeyHex ?? "", "hex"),
    checkpointEvery: 1_000_000,
    checkpointIntervalMs: 0,
  });
  for (let i = 0; i < Number(countArg); i += 1) {
    const record = await log.append(event());
    report(record.seq, record.hash);
  }
  setInterval(() => {}, 60_000);
} else if (mode === "flood" || mode === "flood-blocking" || mode === "flood-alone") {
  // As fast as possible until killed: 16 appends in flight (written in this thread for flood-blocking),
  // or for flood-alone ("when-alone", as `custody serve`) a lone one at a time with bursts of 16 between.
  const log = await openWhenFree(
    mode === "flood-blocking" ? true : mode === "flood-alone" ? "when-alone" : false,
  );
  const worker = async (lone: boolean) => {
    for (let n = 0; ; n += 1) {
      const record = await log.append(event());
      report(record.seq, record.hash);
      if (lone && n % 8 === 7) await Promise.all(Array.from({ length: 16 }, () => appendOne(log)));
    }
  };
  if (mode === "flood-alone") await worker(true);
  else await Promise.all(Array.from({ length: 16 }, () => worker(false)));
} else {
  // Rounds of open, append, close: two of these contend for the lock over and over.
  const rounds = Number(countArg ?? "5");
  for (let round = 0; round < rounds; round += 1) {
    const log = await openWhenFree();
    for (let i = 0; i < 10; i += 1) {
      const record = await log.append(event());
      report(record.seq, record.hash);
    }
    await log.close();
  }
}
