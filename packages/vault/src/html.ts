import type { SignedCustodyReport } from "@custody/audit";

const escapeHtml = (value: unknown): string =>
  String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const row = (label: string, value: unknown) =>
  `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`;

/** A digest computed beside sha256 only on request: no row at all when it was not. */
const digestRow = (label: string, value: string | undefined) =>
  value === undefined ? "" : row(label, value);

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#111}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4;white-space:nowrap}code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.deny{color:#a00}.error{color:#a50}.allow{color:#060}`;

/** A self-contained page (no scripts, no external resources) that a person can read and print. */
export function renderCustodyReportHtml(signed: SignedCustodyReport): string {
  const { report } = signed;
  const item = report.item.record;
  const state = report.item.state;
  const events = report.events
    .map(
      (e) =>
        `<tr><td>${e.seq}</td><td>${escapeHtml(e.time)}</td><td>${escapeHtml(e.actor)}</td><td>${escapeHtml(e.action)}</td>` +
        `<td class="${escapeHtml(e.outcome)}">${escapeHtml(e.outcome)}</td><td>${escapeHtml(e.reason)}</td><td class="mono">${escapeHtml(e.hash)}</td></tr>`,
    )
    .join("\n");
  const checkpoint = report.proofs[0]?.checkpoint.checkpoint;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Custody report ${escapeHtml(item.id.slice(0, 16))}</title>
<style>${STYLE}</style></head><body>
<h1>Chain of custody report</h1>
<p>Generated ${escapeHtml(report.generatedAt)} by ${escapeHtml(report.generatedBy)} from vault <span class="mono">${escapeHtml(report.vaultId)}</span>.</p>
<h2>Evidence item</h2><table>
${row("Item id (SHA-256)", item.id)}${row("Name", item.name)}${row("Case", item.caseId)}${row("Kind", item.kind)}
${row("Size (bytes)", item.size)}${digestRow("SHA-1", item.digests.sha1)}${digestRow("MD5", item.digests.md5)}${digestRow("SHA-512", item.digests.sha512)}
${row(
  "Labels",
  Object.entries(item.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", "),
)}
${row("Retained until", state.retainUntil ?? "not set")}${row("Legal hold", state.legalHold ? "yes" : "no")}${row("Purged", state.purged ? "yes" : "no")}
${item.package === undefined ? "" : row("Package verified", item.package.verified ? "yes" : `NO (${item.package.problems.length} problem(s))`) + row("Package signer", item.package.signer) + row("Manifest SHA-256", item.package.manifestSha256) + row("Device", item.package.deviceId) + row("Collected", item.package.collectedAt) + row("Collected by", item.package.collectedBy)}
</table>
<h2>Acquisition</h2><table>
${row("Acquired by", item.acquisition.by)}${row("Identity fingerprint", item.acquisition.byFingerprintSha256)}
${row("When", item.acquisition.at)}${row("How", item.acquisition.how)}${row("Where (host)", item.acquisition.where)}
${row("Tool", item.acquisition.tool)}${row("Source", item.acquisition.source)}
</table>
<h2>Custody events (${report.events.length})</h2>
<table><tr><th>Seq</th><th>Time</th><th>Actor</th><th>Action</th><th>Outcome</th><th>Reason</th><th>Record hash</th></tr>
${events}</table>
<h2>Proof</h2>
<p>Each event above is included in the signed audit-log checkpoint below (RFC 9162 Merkle inclusion proofs in the JSON report).
The JSON report, which holds the same content, is signed by the vault: check it offline, with nothing but the vault CA, with
<code>custody report verify REPORT.json --ca ca.pem</code>.</p>
<table>${row("Checkpoint tree size", checkpoint?.treeSize)}${row("Checkpoint root", checkpoint?.rootHash)}${row("Checkpoint time", checkpoint?.time)}</table>
<h2>Report signature (detached CMS, base64 DER)</h2><p class="mono">${escapeHtml(signed.signature)}</p>
</body></html>
`;
}
