import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";

/** The largest source file the broker reads (an access-list part, a roster part, the caller tokens): 64 MiB. */
const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

/**
 * Why a file was not read, with a code for the caller's message (no contents): not a regular file
 * (a FIFO or a device, which could block a read for ever), or larger than the cap.
 */
export class SourceFileRefused extends Error {
  constructor(
    readonly code: "ENOTREG" | "ETOOBIG" | "ECHANGED",
    message: string,
  ) {
    super(message);
    this.name = "SourceFileRefused";
  }
}

// O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

function judge(st: { isFile(): boolean; size: number }, maxBytes: number): void {
  if (!st.isFile()) throw new SourceFileRefused("ENOTREG", "not a regular file");
  if (st.size > maxBytes) throw new SourceFileRefused("ETOOBIG", `${st.size} bytes, over the ${maxBytes}-byte limit`);
}

/** A regular file's text, refused unread past `maxBytes`; one that grows while read is refused too (it is being written). */
export function readSourceFileSync(file: string, maxBytes = MAX_SOURCE_BYTES): string {
  const fd = openSync(file, FLAGS);
  try {
    const st = fstatSync(fd);
    judge(st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += got;
    if (n > st.size) throw new SourceFileRefused("ECHANGED", "grew while read (read again at the next look)");
    return buf.toString("utf8", 0, n);
  } finally {
    closeSync(fd);
  }
}

/** The same, read on libuv's thread pool: the event loop keeps serving while a large part is read. */
export async function readSourceFile(file: string, maxBytes = MAX_SOURCE_BYTES): Promise<string> {
  const fh = await open(file, FLAGS);
  try {
    const st = await fh.stat();
    judge(st, maxBytes);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (let got; n < buf.length && (got = (await fh.read(buf, n, buf.length - n, null)).bytesRead) > 0;) n += got;
    if (n > st.size) throw new SourceFileRefused("ECHANGED", "grew while read (read again at the next look)");
    return buf.toString("utf8", 0, n);
  } finally {
    await fh.close();
  }
}
