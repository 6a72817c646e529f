import type { Document, LineCounter, YAMLError } from "yaml";

/** A key of a data path: a mapping key or a list index. */
export type PathKey = string | number;

/**
 * A YAML syntax error as a problem: the library's first sentence, without its own trailing
 * position; a quote left open is placed where it opened, not at the end of the file.
 */
export function yamlSyntaxProblem(e: YAMLError, text: string): { line?: number; column?: number; message: string } {
  let line = e.linePos?.[0].line;
  let column = e.linePos?.[0].col;
  let message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  const open = /^Missing closing (["'])quote/.exec(message);
  if (open && line !== undefined) {
    const lines = text.split("\n");
    for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
      const at =
        lines[i].indexOf(`: ${open[1]}`) >= 0
          ? lines[i].indexOf(`: ${open[1]}`) + 2
          : lines[i].indexOf(`- ${open[1]}`) >= 0
            ? lines[i].indexOf(`- ${open[1]}`) + 2
            : -1;
      if (at >= 0 && (lines[i].slice(at + 1).split(open[1]).length - 1) % 2 === 0) {
        line = i + 1;
        column = at + 1;
        message = `the ${open[1] === '"' ? "double" : "single"} quote opened here is never closed`;
        break;
      }
    }
  }
  const flow = /end with a ([\]}])/.exec(message);
  if (flow && line !== undefined) {
    // An unclosed [ or { is placed where it opened: the nearest line above with more openers than closers.
    const [opener, closer] = flow[1] === "]" ? ["[", "]"] : ["{", "}"];
    const lines = text.split("\n");
    for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
      const l = lines[i];
      if (l.split(opener).length > l.split(closer).length) {
        line = i + 1;
        column = l.lastIndexOf(opener) + 1;
        message = `the ${opener} opened here is never closed with ${closer}`;
        break;
      }
    }
  }
  return { line, column, message: `YAML syntax: ${message}` };
}

/** Maps a data path to the line/column of the nearest node that exists in the document. */
export function yamlLocator(doc: Document, lc: LineCounter) {
  return (path: PathKey[]): { line?: number; column?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const pos = lc.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
}

/**
 * A problem placed in its file: `:line:column: text` (the file name goes before it), or the text
 * alone where the place is not known. Errors that list problems under a file name join the two
 * with nothing between them for the first kind, ": " for the second (`withFile`).
 */
export function placed(pos: { line?: number; column?: number }, text: string): string {
  return pos.line !== undefined ? `:${pos.line}:${pos.column ?? 1}: ${text}` : text;
}

/** `file` and a problem made by `placed`: `file:12:3: text` or `file: text`. */
export function withFile(file: string, problem: string): string {
  return problem.startsWith(":") ? `${file}${problem}` : `${file}: ${problem}`;
}
