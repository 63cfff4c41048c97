import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority, type IssuedCertificate, issueCertificate } from "@custody/manifest";

/** A CA, a person's identity file as the vault writes it, and server certificates made with openssl. */
export interface Pki {
  work: string;
  ca: IssuedCertificate;
  /** certificate, key, then the CA certificate. */
  identityPem: string;
  serverFor(names: string, issuer?: IssuedCertificate): { certificatePem: string; keyPem: string };
  cleanup(): void;
}

export async function makePki(): Promise<Pki> {
  const work = mkdtempSync(join(tmpdir(), "custody-client-"));
  const ca = await createCertificateAuthority({ commonName: "test vault CA", keyBits: 2048 });
  const person = await issueCertificate(ca, { commonName: "alice", usage: "person", keyBits: 2048 });
  let n = 0;
  return {
    work,
    ca,
    identityPem: `${person.certificatePem.trim()}\n${person.keyPem.trim()}\n${ca.certificatePem.trim()}\n`,
    serverFor(names, issuer = ca) {
      n += 1;
      const file = (name: string) => join(work, `${n}-${name}`);
      writeFileSync(file("ca.pem"), issuer.certificatePem);
      writeFileSync(file("ca.key"), issuer.keyPem, { mode: 0o600 });
      writeFileSync(file("ext"), `subjectAltName=${names}\nextendedKeyUsage=serverAuth\n`);
      const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
      openssl(
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        file("key"),
        "-subj",
        "/CN=server",
        "-out",
        file("csr"),
      );
      openssl(
        "x509",
        "-req",
        "-in",
        file("csr"),
        "-CA",
        file("ca.pem"),
        "-CAkey",
        file("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        file("ext"),
        "-out",
        file("crt"),
      );
      return { certificatePem: readFileSync(file("crt"), "utf8"), keyPem: readFileSync(file("key"), "utf8") };
    },
    cleanup: () => rmSync(work, { recursive: true, force: true }),
  };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A real mutual-TLS server on 127.0.0.1 (any free port), trusting `clientCa`, answering with `handler`. */
export async function startServer(
  cert: { certificatePem: string; keyPem: string },
  clientCa: string,
  handler: Handler,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(
    {
      cert: cert.certificatePem,
      key: cert.keyPem,
      ca: [clientCa],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    handler,
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
