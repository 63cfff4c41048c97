import { createHash, X509Certificate } from "node:crypto";
import { connect, type PeerCertificate } from "node:tls";
import { CustodyError, toCustodyError } from "@custody/core";

export function certificateSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
}

function toPem(der: Buffer): string {
  const base64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${base64}${base64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
}

function chainOf(leaf: PeerCertificate & { issuerCertificate?: PeerCertificate }): Buffer[] {
  const chain: Buffer[] = [];
  let current: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = leaf;
  while (current?.raw !== undefined && chain.length < 8) {
    chain.push(current.raw);
    if (current.issuerCertificate === current) break;
    current = current.issuerCertificate as typeof current;
  }
  return chain;
}

/**
 * Finds the vault CA among the certificates the server presents, by the sha256 the enrollment token
 * carries (nothing is trusted on first use). Nothing is sent on this connection: it only looks.
 */
export function fetchPinnedCa(url: URL, caSha256: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const servername = /^[\d.:]+$/.test(host) ? {} : { servername: host };
    const socket = connect({
      host,
      port: Number(url.port || 443),
      ...servername,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
    });
    signal?.addEventListener(
      "abort",
      () => socket.destroy(new CustodyError("ERR_ABORTED", "enrollment aborted")),
      { once: true },
    );
    socket.setTimeout(15_000, () =>
      socket.destroy(new CustodyError("ERR_TIMEOUT", `no TLS handshake with ${url.host} in 15 s`)),
    );
    socket.on("error", (error) =>
      reject(toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", `cannot reach ${url.host}`)),
    );
    socket.on("secureConnect", () => {
      const chain = chainOf(socket.getPeerCertificate(true));
      socket.destroy();
      const ca = chain.find((der) => createHash("sha256").update(der).digest("hex") === caSha256);
      if (ca === undefined)
        reject(
          new CustodyError(
            "ERR_UNTRUSTED_SIGNER",
            `${url.host} did not present the vault CA the token names (sha256 ${caSha256}); give the CA certificate with --ca`,
          ),
        );
      else resolve(toPem(ca));
    });
  });
}
