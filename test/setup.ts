// Runs in every test file: what the file made under the temp folder goes when the file ends.
import { afterAll } from "vitest";
import { removeTempDirs } from "./tmp";

afterAll(removeTempDirs);
