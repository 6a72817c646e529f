// Runs in every test file: what the file made under the temp folder goes when the file ends.
import { afterAll } from "vitest";
import { removeTempDirs, tempDir } from "./tmp";

// The credential helper's and `intake token`'s cache: the file's own, never the user's.
process.env.INTAKE_CREDENTIAL_CACHE = tempDir("credential-cache-");

afterAll(removeTempDirs);
