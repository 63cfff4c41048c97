/**
 * A fixed set of block buffers reused for the whole upload: memory stays at (concurrency + 1) blocks
 * and no garbage is made per block (fresh 8 MiB buffers per block made resident memory climb).
 */
export class BlockPool {
  readonly #free: Buffer[] = [];
  readonly #waiting: ((buffer: Buffer) => void)[] = [];
  readonly #blockSize: number;
  #remaining: number;

  constructor(blockSize: number, buffers: number) {
    this.#blockSize = blockSize;
    this.#remaining = buffers;
  }

  async take(): Promise<Buffer> {
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#remaining > 0) {
      this.#remaining -= 1;
      return Buffer.allocUnsafeSlow(this.#blockSize);
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(buffer);
    else this.#free.push(buffer);
  }
}
