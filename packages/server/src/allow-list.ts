import { BlockList, isIP } from "node:net";
import { CustodyError } from "@custody/core";

/** Which peer addresses may connect: CIDR ranges (IPv4 and IPv6); an empty list allows everyone. */
export class AllowList {
  readonly #ranges = new BlockList();
  readonly #empty: boolean;

  constructor(cidrs: readonly string[]) {
    this.#empty = cidrs.length === 0;
    for (const cidr of cidrs) this.#add(cidr);
  }

  #add(cidr: string): void {
    const [address = "", bits] = cidr.split("/");
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (family === 0 || !/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `'${cidr}' is not a CIDR range (e.g. 10.0.0.0/8)`);
    }
    this.#ranges.addSubnet(address, prefix, family === 6 ? "ipv6" : "ipv4");
  }

  allows(address: string | undefined): boolean {
    if (this.#empty) return true;
    if (address === undefined) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const plain = mapped ?? address;
    const family = isIP(plain);
    if (family === 0) return false;
    return this.#ranges.check(plain, family === 6 ? "ipv6" : "ipv4");
  }
}
