import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { signedCustodyReportFromJson, verifyCustodyReport } from "@custody/audit";
import { CustodyError, toCustodyError, writeFileAtomic } from "@custody/core";
import { renderCustodyReportHtml } from "@custody/vault";
import type { CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { ITEM_OPTIONS, itemSelector, withVaultApi } from "../vault-context.js";
import { describeTimestamp, timestampJson, tsaTrustFrom } from "./tsa-options.js";

export const reportCommand: CommandSpec = {
  path: ["report"],
  summary: "an item's signed custody report: acquisition, every audit record, checkpoint and proofs",
  usage: `ID [--case ID] [--format json|html] [--out FILE]
json (default) is the signed report; html is a self-contained page for people. Check a saved JSON
report offline with: custody report verify FILE --ca ca.pem`,
  options: { ...ITEM_OPTIONS, format: { type: "string" }, out: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const format = ctx.string("format") ?? "json";
    if (format !== "json" && format !== "html")
      throw new CustodyError("ERR_USAGE", "--format is json or html");
    const out = ctx.string("out");
    if (out !== undefined) await assertOutputAbsent(resolve(ctx.cwd, out));
    const signed = await withVaultApi(ctx, (api) => api.report(itemSelector(ctx)));
    const text = format === "html" ? renderCustodyReportHtml(signed) : `${JSON.stringify(signed, null, 2)}\n`;
    if (out === undefined) ctx.stdout.write(text);
    else {
      await writeOutput(resolve(ctx.cwd, out), text);
      ctx.err(
        `custody report for ${signed.report.item.record.id} (${signed.report.events.length} events) written to ${out}`,
      );
    }
    return 0;
  },
};

export const reportVerifyCommand: CommandSpec = {
  path: ["report", "verify"],
  summary: "check a saved custody report offline: signature, record hashes, inclusion proofs",
  usage: [
    "FILE --ca ca.pem [--crl crl.pem] [--tsa-ca FILE]",
    "Exit 0 when everything holds, 1 with the reason otherwise. --tsa-ca requires an RFC 3161 token on the",
    "report's signature from a TSA under that CA (checkpoint tokens are checked when present) and prints its",
    "trusted time; without it a token is reported, not checked.",
  ].join("\n"),
  options: { ca: { type: "string" }, crl: { type: "string" }, "tsa-ca": { type: "string", multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const ca = ctx.string("ca");
    if (ca === undefined) throw new CustodyError("ERR_USAGE", "report verify needs --ca ca.pem");
    const signed = signedCustodyReportFromJson(
      await readFile(resolve(ctx.cwd, String(ctx.positionals[0])), "utf8"),
    );
    const crl = ctx.string("crl");
    const timestamp = await tsaTrustFrom(ctx);
    const result = verifyCustodyReport(signed, {
      trustAnchors: [await readFile(resolve(ctx.cwd, ca), "utf8")],
      ...(crl === undefined ? {} : { crls: [await readFile(resolve(ctx.cwd, crl), "utf8")] }),
      ...(timestamp === undefined ? {} : { timestamp }),
    });
    const stamp = result.timestamp;
    if (ctx.json)
      ctx.printJson({
        ok: true,
        ...result,
        timestamp: stamp === undefined ? undefined : timestampJson(stamp),
      });
    else
      ctx.out(
        `custody report valid: ${result.events} event(s) proven; signed by ${result.signer} at ${result.signedAt}; ${stamp === undefined ? `timestamp ${result.timestampStatus}` : describeTimestamp(stamp)}`,
      );
    return 0;
  },
};

async function writeOutput(file: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(file, text, { exclusive: true });
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot write ${file}`);
  }
}
