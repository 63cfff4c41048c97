// Revokes fresh serials in a loop and prints each one after revokeCertificates resolved, so the parent knows
// exactly which revocations were promised durable when it kills this process.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { revokeCertificates } from "@custody/manifest";

const [crlPath, caCertFile, caKeyFile] = process.argv.slice(2);
if (crlPath === undefined || caCertFile === undefined || caKeyFile === undefined) throw new Error("usage");
const ca = { certificatePem: await readFile(caCertFile, "utf8"), keyPem: await readFile(caKeyFile, "utf8") };

for (;;) {
  const bytes = randomBytes(12);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  const serialNumber = bytes.toString("hex").toUpperCase();
  await revokeCertificates({ crlPath, ca, entries: [{ serialNumber }] });
  process.stdout.write(`${serialNumber}\n`);
}
