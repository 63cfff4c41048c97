import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  /** 1 for the first request this receiver saw. */
  n: number;
}

export type Answer = (received: Received, response: ServerResponse) => void;

/** A real HTTP(S) receiver on 127.0.0.1 that records each request and answers with `answer`. */
export async function startReceiver(answer: Answer, tls?: { cert: string; key: string }, port = 0) {
  const received: Received[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const entry = {
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        n: received.length + 1,
      };
      received.push(entry);
      for (const w of waiting.filter((w) => received.length >= w.count)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
      answer(entry, response);
    });
  };
  const server: Server = tls === undefined ? createServer(handler) : createHttpsServer(tls, handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    received,
    port: bound,
    url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${bound}/alerts`,
    /** Resolves once `count` requests have arrived in all. */
    requests: (count: number) =>
      new Promise<void>((resolve) => {
        if (received.length >= count) resolve();
        else waiting.push({ count, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
