import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";

/**
 * What a mistyped `word` most likely meant among `candidates`: the closest one, when it is within
 * two edits or a third of the word's length (a swap of two letters is two), and fewer edits than
 * the word has letters; else undefined.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const d = distance(word.toLowerCase(), best.toLowerCase());
  return d <= Math.max(2, Math.floor(word.length / 3)) && d < word.length ? best : undefined;
}

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; in?: z.ZodType; valueType?: z.ZodType };

/** The keys an object schema allows at `path` inside `schema` (through arrays, optionals, defaults and pipes), or [] where none is an object. */
export function keysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  const unwrap = () => {
    for (let d = def(s); s && (d.innerType || d.in); d = def(s)) s = d.innerType ?? d.in;
  };
  for (const step of path) {
    unwrap();
    const d = def(s);
    s = d.type === "object" ? d.shape?.[String(step)] : d.type === "array" ? d.element : d.type === "record" ? d.valueType : undefined;
    if (!s) return [];
  }
  unwrap();
  const d = def(s);
  return d.type === "object" && d.shape ? Object.keys(d.shape) : [];
}

function def(s: z.ZodType | undefined): Def {
  return ((s as unknown as { _zod?: { def: Def } } | undefined)?._zod?.def ?? { type: "unknown" }) as Def;
}
