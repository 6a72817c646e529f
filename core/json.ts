import { InvalidInput } from "./errors";

/**
 * `JSON.parse` of a file whose text must never reach a message: V8's parse errors quote the
 * text around the fault (an access list holds hashes, a caller-token file digests). This keeps
 * only the position, as line:column.
 */
export function parseJsonFile(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message);
    let where = "";
    if (at) {
      const before = text.slice(0, Number(at[1])).split("\n");
      where = ` at line ${before.length}, column ${before[before.length - 1].length + 1}`;
    } else if (/end of JSON input/.test((e as Error).message)) where = " (it ends too early)";
    throw new InvalidInput(`${file}: not valid JSON${where}`);
  }
}
