import { chmod, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsEvidenceStore } from "@custody/store";
import { testEvidenceStore } from "@custody/store/conformance";

const LARGE = Number(process.env.CUSTODY_STORE_LARGE_BYTES ?? 2 * 1024 ** 3);

testEvidenceStore(
  "FsEvidenceStore",
  async ({ clock }) => {
    const dir = await mkdtemp(join(tmpdir(), "custody-store-"));
    const store = await FsEvidenceStore.open(dir, { clock });
    return {
      store,
      // Flips one byte of the data file behind the store's back, as a failing disk or an intruder would.
      tamper: async (key) => {
        const segments = key.split("/");
        const leaf = segments.pop() ?? "";
        const file = join(dir, "objects", ...segments, `=${leaf}`, "data");
        await chmod(file, 0o644);
        const handle = await open(file, "r+");
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 0);
        byte[0] = (byte[0] ?? 0) ^ 0x01;
        await handle.write(byte, 0, 1, 0);
        await handle.close();
      },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { largeObjectBytes: LARGE },
);
