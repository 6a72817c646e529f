// Runs in every test file: what the file made under the temp folder goes when the file ends.
import { afterAll } from "vitest";
import { removeTempDirs, tempPath } from "./tmp";

// The credential helper's and `intake token`'s cache: the file's own, never the user's (made by
// the cache on first use, so a file whose tests are all skipped makes none).
process.env.INTAKE_CREDENTIAL_CACHE = tempPath("credential-cache-");

afterAll(removeTempDirs);
