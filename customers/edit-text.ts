import { Document, isMap, isScalar, isSeq, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";

/** A roster change: a function over the file's YAML document. */
export type RosterEdit = (doc: Document) => void;

/** yaml's own output, for what is written anew: flow lists as people write them (`[a, b]`). */
const WRITE = { flowCollectionPadding: false } as const;

/**
 * The roster text after `edit`, changed only where the edit changed it, so that the diff of a
 * one-customer change shows that customer alone. Every other byte stays: comments and their
 * alignment, flow maps as written (`{ expires: … }`), blank lines, order.
 * - a changed scalar (a status, a date, a generation) is replaced in place;
 * - a key added to a block map is written as one line (or block) after the map's last key;
 * - any other change of an entry (a key removed, a list or a flow map changed) writes that entry
 *   anew in its place;
 * - a new entry is written after the last one, separated as the entries before it are.
 * An edit that removes or reorders entries, or changes anything outside `customers:`, gives the
 * whole document as yaml writes it.
 */
export function editedText(current: string, edit: RosterEdit): string {
  const before = parseDocument(current);
  const after = parseDocument(current);
  edit(after);
  const whole = () => after.toString(WRITE);
  try {
    return spliced(current, before, after) ?? whole();
  } catch {
    // Something the splicing does not know (an alias into another entry, say): yaml's own output.
    return whole();
  }
}

/** The edited text as splices of `current`, or undefined where only yaml's whole document will do. */
function spliced(current: string, before: Document, after: Document): string | undefined {
  const whole = () => undefined;
  if (before.errors.length || after.errors.length) return whole();
  const seqBefore = before.get("customers", true);
  const seqAfter = after.get("customers", true);
  if (!isSeq(seqBefore) || !isSeq(seqAfter) || seqBefore.flow || !sameOutside(before, after)) return whole();

  const idOf = (n: unknown) => (isMap(n) ? n.get("id") : undefined);
  const beforeItems = seqBefore.items as unknown[];
  const afterItems = seqAfter.items as unknown[];
  const ids = beforeItems.map(idOf);
  if (ids.some((id) => typeof id !== "string") || beforeItems.some((n) => !(n as Node).range)) return whole();
  const kept = afterItems.slice(0, beforeItems.length);
  // Entries stay where they were, none removed; new ones only after them.
  if (afterItems.length < beforeItems.length || kept.some((n, i) => idOf(n) !== ids[i])) return whole();

  const splices: Splice[] = [];
  for (let i = 0; i < beforeItems.length; i++) {
    const b = beforeItems[i] as YAMLMap;
    const a = kept[i] as YAMLMap;
    if (same(b, a)) continue;
    const inPlace = mapSplices(current, b, a);
    splices.push(...(inPlace ?? [itemSplice(current, b, a)]));
  }
  const added = afterItems.slice(beforeItems.length);
  if (added.length) {
    const last = beforeItems[beforeItems.length - 1] as Node | undefined;
    if (!last) return whole();
    const end = last.range![2];
    const { dash, content } = itemColumns(current, last.range![0]);
    // Entries separated by a blank line get one before the new ones too.
    const blank =
      beforeItems.length > 1 && /(^|\n)[ \t]*\n/.test(current.slice((beforeItems[beforeItems.length - 2] as Node).range![2], (last as Node).range![0]));
    const lead = current[end - 1] === "\n" ? "" : "\n";
    const text = added.map((n) => `${blank ? "\n" : ""}${" ".repeat(dash)}-${" ".repeat(content - dash - 1)}${block(n as Node, content)}`).join("");
    splices.push({ from: end, to: end, text: lead + text });
  }
  return apply(current, splices);
}

interface Splice {
  from: number;
  to: number;
  text: string;
}

function apply(text: string, splices: Splice[]): string {
  let out = text;
  // From the end; at one offset the later-made first, so that the text keeps the order they were made in.
  const order = splices.map((s, i) => ({ s, i })).sort((x, y) => y.s.from - x.s.from || y.i - x.i);
  for (const { s } of order) out = out.slice(0, s.from) + s.text + out.slice(s.to);
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(toJSON(a)) === JSON.stringify(toJSON(b));
}

function toJSON(n: unknown): unknown {
  return n && typeof n === "object" && "toJSON" in n ? (n as { toJSON(): unknown }).toJSON() : n;
}

/** Everything but the customer list is the same before and after. */
function sameOutside(before: Document, after: Document): boolean {
  const strip = (d: Document) => {
    const js = d.toJS() as Record<string, unknown> | null;
    if (!js || typeof js !== "object") return js;
    const { customers: _customers, ...rest } = js;
    return rest;
  };
  return JSON.stringify(strip(before)) === JSON.stringify(strip(after)) && String(before.commentBefore ?? "") === String(after.commentBefore ?? "");
}

/** The changes of one block map as splices of its own text, or undefined where only a rewrite will do. */
function mapSplices(text: string, b: YAMLMap, a: YAMLMap): Splice[] | undefined {
  if (!b.range) return undefined;
  // A key set by an edit may be a plain string, one read from the file a Scalar.
  const key = (p: Pair) => (isScalar(p.key) ? String(p.key.value) : typeof p.key === "string" ? p.key : undefined);
  const bPairs = b.items as Pair[];
  const aPairs = a.items as Pair[];
  if (bPairs.some((p) => key(p) === undefined) || aPairs.some((p) => key(p) === undefined)) return undefined;
  // Keys stay in their order, none removed; new ones only after them.
  if (aPairs.length < bPairs.length || bPairs.some((p, i) => key(aPairs[i]) !== key(p))) return undefined;
  const splices: Splice[] = [];
  for (let i = 0; i < bPairs.length; i++) {
    const bv = bPairs[i].value as Node | null;
    const av = aPairs[i].value as Node | null;
    if (same(bv, av)) continue;
    if (isScalar(bv) && isScalar(av) && bv.range && bv.range[0] < bv.range[1] && !BLOCK.has(String(bv.type))) {
      const written = scalarText(av);
      // In a flow map a comma, bracket or `#` would end the value: the entry is written anew.
      if (written === undefined || ((b.flow || a.flow) && /[[\]{},#]/.test(written))) return undefined;
      splices.push(scalarSplice(text, bv.range, written));
      continue;
    }
    if (isMap(bv) && isMap(av)) {
      const inner = mapSplices(text, bv, av);
      if (!inner) return undefined;
      splices.push(...inner);
      continue;
    }
    return undefined;
  }
  const added = aPairs.slice(bPairs.length);
  if (added.length && (b.flow || a.flow)) return undefined;
  if (added.length) {
    const lastPair = bPairs[bPairs.length - 1];
    const lastValue = lastPair?.value as Node | null;
    const lastKey = lastPair?.key as Node | null;
    if (!lastKey?.range) return undefined;
    // The end of the last pair: its value's node end (a trailing comment included), else its key's.
    const end = lastValue?.range ? lastValue.range[2] : lastKey.range[2];
    const indent = columnOf(text, lastKey.range[0]);
    // The start of the line after the last pair's.
    const lineEnd = text[end - 1] === "\n" ? end - 1 : text.indexOf("\n", end);
    const at = lineEnd === -1 ? text.length : lineEnd + 1;
    const lead = text[at - 1] === "\n" ? "" : "\n";
    splices.push({ from: at, to: at, text: lead + added.map((p) => " ".repeat(indent) + block(pairMap(p), indent)).join("") });
  }
  return splices;
}

/**
 * A scalar's new text over its old one; a comment after it on the same line stays in its column
 * (one space at least).
 */
function scalarSplice(text: string, range: [number, number, number], written: string): Splice {
  const [from, to] = range;
  const gap = /^([ \t]+)#/.exec(text.slice(to));
  if (!gap) return { from, to, text: written };
  const spaces = Math.max(1, gap[1].length + (to - from) - written.length);
  return { from, to: to + gap[1].length, text: written + " ".repeat(spaces) };
}

/** An entry written anew in its place (from after the `- ` to its end). */
function itemSplice(text: string, b: YAMLMap, a: YAMLMap): Splice {
  const [from, , to] = b.range!;
  const written = block(a as Node, columnOf(text, from));
  return { from, to, text: text[to - 1] === "\n" ? written : written.replace(/\n$/, "") };
}

/** A scalar as yaml writes it on its own, or undefined where that takes more than one line. */
function scalarText(n: Node): string | undefined {
  // Its comments stay where they are in the file: only the value is written.
  const c = n.clone() as Node;
  c.comment = undefined;
  c.commentBefore = undefined;
  // Its anchor and tag are in the file before the range written.
  c.anchor = undefined;
  c.tag = undefined;
  const d = new Document();
  d.contents = c;
  const s = d.toString(WRITE).replace(/\n$/, "");
  return s.includes("\n") ? undefined : s;
}

/** One pair as a map of its own, to write as lines. */
function pairMap(p: Pair): Node {
  const d = new Document({});
  const m = d.contents as YAMLMap;
  m.items.push(p);
  return m;
}

/**
 * A node written as a block at column `indent` (its first line without the indent), ending in a
 * newline. Its comment above, anchor and tag stay where the file has them (before the range written).
 */
function block(n: Node, indent: number): string {
  const c = n.clone() as Node;
  c.commentBefore = undefined;
  c.anchor = undefined;
  const d = new Document();
  d.contents = c;
  const lines = d.toString(WRITE).replace(/\n$/, "").split("\n");
  return lines.map((l, i) => (i === 0 || l === "" ? l : " ".repeat(indent) + l)).join("\n") + "\n";
}

/** Block scalars (`|`, `>`): their text runs to the next line of lesser indent, so they are written with their entry. */
const BLOCK = new Set(["BLOCK_LITERAL", "BLOCK_FOLDED"]);

/** The columns of a list item's `-` and of its content, from its content's offset. */
function itemColumns(text: string, offset: number): { dash: number; content: number } {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  const content = offset - lineStart;
  const dash = text.lastIndexOf("-", offset - 1) - lineStart;
  return { dash: dash >= 0 ? dash : content - 2, content };
}

function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf("\n", offset - 1) + 1);
}
