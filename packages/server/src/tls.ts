import { constants, type X509Certificate } from "node:crypto";
import type { Server as HttpsServer } from "node:https";
import type { SecureContextOptions, TLSSocket, TlsOptions } from "node:tls";
import type { Clock } from "@custody/core";
import type { CrlStatus, ServerCertificate, Vault } from "@custody/vault";
import type { Logger } from "pino";

/**
 * TLS 1.3 only, mutual: a client certificate under the vault CA is requested and checked against the
 * CRL at the handshake. Session tickets are off, so a revoked certificate never resumes an old session.
 *
 * `rejectUnauthorized` is false on purpose: with it, Node destroys a socket whose certificate failed
 * verification without telling the application why, so the refusal could not be audited. Instead
 * `refuseUnauthorized` runs first on every `secureConnection` and closes such a socket (recording why)
 * before the HTTP server reads a byte from it; the request hook checks `authorized` again.
 */
export function tlsOptions(
  certificate: ServerCertificate,
  caPem: string,
  crlPem: string,
  handshakeTimeoutMs: number,
): TlsOptions {
  return {
    ...secureContextOptions(certificate, caPem, crlPem),
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

function secureContextOptions(
  certificate: ServerCertificate,
  caPem: string,
  crlPem: string,
): SecureContextOptions {
  return {
    key: certificate.keyPem,
    cert: certificate.certificatePem,
    ca: [caPem],
    crl: [crlPem],
    minVersion: "TLSv1.3",
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
}

export interface CrlKeeperOptions {
  vault: Vault;
  server: HttpsServer;
  certificate: ServerCertificate;
  clock: Clock;
  refreshBeforeMs: number;
  logger: Logger;
}

/**
 * Keeps the CRL TLS checks fresh without a restart: a CRL changed on disk (a revocation, another replica)
 * is installed with `setSecureContext`, and one that would expire soon is signed again first, because an
 * expired CRL makes TLS refuse every client.
 */
export class CrlKeeper {
  readonly #options: CrlKeeperOptions;
  #installed: string;
  #running: Promise<CrlStatus> | undefined;

  constructor(options: CrlKeeperOptions, installedPem: string) {
    this.#options = options;
    this.#installed = installedPem;
  }

  /** Checks the CRL now; resolves to the CRL TLS uses afterwards. */
  refresh(): Promise<CrlStatus> {
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #refresh(): Promise<CrlStatus> {
    const { vault, clock, refreshBeforeMs, logger } = this.#options;
    let status = await vault.crlStatus();
    const expiresIn = (status.nextUpdate?.getTime() ?? Number.POSITIVE_INFINITY) - clock.now().getTime();
    if (expiresIn < refreshBeforeMs) {
      status = await vault.republishCrl();
      logger.info({ nextUpdate: status.nextUpdate }, "signed the CRL again before it expires");
    }
    if (status.crlPem !== this.#installed) this.#install(status.crlPem);
    return status;
  }

  #install(crlPem: string): void {
    const { server, certificate, vault } = this.#options;
    server.setSecureContext(secureContextOptions(certificate, vault.trustAnchors[0] ?? "", crlPem));
    this.#installed = crlPem;
    this.#options.logger.info("installed a new CRL for TLS");
  }
}

/** Before the server starts: the CRL it hands to TLS, signed again first if it is close to expiry. */
export async function initialCrl(vault: Vault, clock: Clock, refreshBeforeMs: number): Promise<CrlStatus> {
  const status = await vault.crlStatus();
  const expiresIn = (status.nextUpdate?.getTime() ?? Number.POSITIVE_INFINITY) - clock.now().getTime();
  return expiresIn < refreshBeforeMs ? vault.republishCrl() : status;
}

/**
 * TLS verdicts on a vault certificate that a person should read as the vault words them ("... is revoked"):
 * such a connection reaches HTTP, where its one request is answered 401 with the reason and recorded,
 * and the connection is closed. It is never served: see `refusePeer` in auth.ts.
 */
export const ANSWERED_TLS_ERRORS: ReadonlyMap<string, string> = new Map([
  ["CERT_REVOKED", "is revoked"],
  ["CERT_HAS_EXPIRED", "has expired"],
  ["CERT_NOT_YET_VALID", "is not valid yet"],
]);

/**
 * Closes, before HTTP sees it, a TLS connection whose client certificate did not verify (another CA, a
 * broken chain); tells `onRefused` why. A connection that sent no certificate at all goes on to HTTP,
 * where it may reach only the routes that need none (`ROUTES_WITHOUT_CLIENT_CERTIFICATE` in auth.ts:
 * load-balancer probes) and is refused, recorded and closed on any other.
 */
export function refuseUnauthorized(
  server: HttpsServer,
  onRefused: (reason: string, address: string | undefined) => void,
): void {
  server.prependListener("secureConnection", (socket: TLSSocket) => {
    if (socket.authorized) return;
    const certificate = peerCertificate(socket);
    if (certificate === undefined) return;
    if (ANSWERED_TLS_ERRORS.has(String(socket.authorizationError))) return;
    onRefused(String(socket.authorizationError), socket.remoteAddress);
    socket.destroy();
  });
}

const peerCertificates = new WeakMap<TLSSocket, X509Certificate>();

/** The certificate the client presented on this connection, parsed once per connection. */
export function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  const known = peerCertificates.get(socket);
  if (known !== undefined) return known;
  const certificate = socket.getPeerX509Certificate?.();
  if (certificate !== undefined) peerCertificates.set(socket, certificate);
  return certificate;
}
