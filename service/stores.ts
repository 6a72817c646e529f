import { InvalidInput } from "../core/errors";
import { redactUrl, type JobStore } from "./jobs";

/** `--database`: `sqlite:FILE` (the default, one replica) or `postgres://…` (several). */
export async function openJobStore(url: string): Promise<JobStore> {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresJobStore } = await import("./postgres.js");
    return PostgresJobStore.open(url);
  }
  if (url.startsWith("sqlite:")) {
    const { SqliteJobStore } = await import("./sqlite.js");
    return SqliteJobStore.open(url.slice("sqlite:".length));
  }
  throw new InvalidInput(`--database ${redactUrl(url)}: not sqlite:FILE or postgres://USER@HOST:PORT/DB`);
}
