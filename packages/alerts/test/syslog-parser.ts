/**
 * A strict reader of what a syslog receiver gets: RFC 6587 octet-counted frames carrying RFC 5424
 * messages. Anything the RFCs do not allow throws, so a sink that cuts a corner fails the test.
 */
export interface SyslogMessage {
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: { id: string; params: [string, string][] }[];
  msg: string;
}

/** Cuts a byte stream into frames; keeps a partial frame until the rest arrives. */
export class FrameReader {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const frames: Buffer[] = [];
    for (;;) {
      const space = this.#buffer.indexOf(0x20);
      if (space < 0) {
        if (!/^[0-9]{0,9}$/.test(this.#buffer.toString("latin1"))) throw new Error("bad MSG-LEN");
        return frames;
      }
      const lengthText = this.#buffer.subarray(0, space).toString("latin1");
      if (!/^[1-9][0-9]{0,8}$/.test(lengthText)) throw new Error(`bad MSG-LEN '${lengthText}'`);
      const length = Number(lengthText);
      if (this.#buffer.length < space + 1 + length) return frames;
      frames.push(this.#buffer.subarray(space + 1, space + 1 + length));
      this.#buffer = this.#buffer.subarray(space + 1 + length);
    }
  }
}

const PRINTUSASCII = /^[\x21-\x7e]+$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const SD_NAME = /^[\x21-\x7e]{1,32}$/;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export function parseSyslogMessage(frame: Buffer): SyslogMessage {
  const text = frame.toString("latin1");
  const head = /^<(0|[1-9][0-9]{0,2})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(text);
  if (head === null) throw new Error(`bad HEADER: ${text.slice(0, 80)}`);
  const [, pri = "", timestamp = "", hostname = "", appName = "", procId = "", msgId = ""] = head;
  if (Number(pri) > 191) throw new Error("PRI out of range");
  if (!TIMESTAMP.test(timestamp) || Number.isNaN(Date.parse(timestamp))) throw new Error("bad TIMESTAMP");
  field(hostname, 255, "HOSTNAME");
  field(appName, 48, "APP-NAME");
  field(procId, 128, "PROCID");
  field(msgId, 32, "MSGID");
  const { sd, end } = readStructuredData(frame, Buffer.byteLength(head[0], "latin1"));
  let msg = "";
  if (end < frame.length) {
    if (frame[end] !== 0x20) throw new Error("no SP before MSG");
    const body = frame.subarray(end + 1);
    if (body.subarray(0, 3).equals(BOM))
      msg = new TextDecoder("utf-8", { fatal: true }).decode(body.subarray(3));
    else throw new Error("MSG without a BOM");
  }
  return {
    facility: Math.floor(Number(pri) / 8),
    severity: Number(pri) % 8,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    sd,
    msg,
  };
}

function field(value: string, max: number, name: string): void {
  if (value.length > max || !PRINTUSASCII.test(value)) throw new Error(`bad ${name}`);
}

function readStructuredData(frame: Buffer, start: number) {
  if (frame[start] === 0x2d) return { sd: [], end: start + 1 }; // "-"
  const sd: SyslogMessage["sd"] = [];
  let at = start;
  while (frame[at] === 0x5b) {
    const element = readElement(frame, at + 1);
    sd.push(element.element);
    at = element.end;
  }
  if (sd.length === 0) throw new Error("no STRUCTURED-DATA");
  return { sd, end: at };
}

function readElement(frame: Buffer, start: number) {
  const id = readName(frame, start);
  const params: [string, string][] = [];
  let at = id.end;
  while (frame[at] === 0x20) {
    const name = readName(frame, at + 1);
    if (frame[name.end] !== 0x3d || frame[name.end + 1] !== 0x22) throw new Error('PARAM without ="');
    const value = readValue(frame, name.end + 2);
    params.push([name.name, value.value]);
    at = value.end;
  }
  if (frame[at] !== 0x5d) throw new Error("SD-ELEMENT not closed by ]");
  return { element: { id: id.name, params }, end: at + 1 };
}

function readName(frame: Buffer, start: number) {
  let end = start;
  while (end < frame.length && ![0x20, 0x3d, 0x5d, 0x22].includes(frame[end] ?? 0)) end += 1;
  const name = frame.subarray(start, end).toString("latin1");
  if (!SD_NAME.test(name)) throw new Error(`bad SD-NAME '${name}'`);
  return { name, end };
}

/** A PARAM-VALUE: '"', '\' and ']' must be escaped; an unescaped ']' is refused. */
function readValue(frame: Buffer, start: number) {
  const bytes: number[] = [];
  for (let at = start; at < frame.length; at += 1) {
    const byte = frame[at] ?? 0;
    if (byte === 0x22) {
      const value = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
      return { value, end: at + 1 };
    }
    if (byte === 0x5d) throw new Error("unescaped ] in PARAM-VALUE");
    if (byte === 0x5c && [0x22, 0x5c, 0x5d].includes(frame[at + 1] ?? 0)) {
      at += 1;
      bytes.push(frame[at] ?? 0);
    } else bytes.push(byte);
  }
  throw new Error("PARAM-VALUE not closed");
}
